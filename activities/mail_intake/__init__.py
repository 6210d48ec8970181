"""Mail intake: IMAP mailboxes read into AP runs and approval replies."""
