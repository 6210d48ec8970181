"""Raw RFC 5322 mails as suppliers and approvers send them, for tests of mail intake.

Every builder returns the bytes a mailbox would hold; Authentication-Results headers come first,
topmost first, as receiving servers prepend them. Message ids are unique unless given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

ExtraAttachment = tuple[str, str, bytes]
"""An attachment that is not a PDF invoice: file name, content type, bytes."""


def authentication_results(
    authserv_id: str,
    *,
    domain: str,
    dmarc: str = "pass",
    spf: str = "pass",
    dkim: str = "pass",
) -> str:
    """An Authentication-Results value as a receiving server writes it for mail from `domain`."""
    return (
        f"{authserv_id}; dkim={dkim} (2048-bit key) header.d={domain} header.s=mail; "
        f"spf={spf} (domain of bounce@{domain} designates 192.0.2.1 as permitted sender) "
        f"smtp.mailfrom=bounce@{domain}; dmarc={dmarc} (p=REJECT sp=REJECT dis=NONE) "
        f"header.from={domain}"
    )


def invoice_mail(
    sender: str,
    to: str,
    subject: str,
    pdfs: Sequence[tuple[str, bytes]],
    *,
    message_id: str | None = None,
    body: str = "Dear customer,\n\nplease find our invoice attached.\n\nKind regards",
    authentication_results: Sequence[str] | None = None,
    extra_attachments: Sequence[ExtraAttachment] = (),
) -> bytes:
    """A supplier's mail with PDF attachments (and any others)."""
    message = _message(sender, to, subject, message_id, authentication_results)
    message.set_content(body)
    for filename, data in pdfs:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    for filename, content_type, data in extra_attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=policy.SMTP)


def reply_mail(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    in_reply_to: str | None = None,
    references: Sequence[str] | None = None,
    authentication_results: Sequence[str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """An approver's reply; References default to the id it answers."""
    message = _message(sender, to, subject, message_id, authentication_results)
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
    chain = list(references) if references is not None else [in_reply_to] if in_reply_to else []
    if chain:
        message["References"] = " ".join(chain)
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def plain_mail(
    sender: str,
    to: str,
    subject: str,
    body: str = "Hello,\n\njust a note.",
    *,
    message_id: str | None = None,
    authentication_results: Sequence[str] | None = None,
    attachments: Sequence[ExtraAttachment] = (),
    html: str | None = None,
) -> bytes:
    """A mail with a text body (and an HTML alternative or attachments when given)."""
    message = _message(sender, to, subject, message_id, authentication_results)
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=policy.SMTP)


def _message(
    sender: str,
    to: str,
    subject: str,
    message_id: str | None,
    results: Sequence[str] | None,
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    for value in results or ():
        message["Authentication-Results"] = value
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain=_domain(sender))
    return message


def _domain(address: str) -> str:
    return address.rpartition("@")[2].rstrip(">") or "example.org"
