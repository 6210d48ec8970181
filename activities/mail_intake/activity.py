"""The intake activities: list a mailbox's unseen messages, and take some of them in.

Taking a message in is: fetch it (without marking it seen), record it by Message-ID and content
hash, judge it (an approval reply, an invoice with its documents, or unidentified with a
reason), act on it (start the AP run, apply the reply, or only keep the reason), and only then
mark it seen and move it to the processed folder. Every step can run again after a crash: the
record says what was done, and the AP run's id comes from the record's key.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.directory import DirectoryActivities
from activities.mail_intake.imap_mailbox import (
    ImapMailbox,
    MailboxError,
    MailboxLoginRefused,
    MessageSummary,
)
from activities.mail_intake.invoices import ap_input, start_mailed_invoice, store_documents
from activities.mail_intake.mailbox_settings import MailboxContext, mailbox_context
from activities.mail_intake.message_parsing import ParsedMessage, UnreadableMessage, parse_message
from activities.mail_intake.message_records import (
    find_by_uid,
    find_record,
    mark_filed,
    mark_handled,
    new_record,
    record_message,
)
from activities.mail_intake.replies import ReplyMatch, apply_reply, match_reply
from activities.mail_intake.screening import format_size, screen_message
from activities.storage import ObjectStore, StorageError
from config.secrets import SecretResolver
from config.settings import Settings
from db.tables import MailMessageRow
from models.ap_invoice import ap_workflow_id
from models.mail import Screening
from models.mailboxes import (
    MailboxRef,
    MessageOutcome,
    PhaseTimes,
    TakeInRequest,
    TakeInResult,
    UnseenMessage,
    UnseenMessages,
    mail_transaction_id,
    message_key,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 50 * 2**20
"""A message larger than this is recorded as unidentified without being downloaded."""


class _Phases:
    """Seconds per phase, added up over the messages of one call."""

    def __init__(self) -> None:
        self.times = PhaseTimes()

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            setattr(self.times, phase, getattr(self.times, phase) + elapsed)


@dataclass(frozen=True)
class _Fetched:
    """A message as intake read it: its hash, bytes and parse, or the verdict already known."""

    content_hash: str
    raw: bytes
    parsed: ParsedMessage | None
    screening: Screening | None


def _mailbox_failure(error: MailboxError) -> ApplicationError:
    return ApplicationError(
        str(error),
        type=type(error).__name__,
        non_retryable=isinstance(error, MailboxLoginRefused),
    )


def _outcome(
    uid: int, record: MailMessageRow, filed: bool = False, acted: bool = False
) -> MessageOutcome:
    """The outcome a handled record tells; `acted` when this attempt handled it."""
    handling = {
        "invoice": "started" if acted else "already_started",
        "approval_reply": "reply_applied" if record.reason_code is None else "reply_refused",
    }.get(record.classification, "unidentified")
    return MessageOutcome(
        uid=uid,
        handling=handling,
        classification=record.classification,
        reason_code=record.reason_code,
        reason=record.reason,
        workflow_id=record.workflow_id,
        filed=filed,
    )


class MailIntakeActivities:
    """Mail intake, built once per worker with the settings, database, storage and secrets."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        secrets: SecretResolver,
        *,
        client: Callable[[], Client] = activity.client,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._store = store
        self._secrets = secrets
        self._client = client
        self._directory = DirectoryActivities(sessions)
        self._max_message_bytes = max_message_bytes

    async def _context(self, org: str, mailbox_id: int) -> MailboxContext:
        return await mailbox_context(
            self._sessions,
            self._secrets,
            org,
            mailbox_id,
            self._settings.storage.max_attachment_bytes,
        )

    @activity.defn(name="list_unseen_messages")
    async def list_unseen_messages(self, ref: MailboxRef) -> UnseenMessages:
        """The mailbox's unseen messages, oldest first, at most its batch size."""
        context = await self._context(ref.org, ref.mailbox_id)
        limit = ref.limit or context.row.batch_size
        try:
            async with ImapMailbox(context.account) as mailbox:
                found = await mailbox.unseen(limit)
                validity = mailbox.uid_validity
        except MailboxError as error:
            raise _mailbox_failure(error) from error
        logger.info("mailbox %s of %s has %d unseen", context.row.name, ref.org, len(found))
        return UnseenMessages(
            mailbox=context.row.name,
            uid_validity=validity,
            messages=[UnseenMessage(uid=item.uid, size=item.size) for item in found],
            batch_size=limit,
        )

    @activity.defn(name="take_in_messages")
    async def take_in_messages(self, request: TakeInRequest) -> TakeInResult:
        """Take each message in: record, act, file; heartbeats after each."""
        context = await self._context(request.org, request.mailbox_id)
        phases = _Phases()
        outcomes: list[MessageOutcome] = []
        try:
            async with ImapMailbox(context.account) as mailbox:
                if mailbox.uid_validity != request.uid_validity:
                    raise ApplicationError(
                        "the mailbox's UIDs changed since it was listed (UIDVALIDITY)",
                        type="MailboxChanged",
                    )
                for message in request.messages:
                    summary = MessageSummary(uid=message.uid, size=message.size)
                    outcomes.append(await self._take_in(context, mailbox, summary, phases))
                    activity.heartbeat(len(outcomes))
        except MailboxError as error:
            raise _mailbox_failure(error) from error
        return TakeInResult(outcomes=outcomes, phases=phases.times)

    async def _take_in(
        self,
        context: MailboxContext,
        mailbox: ImapMailbox,
        summary: MessageSummary,
        phases: _Phases,
    ) -> MessageOutcome:
        fetched = await self._fetch(context, mailbox, summary, phases)
        if fetched is None:
            return await self._gone(context, mailbox.uid_validity, summary.uid)
        parsed = fetched.parsed
        key = message_key(parsed.message_id if parsed else None, fetched.content_hash)
        with phases.timing("record"):
            record = await find_record(self._sessions, context.row.org_id, key)
        acted = False
        if record is None or record.state == "recorded":
            with phases.timing("parse"):
                reply = (
                    await match_reply(self._sessions, context.row.org_id, parsed)
                    if parsed
                    else None
                )
                screening = fetched.screening or await self._screen(parsed, reply, context)
            if record is None:
                with phases.timing("record"):
                    record = await record_message(
                        self._sessions,
                        new_record(
                            org=context.row.org_id,
                            mailbox_id=context.id,
                            key=key,
                            message_id=parsed.message_id if parsed else None,
                            content_hash=fetched.content_hash,
                            size=summary.size,
                            uid_validity=mailbox.uid_validity,
                            uid=summary.uid,
                            sender=parsed.sender_address if parsed else None,
                            subject=parsed.subject if parsed else None,
                            sent_at=parsed.date if parsed else None,
                            classification=screening.classification,
                        ),
                    )
            if record.state == "recorded":
                await self._act(context, record, fetched.raw, parsed, reply, screening, phases)
                acted = True
        with phases.timing("file"):
            filed = await mailbox.file(summary.uid)
            assert record.id is not None
            await mark_filed(self._sessions, record.id)
        return _outcome(summary.uid, record, filed, acted)

    async def _fetch(
        self,
        context: MailboxContext,
        mailbox: ImapMailbox,
        summary: MessageSummary,
        phases: _Phases,
    ) -> _Fetched | None:
        """The message as read, or None when it left the folder. A message too large to
        download is not fetched: it is known by its place in the mailbox and judged by its size."""
        if summary.size > self._max_message_bytes:
            identity = f"{context.id}:{summary.uid}:{summary.size}".encode()
            reason = (
                f"the message is {format_size(summary.size)}; messages over "
                f"{format_size(self._max_message_bytes)} are not downloaded"
            )
            too_large = Screening(
                classification="unidentified", reason="attachment_too_large", reason_text=reason
            )
            return _Fetched(hashlib.sha256(identity).hexdigest(), b"", None, too_large)
        with phases.timing("fetch"):
            raw = await mailbox.fetch(summary.uid)
        if raw is None:
            return None
        with phases.timing("parse"):
            parsed = self._parse(raw, context)
        return _Fetched(hashlib.sha256(raw).hexdigest(), raw, parsed, None)

    async def _gone(self, context: MailboxContext, uid_validity: int, uid: int) -> MessageOutcome:
        """A message no longer in the folder: filed by an attempt that died before it said so
        (its record is marked filed now), or removed by someone else."""
        record = await find_by_uid(self._sessions, context.id, uid_validity, uid)
        if record is None or record.id is None or record.state == "recorded":
            logger.info("message %s left %s before it was taken in", uid, context.row.name)
            return MessageOutcome(uid=uid, handling="vanished")
        await mark_filed(self._sessions, record.id)
        return _outcome(uid, record, filed=True)

    def _parse(self, raw: bytes, context: MailboxContext) -> ParsedMessage | None:
        try:
            return parse_message(
                raw,
                max_attachment_bytes=context.screening.max_attachment_bytes,
                max_attachments=context.screening.max_attachments,
            )
        except UnreadableMessage as error:
            logger.info("an unreadable message in %s: %s", context.row.name, error)
            return None

    async def _screen(
        self, parsed: ParsedMessage | None, reply: ReplyMatch | None, context: MailboxContext
    ) -> Screening:
        if parsed is None:
            return Screening(
                classification="unidentified",
                reason="unreadable_message",
                reason_text="the message could not be read as an email",
            )
        if reply is not None:
            if reply.approval is not None:
                return Screening(classification="approval_reply")
            return Screening(
                classification="unidentified",
                reason="no_matching_approval",
                reason_text=f"reply token {reply.unmatched_token} matches no approval request",
            )
        return await screen_message(parsed, context.screening)

    async def _act(
        self,
        context: MailboxContext,
        record: MailMessageRow,
        raw: bytes,
        parsed: ParsedMessage | None,
        reply: ReplyMatch | None,
        screening: Screening,
        phases: _Phases,
    ) -> None:
        assert record.id is not None
        org = context.row.org_id
        if parsed is not None and screening.classification == "invoice":
            transaction_id = mail_transaction_id(org, record.message_key)
            try:
                with phases.timing("store"):
                    keys = await store_documents(
                        self._store, org, transaction_id, raw, parsed, screening.documents
                    )
                with phases.timing("start"):
                    run = ap_input(
                        org, transaction_id, keys, parsed, context.owner, context.row.name
                    )
                    await start_mailed_invoice(
                        self._client(), self._settings.task_queues().workflows, run
                    )
            except (StorageError, RPCError) as error:
                raise ApplicationError(
                    f"the invoice could not be stored or started: {error}", type="IntakeDeferred"
                ) from error
            await mark_handled(
                self._sessions,
                record,
                classification="invoice",
                reason_code=None,
                reason=None,
                transaction_id=transaction_id,
                workflow_id=ap_workflow_id(org, transaction_id),
            )
            return
        if parsed is not None and reply is not None and reply.approval is not None:
            with phases.timing("reply"):
                outcome = await apply_reply(
                    self._client(), self._directory, reply.approval, parsed, context.screening
                )
            await mark_handled(
                self._sessions,
                record,
                classification="approval_reply",
                reason_code=outcome.reason_code,
                reason=outcome.reason,
                workflow_id=outcome.workflow_id,
            )
            return
        await mark_handled(
            self._sessions,
            record,
            classification="unidentified",
            reason_code=screening.reason,
            reason=screening.reason_text,
        )
