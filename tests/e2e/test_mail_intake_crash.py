"""A worker killed in the middle of a mail intake batch: the new worker finishes the batch, every
message is recorded and filed once, and every invoice mail has exactly one AP run.

The product's workers run as one real `python -m worker --queues workflows,io,documents` process
on the session's Temporal server, with the test's own SQLite copy of the demo database, local
files and the test SMTP server. acme's mailbox on the session's Dovecot server holds 30 unread
messages in chunks of three: an unidentified mail (a note without attachment, an invoice from an
unknown sender, or a spoofed supplier mail), an invoice mail from the demo supplier, and another
unidentified one.

The worker is frozen (SIGSTOP) for a few milliseconds at a time while it takes an invoice mail
in, until it is caught in the narrowest window of intake: the invoice's AP run exists on the
server while the message's record still says only `recorded`. There it is SIGKILLed, with the
`take_in_messages` attempt in flight, and a new worker process starts. acme's template gives the
step a 2 s heartbeat timeout and a fixed 200 ms retry, so the dead worker's attempt is retried
within seconds: the retry finds the first message of the chunk already filed, starts the
invoice's run again under the same id (which finds the existing one) and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from config.settings import Settings
from db.engine import create_engine, session_factory, session_scope
from db.tables import MailboxRow, MailMessageRow, ProcessTemplate
from models.ap_invoice import PROCESS_NAME as AP_PROCESS
from models.ap_invoice import ap_workflow_id
from models.mailboxes import MailIntakeInput, MailIntakeResult, mail_intake_workflow_id
from starter.demo_data import AP_CLERK
from tests.e2e.worker_process import WorkerProcess
from tests.harness.dovecot import DovecotServer, ImapUser
from tests.harness.mime_messages import plain_mail
from tests.workflows.leave_scenarios import person
from tests.workflows.mail_scenarios import (
    INBOX_ADDRESS,
    SUPPLIER,
    Sessions,
    add_mailbox,
    invoice_message,
    supplier_results,
)
from workflows.mail_intake import MailIntakeWorkflow

logger = logging.getLogger(__name__)

ORG = "acme"
INVOICES = 10
CHUNK_SIZE = 3
TOTAL = INVOICES * CHUNK_SIZE
RECORDED_BEFORE_THE_CRASH = 4
"""The worker is caught on an invoice only after intake recorded at least this many messages."""
RECOVERY_TIMEOUT_S = 40.0
CATCH_TIMEOUT_S = 30.0
FAST_TAKE_IN = {
    "steps": {
        "take_in": {
            "heartbeat_timeout": "2s",
            "attempt_timeout": "20s",
            "retry": {"interval": "200ms", "backoff": "fixed"},
        }
    }
}
"""acme's override: a dead worker's attempt misses its heartbeat after 2 s and is retried."""
UNIDENTIFIED_KINDS = ("no_attachment", "unknown_sender", "spoofed_sender")

Handle = WorkflowHandle[MailIntakeWorkflow, MailIntakeResult]


@pytest.fixture
async def sessions(crash_database: str) -> AsyncIterator[Sessions]:
    """Sessions on the test's own copy of the demo database (the worker's database too)."""
    engine = create_engine(crash_database)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def mailbox(
    sessions: Sessions, dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> MailboxRow:
    """acme's mailbox on Dovecot, its invoices started for Priya; acme's quick take-in step."""
    priya = await person(sessions, AP_CLERK.email)
    row = await add_mailbox(
        sessions,
        dovecot.host,
        dovecot.port,
        imap_user.name,
        imap_user.password,
        tmp_path / "secrets",
        owner_id=priya.id,
    )
    async with session_scope(sessions) as session:
        session.add(
            ProcessTemplate(
                org_id=ORG, process="mail_intake", body_yaml=yaml.safe_dump(FAST_TAKE_IN)
            )
        )
    return row


def inbox(token: str) -> tuple[list[bytes], dict[str, str]]:
    """The 30 messages in delivery order, and what intake should make of each, by Message-ID:
    `invoice`, or the reason code of an unidentified mail."""
    messages: list[bytes] = []
    expected: dict[str, str] = {}
    for number in range(INVOICES):
        for place in range(CHUNK_SIZE):
            kind = "invoice" if place == 1 else UNIDENTIFIED_KINDS[(2 * number + place // 2) % 3]
            message_id = f"<{kind}-{number}-{token}@mail.test>"
            suffix = f"-mc{token}-{kind[:2]}{number}"
            if kind == "invoice":
                raw = invoice_message(suffix, message_id=message_id)
            elif kind == "unknown_sender":
                raw = invoice_message(
                    suffix, sender=f"ap{number}@unknown.example", message_id=message_id
                )
            elif kind == "spoofed_sender":
                spoofed = supplier_results(dmarc="fail", spf="fail", dkim="fail")
                raw = invoice_message(suffix, authentication_results=spoofed, message_id=message_id)
            else:
                raw = plain_mail(
                    SUPPLIER, INBOX_ADDRESS, f"Statement {number}", message_id=message_id
                )
            messages.append(raw)
            expected[message_id] = kind
    return messages, expected


async def records(sessions: Sessions, mailbox_id: int) -> list[MailMessageRow]:
    """What intake recorded for the mailbox, oldest first."""
    async with sessions() as session:
        query = select(MailMessageRow).where(MailMessageRow.mailbox_id == mailbox_id)
        return list((await session.exec(query.order_by(col(MailMessageRow.id)))).all())


async def run_exists(client: Client, workflow_id: str) -> bool:
    """Whether the server knows a run with this id."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def _invoice_in_hand(found: list[MailMessageRow]) -> MailMessageRow | None:
    """The invoice mail intake recorded but has not handled yet, once enough came before it."""
    if len(found) <= RECORDED_BEFORE_THE_CRASH:
        return None
    return next(
        (row for row in found if row.classification == "invoice" and row.state == "recorded"),
        None,
    )


def _working_folders(settings: Settings) -> set[str]:
    """The transaction ids that have an AP working folder in the test's local storage."""
    folders = Path(settings.storage.local_root, ORG, AP_PROCESS)
    return {path.name for path in folders.iterdir()} if folders.is_dir() else set()


async def _run_no_record_names(
    client: Client, settings: Settings, found: list[MailMessageRow]
) -> str | None:
    """An AP run intake started (its working folder holds the mail) that no record names yet."""
    stored = await asyncio.to_thread(_working_folders, settings)
    named = {row.transaction_id for row in found}
    for transaction_id in sorted(stored - named):
        if await run_exists(client, ap_workflow_id(ORG, transaction_id)):
            return ap_workflow_id(ORG, transaction_id)
    return None


async def freeze_between_run_start_and_record(
    worker: WorkerProcess, client: Client, settings: Settings, sessions: Sessions, mailbox: int
) -> tuple[MailMessageRow, str]:
    """Leave the worker frozen at a moment when intake has started an invoice mail's AP run
    while the mail's record still says `recorded`; that record and the run's id.

    While intake holds an invoice mail, the worker is frozen for a look and let go for a
    moment, again and again, until a look finds the run started and the record unchanged.
    """
    deadline = time.monotonic() + CATCH_TIMEOUT_S
    found: list[MailMessageRow] = []
    while time.monotonic() < deadline:
        found = await records(sessions, mailbox)
        if _invoice_in_hand(found) is None:
            if len(found) == TOTAL:
                break
            await asyncio.sleep(0.002)
            continue
        while True:
            worker.freeze()
            found = await records(sessions, mailbox)
            held = _invoice_in_hand(found)
            if held is None:
                worker.thaw()
                break
            started = await _run_no_record_names(client, settings, found)
            if started is not None:
                return held, started
            worker.thaw()
            await asyncio.sleep(0.0005)
    raise AssertionError(
        f"the worker was never caught with an invoice's run started and its record not yet "
        f"updated ({len(found)} recorded: {Counter(row.state for row in found)}); "
        f"worker log:\n{worker.log()[-3000:]}"
    )


async def take_in_attempt_in_flight(handle: Handle) -> int:
    """The attempt of the run's `take_in_messages` activity the server sees as started."""
    description = await handle.describe()
    started = [
        pending.attempt
        for pending in description.raw_description.pending_activities
        if pending.activity_type.name == "take_in_messages"
        and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    ]
    assert started, f"no take_in_messages attempt in flight: {description.raw_description}"
    return started[0]


async def last_attempts(handle: Handle) -> dict[str, int]:
    """The highest attempt each activity of the run completed on, by activity name."""
    events = (await handle.fetch_history()).events
    names = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in events
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    attempts: dict[str, int] = {}
    for event in events:
        if event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            name = names[started.scheduled_event_id]
            attempts[name] = max(attempts.get(name, 0), started.attempt)
    return attempts


async def ap_runs_on_queue(client: Client, queue: str, expected: int) -> list[str]:
    """The ids of the AP runs on the test's queue, once the server lists at least `expected`."""
    query = f"WorkflowType = 'ApInvoiceWorkflow' AND TaskQueue = '{queue}'"
    deadline = time.monotonic() + 10
    while True:
        found = [execution.id async for execution in client.list_workflows(query)]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_a_worker_killed_while_taking_mail_in_leaves_no_duplicates_and_misses_nothing(
    worker: WorkerProcess,
    mailbox: MailboxRow,
    sessions: Sessions,
    crash_settings: Settings,
    temporal_client: Client,
    dovecot: DovecotServer,
    imap_user: ImapUser,
) -> None:
    assert mailbox.id is not None
    messages, expected = inbox(uuid.uuid4().hex[:6])
    dovecot.append_many(imap_user.name, imap_user.password, "INBOX", messages)
    queue = crash_settings.task_queues().workflows
    await worker.start()
    handle: Handle = await temporal_client.start_workflow(
        MailIntakeWorkflow.run,
        MailIntakeInput(org=ORG, mailbox_id=mailbox.id, chunk_size=CHUNK_SIZE),
        id=f"{mail_intake_workflow_id(ORG, mailbox.id)}-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
    )

    # The worker dies after starting an invoice's run, before its record says so.
    held, started = await freeze_between_run_start_and_record(
        worker, temporal_client, crash_settings, sessions, mailbox.id
    )
    await worker.kill()
    at_kill = await records(sessions, mailbox.id)
    logger.info(
        "killed with %d of %d recorded, holding %s with %s started",
        len(at_kill),
        TOTAL,
        held.message_id,
        started,
    )
    assert RECORDED_BEFORE_THE_CRASH < len(at_kill) < TOTAL
    assert await take_in_attempt_in_flight(handle) == 1
    began = time.monotonic()
    await worker.start()
    result = await asyncio.wait_for(handle.result(), RECOVERY_TIMEOUT_S)
    logger.info(
        "intake completed %.1fs after the new worker started: %s",
        time.monotonic() - began,
        result,
    )

    attempts = await last_attempts(handle)
    assert attempts["take_in_messages"] > 1, attempts
    kept = await records(sessions, mailbox.id)
    assert len(kept) == TOTAL
    assert {row.message_id: row.reason_code or row.classification for row in kept} == expected
    assert all(row.state == "filed" for row in kept), Counter(row.state for row in kept)
    unidentified = [row for row in kept if row.classification == "unidentified"]
    assert all(row.reason and row.workflow_id is None for row in unidentified)
    invoices = [row for row in kept if row.classification == "invoice"]
    run_ids = sorted({str(row.workflow_id) for row in invoices if row.workflow_id})
    assert len(run_ids) == INVOICES, [row.workflow_id for row in invoices]
    for workflow_id in run_ids:
        description = await temporal_client.get_workflow_handle(workflow_id).describe()
        assert (description.workflow_type, description.task_queue) == ("ApInvoiceWorkflow", queue)
    listed = await ap_runs_on_queue(temporal_client, queue, INVOICES)
    assert sorted(listed) == run_ids, (
        f"{len(listed)} AP runs for {INVOICES} invoice mails; named by no record: "
        f"{sorted(set(listed) - set(run_ids))}"
    )
    stored = await asyncio.to_thread(_working_folders, crash_settings)
    assert stored == {row.transaction_id for row in invoices}, "a mail was stored twice"
    [again] = [row for row in invoices if row.id == held.id]
    assert again.workflow_id == started, "the run started before the crash is not the mail's"

    assert dovecot.uids(imap_user.name, imap_user.password, "INBOX", unseen_only=True) == []
    assert len(dovecot.uids(imap_user.name, imap_user.password, "Processed")) == TOTAL
    assert result.seen == TOTAL, result
