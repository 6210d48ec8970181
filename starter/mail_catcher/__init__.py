"""The local mail catcher of `make dev`: keeps all outgoing mail and shows it in a web inbox."""

from starter.mail_catcher.catcher import CatchingHandler, MailCatcher, main, run_mail_catcher
from starter.mail_catcher.store import CaughtMessage, MailStore
from starter.mail_catcher.web import create_app

__all__ = [
    "CatchingHandler",
    "CaughtMessage",
    "MailCatcher",
    "MailStore",
    "create_app",
    "main",
    "run_mail_catcher",
]
