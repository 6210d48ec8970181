"""Notification email: render a template and send it over SMTP once per idempotency key.

At-least-once execution is made safe by a claim in the ``sent_email`` table:

1. Claim the key with an INSERT (state ``sending``). The primary key lets exactly one
   concurrent attempt win on SQLite (writers are serialised) and on PostgreSQL (the second
   INSERT waits on the first and then fails with a unique violation). The losers do not send.
2. A loser reads the row: ``sent`` means done (``sent=False``); ``sending`` means another
   attempt holds the claim, so it waits for that attempt to finish, or for the claim to go
   stale (the holder crashed) and takes it over with a compare-and-set UPDATE on the claim
   time, again a single winner. A taken-over claim re-sends with the stored Message-ID.
3. The holder sends within half the claim lease, so a live holder never overlaps a
   take-over, then marks the row ``sent``. A send that fails releases the claim (the row is
   deleted) so the next attempt sends at once.

For a row in ``sending``, ``created_at`` is the time the current claim was taken.

An email that asks for a decision, when `MailSettings.reply_address` names an intake mailbox,
carries a reply token in its subject (`[Baton #7K2M-9QXD-4RTB]`) and that mailbox as Reply-To;
the row keeps the token and the approval task, so mail intake can match the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
import jinja2
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.approval_links import ApprovalLinkClaims, approval_url, mint_approval_token
from config.settings import MailSettings, Settings
from db.engine import session_scope
from db.tables import SentEmail, utcnow
from models.mail import REPLY_TOKEN_ALPHABET, format_reply_token
from models.notifications import EmailRequest, EmailResult

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "email_templates"
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class RenderedEmail:
    """The three rendered parts of one email."""

    subject: str
    text: str
    html: str


def format_duration(value: Any) -> str:
    """A number of seconds as '1h 5m', '3m 20s' or '45s'; any other value as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    seconds = round(value)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{amount}{unit}" for amount, unit in parts if amount][:2]
    return " ".join(shown) or "0s"


def is_given(value: Any) -> bool:
    """Template test `x is given`: defined, not None and not empty text."""
    return not isinstance(value, jinja2.Undefined) and value is not None and value != ""


class EmailTemplates:
    """The email templates of a folder, loaded once and rendered strictly.

    An event ``name`` has ``name.subject.txt``, ``name.txt`` and ``name.html``; files whose
    names start with ``_`` are layouts and macros. HTML is autoescaped, text is not.
    """

    def __init__(self, folder: Path = TEMPLATES_DIR) -> None:
        sources = {
            path.name: path.read_text("utf-8") for path in folder.iterdir() if path.is_file()
        }
        self._env = jinja2.Environment(
            loader=jinja2.DictLoader(sources),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._env.filters["duration"] = format_duration
        self._env.tests["given"] = is_given
        for name in sources:
            self._env.get_template(name)
        self.events = sorted(
            name.removesuffix(".subject.txt")
            for name in sources
            if name.endswith(".subject.txt") and _EVENT_NAME.fullmatch(name[: -len(".subject.txt")])
        )

    def render(self, event: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Subject, text and HTML of the event's templates; a bad template is non-retryable."""
        if not _EVENT_NAME.fullmatch(event):
            raise _template_error(f"invalid email template name {event!r}")
        try:
            subject = self._env.get_template(f"{event}.subject.txt").render(context)
            text = self._env.get_template(f"{event}.txt").render(context)
            html = self._env.get_template(f"{event}.html").render(context)
        except jinja2.TemplateNotFound as exc:
            raise _template_error(f"no email template {exc.name!r} for event {event!r}") from exc
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise _template_error(f"email template {event!r} failed: {exc}") from exc
        text = _BLANK_LINES.sub("\n\n", text).strip() + "\n"
        return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)


def _template_error(message: str) -> ApplicationError:
    return ApplicationError(message, type="EmailTemplateError", non_retryable=True)


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID of the email sent for a key: the same for every attempt."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def envelope_recipients(request: EmailRequest) -> list[str]:
    """The addresses of To and Cc, each once (case-insensitive), in order; blanks skipped."""
    seen: set[str] = set()
    recipients: list[str] = []
    for entry in [*request.to, *request.cc]:
        if not entry.strip():
            continue
        address = _address_of(entry)
        if address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    if not recipients:
        raise ApplicationError(
            f"email {request.idempotency_key!r} has no recipients",
            type="NoRecipients",
            non_retryable=True,
        )
    return recipients


def _address_of(entry: str) -> str:
    """The bare address of 'a@b.example' or 'Name <a@b.example>'; anything else is refused."""
    address = parseaddr(entry)[1]
    local, _, domain = address.rpartition("@")
    if (
        "\r" in entry
        or "\n" in entry
        or not local
        or not domain
        or any(c.isspace() for c in address)
    ):
        raise ApplicationError(
            f"not an email address: {entry!r}", type="InvalidRecipient", non_retryable=True
        )
    return address


@dataclass(frozen=True)
class _Claim:
    key: str
    message_id: str
    claimed_at: datetime


@dataclass(frozen=True)
class _ReplyByMail:
    """An approval email's reply token, its subject tag, and where replies go."""

    token: str
    tag: str
    address: str
    approval: dict[str, Any]


def reply_token_for(secret_key: str, idempotency_key: str) -> str:
    """The reply token of the email sent for a key: 12 Crockford base32 characters (60 bits),
    unguessable without the secret and the same for every attempt."""
    digest = hmac.new(
        secret_key.encode(), b"baton.reply-token.v1:" + idempotency_key.encode(), hashlib.sha256
    ).digest()
    number = int.from_bytes(digest[:8], "big") >> 4
    return "".join(REPLY_TOKEN_ALPHABET[(number >> shift) & 31] for shift in range(55, -1, -5))


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class NotifyActivities:
    """Email activities, built once per worker with the settings and the database."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        templates: EmailTemplates | None = None,
        claim_lease: timedelta | None = None,
    ) -> None:
        self._mail: MailSettings = settings.mail
        self._settings = settings
        self._sessions = sessions
        self._templates = templates or EmailTemplates()
        self._claim_lease = claim_lease or timedelta(seconds=4 * self._mail.smtp_timeout_seconds)
        self._envelope_sender = parseaddr(self._mail.sender)[1] or self._mail.sender
        self._domain = self._envelope_sender.rpartition("@")[2] or "baton.localhost"

    @activity.defn(name="send_email")
    async def send_email(self, request: EmailRequest) -> EmailResult:
        """Render the event's templates and send the email, unless its key already went out."""
        recipients = envelope_recipients(request)
        reply = self._reply_by_mail(request)
        reply_to = reply.address if reply else request.reply_to
        rendered = self._templates.render(request.event, self._context(request, reply))
        if reply is not None:
            rendered = replace(rendered, subject=f"{rendered.subject} {reply.tag}")
        outcome = await self._acquire(
            request.idempotency_key,
            message_id_for(request.idempotency_key, self._domain),
            recipients,
            rendered.subject,
            reply,
        )
        if isinstance(outcome, EmailResult):
            logger.info(
                "email %s was already sent as %s", request.idempotency_key, outcome.message_id
            )
            return outcome
        try:
            message = self._compose(request, rendered, outcome.message_id, reply_to)
            async with asyncio.timeout(self._claim_lease.total_seconds() / 2):
                await self._deliver(message, recipients)
        except BaseException:
            await self._release(outcome)
            raise
        await self._mark_sent(outcome)
        logger.info(
            "sent email %s (%s) to %d recipient(s) as %s",
            request.idempotency_key,
            request.event,
            len(recipients),
            outcome.message_id,
        )
        return EmailResult(message_id=outcome.message_id, sent=True, recipients=recipients)

    def _reply_by_mail(self, request: EmailRequest) -> _ReplyByMail | None:
        """How the approver may answer by reply, when the email asks for a decision and an
        intake mailbox takes replies: the subject tag and where replies go."""
        if request.approval_links is None or not self._mail.reply_address:
            return None
        token = reply_token_for(self._settings.secret_key(), request.idempotency_key)
        return _ReplyByMail(
            token=token,
            tag=format_reply_token(token),
            address=self._mail.reply_address,
            approval=request.approval_links.model_dump(mode="json"),
        )

    def _context(self, request: EmailRequest, reply: _ReplyByMail | None) -> dict[str, Any]:
        """The template context, with freshly minted approval links when asked for."""
        spec = request.approval_links
        if spec is None:
            return dict(request.context)
        secret, public_url = self._settings.secret_key(), self._settings.api.public_url
        links: dict[str, Any] = {}
        for action in ("approve", "reject", "review"):
            claims = ApprovalLinkClaims(
                **spec.model_dump(exclude={"expires_at"}),
                action=action,
                expires_at=int(spec.expires_at.timestamp()),
            )
            token = mint_approval_token(secret, claims)
            links[f"{action}_url"] = approval_url(public_url, token)
        return {**request.context, **links, "reply_by_mail": reply is not None}

    def _compose(
        self, request: EmailRequest, rendered: RenderedEmail, message_id: str, reply_to: str | None
    ) -> EmailMessage:
        message = EmailMessage()
        try:
            message["From"] = self._mail.sender
            for header, entries in (("To", request.to), ("Cc", request.cc)):
                if any(entry.strip() for entry in entries):
                    message[header] = ", ".join(entry for entry in entries if entry.strip())
            if reply_to:
                message["Reply-To"] = reply_to
            message["Subject"] = rendered.subject
            message["Date"] = formatdate(usegmt=True)
            message["Message-ID"] = message_id
            message["Auto-Submitted"] = "auto-generated"
            message["X-Baton-Event"] = request.event
        except ValueError as exc:
            raise ApplicationError(
                f"email {request.idempotency_key!r} has an invalid header: {exc}",
                type="InvalidEmail",
                non_retryable=True,
            ) from exc
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    async def _deliver(self, message: EmailMessage, recipients: list[str]) -> None:
        mail = self._mail
        password = mail.smtp_password.get_secret_value() if mail.smtp_password else None
        refused, _ = await aiosmtplib.send(
            message,
            sender=self._envelope_sender,
            recipients=recipients,
            hostname=mail.smtp_host,
            port=mail.smtp_port,
            username=mail.smtp_username or None,
            password=password if mail.smtp_username else None,
            use_tls=mail.smtp_security == "tls",
            start_tls=mail.smtp_security == "starttls",
            timeout=mail.smtp_timeout_seconds,
        )
        if refused:
            logger.warning(
                "SMTP server refused %s for %s", ", ".join(sorted(refused)), message["Message-ID"]
            )

    async def _acquire(
        self,
        key: str,
        message_id: str,
        recipients: list[str],
        subject: str,
        reply: _ReplyByMail | None = None,
    ) -> _Claim | EmailResult:
        """Claim the key, or learn that it went out; waits while another attempt holds it."""
        while True:
            claimed_at = utcnow()
            if await self._insert_claim(key, message_id, recipients, subject, claimed_at, reply):
                return _Claim(key, message_id, claimed_at)
            async with self._sessions() as session:
                row = await session.get(SentEmail, key)
            if row is None:
                continue
            if row.state == "sent":
                return EmailResult(message_id=row.message_id, sent=False, recipients=row.recipients)
            if _as_utc(row.created_at) <= claimed_at - self._claim_lease:
                if await self._take_over(key, claimed_at):
                    logger.warning("email %s was left unsent by an attempt: re-sending", key)
                    return _Claim(key, row.message_id, claimed_at)
                continue
            if activity.in_activity():
                activity.heartbeat("waiting for another attempt sending the same email")
            await asyncio.sleep(_POLL_SECONDS)

    async def _insert_claim(
        self,
        key: str,
        message_id: str,
        recipients: list[str],
        subject: str,
        claimed_at: datetime,
        reply: _ReplyByMail | None,
    ) -> bool:
        row = SentEmail(
            key=key,
            message_id=message_id,
            recipients=recipients,
            subject=subject[:500],
            state="sending",
            created_at=claimed_at,
            reply_token=reply.token if reply else None,
            approval=reply.approval if reply else None,
        )
        try:
            async with session_scope(self._sessions) as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    async def _take_over(self, key: str, claimed_at: datetime) -> bool:
        statement = (
            update(SentEmail)
            .where(col(SentEmail.key) == key)
            .where(col(SentEmail.state) == "sending")
            .where(col(SentEmail.created_at) <= claimed_at - self._claim_lease)
            .values(created_at=claimed_at)
        )
        async with session_scope(self._sessions) as session:
            result = await session.exec(statement)
        return bool(result.rowcount == 1)

    async def _mark_sent(self, claim: _Claim) -> None:
        statement = (
            update(SentEmail)
            .where(col(SentEmail.key) == claim.key)
            .values(state="sent", sent_at=utcnow())
        )
        async with session_scope(self._sessions) as session:
            result = await session.exec(statement)
        if result.rowcount != 1:
            logger.warning("email %s went out but its record was gone", claim.key)

    async def _release(self, claim: _Claim) -> None:
        statement = (
            delete(SentEmail)
            .where(col(SentEmail.key) == claim.key)
            .where(col(SentEmail.state) == "sending")
            .where(col(SentEmail.created_at) == claim.claimed_at)
        )
        try:
            async with session_scope(self._sessions) as session:
                await session.exec(statement)
        except Exception:
            logger.exception("could not release the claim on email %s", claim.key)
