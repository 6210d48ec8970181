"""Whether a mail (not an approval reply) is an invoice to process, and if not, why, in words
a person can act on; and what ties a reply mail to its approval.

The checks run in a fixed order and the first that fails decides: forged sender, attachment too
large, too many attachments, no attachment, no PDF, sender not at a supplier's domain, the org's
screening rules (every one must hold). A mail that passes has its PDFs told apart (invoice, PO,
GRN); one whose PDFs hold no invoice is refused as `no_attachment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from activities.mail_intake.attachment_kinds import NoInvoiceAttachment, classify_attachments
from activities.mail_intake.message_parsing import ParsedMessage
from activities.mail_intake.sender_checks import (
    read_authentication_results,
    sender_domain_known,
    sender_spoofed,
)
from models.mail import (
    REPLY_TOKEN_PATTERN,
    MailAttachment,
    ReplyReference,
    Screening,
    ScreeningRule,
    ScreeningVariable,
    UnidentifiedReason,
)

_RULE_SAMPLE_CHARS = 80


@dataclass(frozen=True)
class ScreeningContext:
    """An org's screening settings: its rules, its suppliers' domains and the mail limits."""

    rules: list[ScreeningRule] = field(default_factory=list)
    supplier_domains: frozenset[str] = frozenset()
    trusted_authserv_ids: list[str] = field(default_factory=list)
    require_authentication: bool = False
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_attachments: int = 10


async def screen_message(message: ParsedMessage, context: ScreeningContext) -> Screening:
    """Classify a mail as an invoice (with its documents) or as unidentified (with the reason)."""
    refused = screening_failure(message, context)
    if refused is not None:
        return refused
    try:
        documents = await classify_attachments(message.attachments)
    except NoInvoiceAttachment as error:
        return _unidentified("no_attachment", str(error))
    return Screening(classification="invoice", documents=documents)


def spoofing(message: ParsedMessage, context: ScreeningContext) -> str | None:
    """Why the sender looks forged, by the trusted Authentication-Results; None if it does not."""
    verdict = read_authentication_results(
        message.authentication_results, context.trusted_authserv_ids
    )
    return sender_spoofed(
        verdict,
        require_authentication=context.require_authentication,
        from_domain=message.sender_domain,
    )


def screening_failure(message: ParsedMessage, context: ScreeningContext) -> Screening | None:
    """The first check the mail fails, as an unidentified screening; None when all pass."""
    spoofed = spoofing(message, context)
    if spoofed is not None:
        return _unidentified("spoofed_sender", f"the sender looks forged: {spoofed}")
    attachments = [attachment for attachment, _ in message.attachments]
    oversized = next((attachment for attachment in attachments if attachment.oversized), None)
    if oversized is not None:
        return _unidentified(
            "attachment_too_large",
            f"attachment {oversized.filename} is {format_size(oversized.size)}; "
            f"the limit is {format_size(context.max_attachment_bytes)}",
        )
    if len(attachments) > context.max_attachments:
        return _unidentified(
            "too_many_attachments",
            f"the mail has {len(attachments)} attachments; the limit is {context.max_attachments}",
        )
    if not attachments:
        return _unidentified(
            "no_attachment", "the mail has no attachment; an invoice must be attached as a PDF"
        )
    if not any(attachment.is_pdf for attachment in attachments):
        return _unidentified("not_a_pdf", _not_a_pdf_text(attachments))
    return _sender_failure(message, context) or _rule_failure(message, context.rules)


def _sender_failure(message: ParsedMessage, context: ScreeningContext) -> Screening | None:
    if message.sender_address is None:
        return _unidentified("unknown_sender", "the mail has no readable sender address")
    domain = message.sender_domain
    if domain is None or not sender_domain_known(domain, context.supplier_domains):
        return _unidentified(
            "unknown_sender",
            f"sender {message.sender_address} is not from a known supplier domain",
        )
    return None


def _rule_failure(message: ParsedMessage, rules: list[ScreeningRule]) -> Screening | None:
    for rule in rules:
        values = rule_values(message, rule.variable)
        if not rule.holds(values):
            return _unidentified("screening_rule", _rule_text(rule, values))
    return None


def rule_values(message: ParsedMessage, variable: ScreeningVariable) -> list[str]:
    """A mail's values of a screening rule's variable (one per attachment for names)."""
    if variable == "subject":
        return [message.subject]
    if variable == "sender_address":
        return [message.sender_address or ""]
    if variable == "sender_domain":
        return [message.sender_domain or ""]
    if variable == "body":
        return [message.body_text]
    if variable == "attachment_name":
        return [attachment.filename for attachment, _ in message.attachments]
    has_pdf = any(attachment.is_pdf for attachment, _ in message.attachments)
    return ["true" if has_pdf else "false"]


def reply_reference(message: ParsedMessage) -> ReplyReference:
    """The Baton reply token in the subject (`[Baton #7K2M-9QXD-4RTB]`) and the message ids the
    mail answers: In-Reply-To, then References from the newest."""
    match = REPLY_TOKEN_PATTERN.search(message.subject)
    referenced: list[str] = []
    for message_id in [*message.in_reply_to, *reversed(message.references)]:
        if message_id not in referenced:
            referenced.append(message_id)
    token = match.group(1).upper() if match else None
    return ReplyReference(token=token, referenced_ids=referenced)


def format_size(size: int) -> str:
    """A byte count as people read it: `31.2 MB`, `20 MB`, `512 KB`, `80 bytes` (1 KB = 1024)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _not_a_pdf_text(attachments: list[MailAttachment]) -> str:
    named = [
        f"{attachment.filename} (named .pdf, but not a PDF file)"
        if attachment.filename.casefold().endswith(".pdf")
        else attachment.filename
        for attachment in attachments
    ]
    return f"no attachment is a PDF: {', '.join(named)}"


def _rule_text(rule: ScreeningRule, values: list[str]) -> str:
    """The failed rule in words, with the mail's value (never the body) for comparison."""
    text = f"the mail does not meet the screening rule: {rule.describe()}"
    if rule.variable in ("body", "has_pdf_attachment"):
        return text
    label = rule.variable.replace("_", " ") + ("s" if rule.variable == "attachment_name" else "")
    shown = [f"'{value[:_RULE_SAMPLE_CHARS]}'" for value in values if value]
    return f"{text} ({label}: {', '.join(shown) or 'none'})"


def _unidentified(reason: UnidentifiedReason, text: str) -> Screening:
    return Screening(classification="unidentified", reason=reason, reason_text=text)
