"""Caught mail kept as `.eml` files in one folder: save, list, read and clear."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, parsedate_to_datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

_ID = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{8}")
_ID_TIME = "%Y%m%dT%H%M%S%fZ"


class CaughtMessage(BaseModel):
    """One caught message, decoded for people and scripts."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    received: datetime
    from_: str = Field(alias="from")
    to: list[str]
    cc: list[str]
    envelope_from: str | None
    envelope_to: list[str]
    subject: str
    date: datetime | None
    message_id: str | None
    text: str | None
    html: str | None
    headers: list[tuple[str, str]]
    size: int


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(value) for value in message.get_all(header, [])]
    return [formataddr(pair) for pair in getaddresses(values) if pair[1]]


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        content = payload.decode("utf-8", "replace")
    return content.replace("\r\n", "\n")


def _date(message: EmailMessage) -> datetime | None:
    value = message.get("Date")
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None


def parse_message(message_id: str, raw: bytes) -> CaughtMessage:
    """A stored message's fields, headers and text and HTML parts."""
    message = message_from_bytes(raw, policy=policy.default)
    envelope_to = str(message.get("X-RcptTo", ""))
    return CaughtMessage(
        id=message_id,
        received=datetime.strptime(message_id[:22], _ID_TIME).replace(tzinfo=UTC),
        from_=str(message.get("From", "")),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        envelope_from=str(message["X-MailFrom"]) if "X-MailFrom" in message else None,
        envelope_to=[address.strip() for address in envelope_to.split(",") if address.strip()],
        subject=str(message.get("Subject", "")),
        date=_date(message),
        message_id=str(message["Message-ID"]) if "Message-ID" in message else None,
        text=_part_text(message, "plain"),
        html=_part_text(message, "html"),
        headers=[(name, str(value)) for name, value in message.items()],
        size=len(raw),
    )


class MailStore:
    """A folder of caught messages, one `<received time>-<random>.eml` file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, raw: bytes, *, mail_from: str | None, rcpt_tos: list[str]) -> str:
        """Keep a message with its envelope (as X-MailFrom and X-RcptTo headers); its id."""
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = f"{datetime.now(UTC).strftime(_ID_TIME)}-{secrets.token_hex(4)}"
        envelope = f"X-MailFrom: {mail_from or ''}\r\nX-RcptTo: {', '.join(rcpt_tos)}\r\n"
        partial = self.folder / f".{message_id}.partial"
        partial.write_bytes(envelope.encode("utf-8") + raw)
        partial.replace(self._path(message_id))
        return message_id

    def ids(self) -> list[str]:
        """The ids of the stored messages, newest first."""
        if not self.folder.is_dir():
            return []
        found = (path.stem for path in self.folder.glob("*.eml") if _ID.fullmatch(path.stem))
        return sorted(found, reverse=True)

    def raw(self, message_id: str) -> bytes | None:
        """A message as stored, or None when there is no such message."""
        if not _ID.fullmatch(message_id):
            return None
        try:
            return self._path(message_id).read_bytes()
        except FileNotFoundError:
            return None

    def get(self, message_id: str) -> CaughtMessage | None:
        """A message, decoded, or None when there is no such message."""
        raw = self.raw(message_id)
        return None if raw is None else parse_message(message_id, raw)

    def messages(self, limit: int | None = None) -> list[CaughtMessage]:
        """The stored messages, newest first."""
        found = [self.get(message_id) for message_id in self.ids()[:limit]]
        return [message for message in found if message is not None]

    def delete(self, message_id: str) -> bool:
        """Forget one message; False when there was no such message."""
        if not _ID.fullmatch(message_id):
            return False
        try:
            self._path(message_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def clear(self) -> int:
        """Forget every message; how many there were."""
        return sum(self.delete(message_id) for message_id in self.ids())

    def _path(self, message_id: str) -> Path:
        return self.folder / f"{message_id}.eml"
