"""The Temporal Schedule of each mailbox: it starts a `MailIntakeWorkflow` run every
`interval_seconds`, skips a start while a run is still going, and is paused while the mailbox
is disabled. The database is the truth; these functions bring Temporal in line with it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from config.settings import Settings
from config.temporal_names import ORG, PROCESS
from db.tables import MailboxRow
from models.mailboxes import (
    PROCESS_NAME,
    MailIntakeInput,
    mail_intake_schedule_id,
    mail_intake_workflow_id,
)

logger = logging.getLogger(__name__)

WORKFLOW_TYPE = "MailIntakeWorkflow"
MEMO_MAILBOX = "mailbox"
MEMO_MAILBOX_ID = "mailbox_id"
MEMO_ADDRESS = "mailbox_address"
MIN_CATCHUP_WINDOW = timedelta(minutes=1)
"""A poll missed while Temporal was down is made up once it is back, if within this window
(or the interval, when longer); older ones are dropped: one run reads everything unseen."""


def _attributes(org: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [SearchAttributePair(ORG, org), SearchAttributePair(PROCESS, PROCESS_NAME)]
    )


def _note(mailbox: MailboxRow) -> str:
    if mailbox.enabled:
        return f"Checks mailbox {mailbox.name!r} every {mailbox.interval_seconds} s"
    return (
        f"Paused: mailbox {mailbox.name!r} is disabled in Baton "
        f"(enable it with PUT /mailboxes/{mailbox.id} to resume)"
    )


def mailbox_schedule(settings: Settings, mailbox: MailboxRow) -> Schedule:
    """The schedule a mailbox's settings call for."""
    assert mailbox.id is not None
    every = timedelta(seconds=mailbox.interval_seconds)
    action = ScheduleActionStartWorkflow(
        WORKFLOW_TYPE,
        MailIntakeInput(org=mailbox.org_id, mailbox_id=mailbox.id),
        id=mail_intake_workflow_id(mailbox.org_id, mailbox.id),
        task_queue=settings.task_queues().workflows,
        memo={
            MEMO_MAILBOX: mailbox.name,
            MEMO_MAILBOX_ID: mailbox.id,
            MEMO_ADDRESS: mailbox.address,
        },
        typed_search_attributes=_attributes(mailbox.org_id),
        static_summary=f"Mail intake of {mailbox.name} <{mailbox.address}>",
    )
    return Schedule(
        action=action,
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, MIN_CATCHUP_WINDOW)
        ),
        state=ScheduleState(paused=not mailbox.enabled, note=_note(mailbox)),
    )


async def sync_mailbox_schedule(client: Client, settings: Settings, mailbox: MailboxRow) -> None:
    """Create the mailbox's schedule, or bring an existing one in line with the mailbox."""
    assert mailbox.id is not None
    schedule_id = mail_intake_schedule_id(mailbox.org_id, mailbox.id)
    schedule = mailbox_schedule(settings, mailbox)
    attributes = _attributes(mailbox.org_id)
    try:
        await client.create_schedule(
            schedule_id,
            schedule,
            memo={MEMO_MAILBOX_ID: mailbox.id},
            search_attributes=attributes,
        )
        logger.info("created schedule %s (%s)", schedule_id, _note(mailbox))
        return
    except ScheduleAlreadyRunningError:
        pass

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule, search_attributes=attributes)

    await client.get_schedule_handle(schedule_id).update(replace)
    logger.info("updated schedule %s (%s)", schedule_id, _note(mailbox))


async def delete_mailbox_schedule(client: Client, org: str, mailbox_id: int) -> None:
    """Remove a mailbox's schedule; one that is not there is fine."""
    schedule_id = mail_intake_schedule_id(org, mailbox_id)
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        logger.info("schedule %s was already gone", schedule_id)
        return
    logger.info("deleted schedule %s", schedule_id)


async def _is_ours(client: Client, settings: Settings, schedule_id: str) -> bool:
    """Whether a schedule starts runs on this deployment's workflow queue."""
    try:
        description = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    action = description.schedule.action
    return (
        isinstance(action, ScheduleActionStartWorkflow)
        and action.workflow == WORKFLOW_TYPE
        and action.task_queue == settings.task_queues().workflows
    )


async def _remove_strays(client: Client, settings: Settings, kept: set[str]) -> int:
    """Delete this deployment's intake schedules of mailboxes the database no longer has."""
    query = f"{PROCESS.name} = '{PROCESS_NAME}'"
    removed = 0
    async for listed in await client.list_schedules(query=query):
        if listed.id in kept or not await _is_ours(client, settings, listed.id):
            continue
        try:
            await client.get_schedule_handle(listed.id).delete()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        logger.info("deleted schedule %s: its mailbox is not in the database", listed.id)
        removed += 1
    return removed


async def sync_all_schedules(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> int:
    """Bring every mailbox's schedule in line with the database (after a restore, at start-up)
    and remove this deployment's schedules of mailboxes that are gone; the number synced."""
    async with sessions() as session:
        order = (col(MailboxRow.org_id), col(MailboxRow.id))
        mailboxes = list((await session.exec(select(MailboxRow).order_by(*order))).all())
    kept: set[str] = set()
    for mailbox in mailboxes:
        assert mailbox.id is not None
        await sync_mailbox_schedule(client, settings, mailbox)
        kept.add(mail_intake_schedule_id(mailbox.org_id, mailbox.id))
    removed = await _remove_strays(client, settings, kept)
    logger.info("mail intake schedules: %d in step, %d stray removed", len(kept), removed)
    return len(kept)
