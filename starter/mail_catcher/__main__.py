"""`python -m starter.mail_catcher`: the local mail catcher."""

from starter.mail_catcher.catcher import main

main()
