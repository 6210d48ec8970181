"""Raw RFC 5322 mail read into what intake needs: sender, ids, text, attachments (pure).

Malformed mail is read as far as it goes: broken MIME, bad base64 and badly encoded headers
never raise; only a mail with nothing usable in it raises `UnreadableMessage`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from activities.file_types import PDF, sniff
from activities.storage.keys import safe_filename
from activities.text_normalise import email_domain
from models.mail import MailAttachment

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 100 * 1024
"""The longest body text kept (characters)."""
MAX_FILENAME_CHARS = 200
_MAX_HTML_CHARS = 1024 * 1024
_MESSAGE_ID = re.compile(r"<([^<>]*)>")
_SURROGATES = re.compile(r"[\udc80-\udcff]")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


class UnreadableMessage(ValueError):
    """The bytes hold nothing usable as a mail (no sender, id, subject or attachment)."""


@dataclass(frozen=True)
class ParsedMessage:
    """A mail as intake reads it; attachments carry their bytes (`b""` when oversized or past
    the attachment limit)."""

    message_id: str | None
    sender_address: str | None
    sender_name: str | None
    sender_domain: str | None
    subject: str
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]
    authentication_results: list[str]
    body_text: str
    attachments: list[tuple[MailAttachment, bytes]] = field(repr=False)
    content_hash: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def header(self, name: str) -> str | None:
        """The first header of that name, decoded and unfolded; None when absent."""
        wanted = name.casefold()
        return next((value for key, value in self.headers if key.casefold() == wanted), None)


def parse_message(raw: bytes, *, max_attachment_bytes: int, max_attachments: int) -> ParsedMessage:
    """Read a raw mail. Attachments over `max_attachment_bytes` keep their metadata with no
    bytes (`oversized`); past the first `max_attachments`, only metadata is kept."""
    if not raw.strip():
        raise UnreadableMessage("the mail is empty")
    try:
        message = message_from_bytes(raw, policy=policy.default)
    except Exception as error:  # the parser is lenient; this is the last line of defence
        raise UnreadableMessage(f"the mail could not be parsed: {error}") from error
    headers = tuple((name, _decode_header(name, value)) for name, value in message.raw_items())
    first = _first_headers(headers)
    address, name = _sender(first.get("from", ""))
    subject = first.get("subject", "")
    message_id = normalise_message_id(first.get("message-id", ""))
    body_text, attachments = _walk(message, max_attachment_bytes, max_attachments)
    if not (address or message_id or subject or attachments):
        raise UnreadableMessage("the mail has no sender, message id, subject or attachment")
    return ParsedMessage(
        message_id=message_id,
        sender_address=address,
        sender_name=name,
        sender_domain=email_domain(address) if address else None,
        subject=subject,
        date=_date(first.get("date", "")),
        in_reply_to=message_ids(first.get("in-reply-to", "")),
        references=message_ids(first.get("references", "")),
        authentication_results=[
            value for key, value in headers if key.casefold() == "authentication-results"
        ],
        body_text=body_text,
        attachments=attachments,
        content_hash=hashlib.sha256(raw).hexdigest(),
        headers=headers,
    )


def message_ids(value: str) -> list[str]:
    """The `<id>` message ids of a header value (In-Reply-To, References), normalised."""
    found = (normalise_message_id(f"<{match}>") for match in _MESSAGE_ID.findall(value))
    return [message_id for message_id in found if message_id]


def normalise_message_id(value: str) -> str | None:
    """A message id as `<local@domain>` without whitespace; None when there is none."""
    match = _MESSAGE_ID.search(value)
    text = match.group(1) if match else value
    text = _WHITESPACE.sub("", text)
    return f"<{text}>" if text else None


def _first_headers(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name.casefold(), value)
    return first


def _decode_header(name: str, raw: object) -> str:
    """A header value decoded (RFC 2047, raw 8-bit as UTF-8 or else Windows-1252) and unfolded."""
    text = _repair_8bit(str(raw))
    try:
        decoded = str(policy.default.header_factory(name, text))
    except Exception:  # a header the parser chokes on is kept as it came
        logger.debug("header %s kept undecoded", name, exc_info=True)
        decoded = text
    return _WHITESPACE.sub(" ", decoded).strip()


def _repair_8bit(text: str) -> str:
    """Raw 8-bit header bytes (held as surrogates) read as UTF-8, else as Windows-1252."""
    if not _SURROGATES.search(text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _sender(value: str) -> tuple[str | None, str | None]:
    """The first From address (lower case) and its display name."""
    if not value:
        return None, None
    for display_name, address in getaddresses([value]):
        local, at, domain = address.rpartition("@")
        if at and local and domain:
            return address.strip().lower(), display_name.strip() or None
    return None, None


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _walk(
    message: EmailMessage, max_attachment_bytes: int, max_attachments: int
) -> tuple[str, list[tuple[MailAttachment, bytes]]]:
    """The body text and the attachments of a mail's leaf parts."""
    plain: str | None = None
    html: str | None = None
    attachments: list[tuple[MailAttachment, bytes]] = []
    for part in _leaf_parts(message):
        try:
            data = _payload(part)
            if _is_attachment(part, data):
                keep = len(attachments) < max_attachments
                attachments.append(
                    _attachment(part, data, len(attachments), max_attachment_bytes, keep)
                )
            elif part.get_content_type() == "text/plain" and plain is None:
                plain = _text(part, data)
            elif part.get_content_type() == "text/html" and html is None:
                html = _text(part, data)
        except Exception:  # one broken part does not spoil the others
            logger.warning("a part of the mail could not be read", exc_info=True)
    body = (plain or "").replace("\r\n", "\n")
    if not body.strip() and html:
        body = html_to_text(html)
    return body[:MAX_BODY_CHARS], attachments


def _leaf_parts(message: Message) -> Iterator[Message]:
    try:
        for part in message.walk():
            if not part.is_multipart():
                yield part
    except Exception:
        logger.warning("the mail's MIME structure could not be walked to the end", exc_info=True)


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _is_attachment(part: Message, data: bytes) -> bool:
    """Attached files, and PDFs however they are attached (inline, octet-stream, unnamed)."""
    disposition = part.get_content_disposition()
    filename = _filename(part)
    if disposition not in (None, "inline"):
        return True
    if part.get_content_type() == "application/pdf":
        return True
    if filename and filename.casefold().endswith(".pdf"):
        return True
    maintype = part.get_content_maintype()
    if maintype == "text":
        return False
    if disposition is None and filename and maintype != "image":
        return True
    return maintype != "image" and _looks_like_pdf(data)


def _attachment(
    part: Message, data: bytes, index: int, max_bytes: int, keep: bool
) -> tuple[MailAttachment, bytes]:
    is_pdf = _looks_like_pdf(data)
    oversized = len(data) > max_bytes
    attachment = MailAttachment(
        filename=clean_filename(_filename(part), index, is_pdf),
        content_type=part.get_content_type(),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        is_pdf=is_pdf,
        oversized=oversized,
    )
    return attachment, data if keep and not oversized else b""


def _looks_like_pdf(data: bytes) -> bool:
    return sniff(data[:1024]) == PDF  # the PDF signature sits in the first kilobyte


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return _repair_8bit(name) if isinstance(name, str) else None


def clean_filename(name: str | None, index: int, is_pdf: bool) -> str:
    """A plain attachment name (no path, no control characters, at most 200 characters);
    unnamed attachments are called `attachment-<n>` (with `.pdf` for PDFs)."""
    default = f"attachment-{index + 1}" + (".pdf" if is_pdf else "")
    text = safe_filename(name or "", default=default)
    if len(text) <= MAX_FILENAME_CHARS:
        return text
    stem, dot, suffix = text.rpartition(".")
    if dot and stem and len(suffix) <= 16:
        return f"{stem[: MAX_FILENAME_CHARS - len(suffix) - 1].rstrip(' .')}.{suffix}"
    return text[:MAX_FILENAME_CHARS]


def _text(part: Message, data: bytes) -> str:
    """A text part's content in its declared charset, else UTF-8, else Windows-1252."""
    charset = part.get_content_charset() or "utf-8"
    for encoding in (charset, "utf-8"):
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", "replace")


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: no tags, scripts or styles; a line per block."""
    reader = _HtmlText()
    try:
        reader.feed(html[:_MAX_HTML_CHARS])
        reader.close()
    except Exception:  # HTMLParser is lenient; fall back to dropping tags
        return re.sub(r"<[^>]*>", " ", html[:_MAX_HTML_CHARS])
    return reader.text()


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset(
        {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._parts.append(data)

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self._parts).splitlines())
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
