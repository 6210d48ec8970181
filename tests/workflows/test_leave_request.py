"""The leave request on a real Temporal server with the real activities, SQLite and SMTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.leave import LeaveActivities
from config.settings import Settings, TemporalSettings
from config.temporal_names import ASSIGNEES, INITIATOR, QUEUE_ROLES, RUN_STATE, STAGE
from db.engine import session_factory
from db.tables import LeaveBalance, LeaveRecord
from models.approvals import (
    ClaimRequest,
    CommentRequest,
    DecisionRequest,
    ReassignRequest,
    WatchRequest,
    WithdrawRequest,
)
from models.leave import RecordLeave
from starter.demo_data import load_demo_data
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpInbox
from tests.harness.temporal import settled_history_length
from tests.workflows.leave_scenarios import (
    APPROVED,
    CLAIRE,
    EMMA,
    HANNAH,
    LIAM,
    NORA,
    OLIVER,
    QUIET,
    SOFIA,
    approve_path,
    decide,
    escalate_path,
    expire_path,
    person,
    reject_path,
    set_template,
    start_leave,
    wait_for_assignee,
    withdraw_path,
)
from worker import build_activity_deps, build_workers
from workflows.leave_request import LeaveRequestWorkflow


@dataclass
class LeaveEnv:
    """A client, the workflow queue of this test's workers, and the database."""

    client: Client
    queue: str
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def running_workers(
    client: Client, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[LeaveEnv]:
    """The demo data, and every worker of the product on queues of this test's own."""
    sessions = session_factory(engine)
    await load_demo_data(sessions)
    settings = settings.model_copy(
        update={"temporal": TemporalSettings(task_queue_prefix=f"leave-{uuid.uuid4().hex[:8]}-")}
    )
    deps = build_activity_deps(settings, sessions)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        async with AsyncExitStack() as stack:
            workers: list[Worker] = build_workers(client, QUEUE_ROLES, deps, executor)
            for worker in workers:
                await stack.enter_async_context(worker)
            yield LeaveEnv(client, settings.task_queues().workflows, sessions)


@pytest.fixture
async def leave_env(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine
) -> AsyncIterator[LeaveEnv]:
    async with running_workers(temporal_client, mail_settings, sqlite_engine) as env:
        yield env


async def balance(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    emma = await person(sessions, email)
    async with sessions() as session:
        query = select(LeaveBalance).where(
            LeaveBalance.user_id == emma.id, LeaveBalance.leave_type == "annual"
        )
        return (await session.exec(query)).one().days


async def records(sessions: async_sessionmaker[AsyncSession]) -> list[LeaveRecord]:
    async with sessions() as session:
        return list((await session.exec(select(LeaveRecord))).all())


def mails_to(inbox: SmtpInbox, email: str, subject_part: str) -> list[str]:
    return [m.subject for m in inbox.messages if email in m.rcpt_tos and subject_part in m.subject]


async def test_approved_request_deducts_the_balance_once_and_tells_the_initiator(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    before = await balance(env.sessions, EMMA)

    handle = await approve_path(env.client, env.queue, env.sessions)
    result = await handle.result()

    assert result.outcome == "approved"
    assert result.decided_by is not None and result.decided_by.email == HANNAH
    assert result.deducted_days == 3
    assert await balance(env.sessions, EMMA) == before - 3
    [record] = await records(env.sessions)
    assert (record.idempotency_key, record.days) == (handle.id, 3)
    again = await LeaveActivities(env.sessions).record_approved_leave(
        RecordLeave(
            idempotency_key=handle.id,
            org="acme",
            user_id=record.user_id,
            leave_type="annual",
            start=APPROVED[0],
            end=APPROVED[1],
            days=3,
            workflow_id=handle.id,
        )
    )
    assert not again.deducted
    assert await balance(env.sessions, EMMA) == before - 3
    assert len(await records(env.sessions)) == 1

    await smtp_inbox.wait_for(3)
    await asyncio.sleep(0.5)
    assert len(mails_to(smtp_inbox, LIAM, "Please decide")) == 1
    assert len(mails_to(smtp_inbox, HANNAH, "Please decide")) == 1
    assert len(mails_to(smtp_inbox, EMMA, "Approved")) == 1
    view = await handle.query(LeaveRequestWorkflow.view)
    assert view.outcome == "approved"
    assert view.details["balance_covers"] is True
    kinds = [(t.step, t.kind) for t in view.transitions]
    assert kinds == [
        ("manager", "assigned"),
        ("manager", "approved"),
        ("hr", "assigned"),
        ("hr", "approved"),
    ]
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(RUN_STATE) == "approved"
    assert attributes.get(INITIATOR) == EMMA
    assert not attributes.get(ASSIGNEES)


async def test_rejection_by_the_manager_ends_the_run_with_its_reason(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    before = await balance(env.sessions, EMMA)

    result = await (await reject_path(env.client, env.queue, env.sessions)).result()

    assert (result.outcome, result.reason) == ("rejected", "release week")
    assert await balance(env.sessions, EMMA) == before
    assert await records(env.sessions) == []
    await smtp_inbox.wait_for(2)
    assert len(mails_to(smtp_inbox, EMMA, "Rejected")) == 1
    assert mails_to(smtp_inbox, HANNAH, "") == []


async def test_rejection_by_hr_ends_the_run_with_its_reason(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    await set_template(env.sessions, QUIET, QUIET)
    handle = await start_leave(env.client, env.queue, await person(env.sessions, EMMA))
    await wait_for_assignee(handle, "manager", LIAM)
    await decide(handle, await person(env.sessions, LIAM))
    view = await wait_for_assignee(handle, "hr", HANNAH)
    assert view.details["balance_covers"] is True
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(STAGE) == "hr"
    assert attributes.get(ASSIGNEES) == [HANNAH]

    await decide(handle, await person(env.sessions, HANNAH), "reject", "no cover that week")

    result = await handle.result()
    assert (result.outcome, result.reason) == ("rejected", "no cover that week")
    assert result.decided_by is not None and result.decided_by.email == HANNAH
    assert await records(env.sessions) == []


async def test_the_initiator_withdraws_a_pending_request(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env

    handle = await withdraw_path(env.client, env.queue, env.sessions)

    result = await handle.result()
    assert (result.outcome, result.reason) == ("withdrawn", "plans changed")
    view = await handle.query(LeaveRequestWorkflow.view)
    assert view.tasks[0].status == "cancelled"
    await smtp_inbox.wait_for(2)
    assert len(mails_to(smtp_inbox, EMMA, "Withdrawn")) == 1


async def test_refused_requests_raise_and_write_nothing_to_the_history(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    await set_template(env.sessions, QUIET, QUIET)
    emma, liam = await person(env.sessions, EMMA), await person(env.sessions, LIAM)
    hannah, nora = await person(env.sessions, HANNAH), await person(env.sessions, NORA)
    handle = await start_leave(env.client, env.queue, emma)
    await wait_for_assignee(handle, "manager", LIAM)
    await smtp_inbox.wait_for(1)

    async def refused(update: object, request: object, reason: str) -> None:
        before = await settled_history_length(handle)
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await handle.execute_update(update, request)  # type: ignore[call-overload]
        assert reason in str(raised.value.cause), raised.value.cause
        assert await settled_history_length(handle) == before

    decide_ = LeaveRequestWorkflow.decide
    approve = "approve"
    await refused(decide_, DecisionRequest(actor=hannah, decision=approve), "only Liam Walker")
    await refused(decide_, DecisionRequest(actor=emma, decision=approve), "their own request")
    await refused(decide_, DecisionRequest(actor=liam, decision="reject"), "needs a comment")
    await refused(decide_, DecisionRequest(actor=nora, decision=approve), "another organisation")
    await refused(
        LeaveRequestWorkflow.withdraw, WithdrawRequest(actor=liam), "only the person who made"
    )
    await refused(
        LeaveRequestWorkflow.claim, ClaimRequest(actor=hannah), "may not claim the manager step"
    )

    await decide(handle, liam)
    await wait_for_assignee(handle, "hr", HANNAH)
    await refused(decide_, DecisionRequest(actor=liam, decision=approve), "already decided")

    await decide(handle, hannah)
    assert (await handle.result()).outcome == "approved"
    length = len((await handle.fetch_history()).events)
    with pytest.raises(RPCError, match="already completed"):
        await decide(handle, hannah)
    assert len((await handle.fetch_history()).events) == length


async def test_reminders_then_escalation_then_expiry_each_mail_once(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    handle = await expire_path(env.client, env.queue, env.sessions)

    view = await wait_for_assignee(handle, "manager", SOFIA, timeout=10)
    assert view.current is not None and view.current.escalation_level == 1
    result = await handle.result()

    assert result.outcome == "expired"
    await smtp_inbox.wait_for(6)
    await asyncio.sleep(1)
    assert len(mails_to(smtp_inbox, LIAM, "Please decide")) == 1
    assert len(mails_to(smtp_inbox, LIAM, "Reminder 1")) == 1
    assert len(mails_to(smtp_inbox, LIAM, "Reminder 2")) == 1
    assert len(mails_to(smtp_inbox, SOFIA, "Escalated to Sofia Rossi")) == 1
    assert len(mails_to(smtp_inbox, OLIVER, "Escalated to Oliver Grant")) == 1
    assert len(mails_to(smtp_inbox, EMMA, "Expired")) == 1
    deliveries = [(to, m.subject) for m in smtp_inbox.messages for to in m.rcpt_tos]
    assert len(deliveries) == len(set(deliveries)), deliveries  # nobody hears anything twice
    [ask] = [m for m in smtp_inbox.messages if "Please decide" in m.subject]
    assert ask.rcpt_tos == [LIAM]
    assert "/approvals/" in ask.text()  # the assignee's own decision links
    view = await handle.query(LeaveRequestWorkflow.view)
    kinds = [t.kind for t in view.transitions]
    assert kinds == ["assigned", "reminded", "reminded", "escalated", "escalated", "expired"]
    assert [p.email for p in view.transitions[3].assignees] == [SOFIA]


async def test_escalated_task_is_decided_by_the_managers_manager(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    handle = await escalate_path(env.client, env.queue, env.sessions)
    result = await handle.result()
    assert (result.outcome, result.reason) == ("rejected", "not this month")
    assert result.decided_by is not None and result.decided_by.email == SOFIA


async def test_reassign_claim_comment_and_watch_are_recorded(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    await set_template(env.sessions, QUIET, QUIET)
    emma, liam = await person(env.sessions, EMMA), await person(env.sessions, LIAM)
    sofia, claire = await person(env.sessions, SOFIA), await person(env.sessions, CLAIRE)
    oliver, hannah = await person(env.sessions, OLIVER), await person(env.sessions, HANNAH)
    handle = await start_leave(env.client, env.queue, emma)
    await wait_for_assignee(handle, "manager", LIAM)

    await handle.execute_update(
        LeaveRequestWorkflow.watch, WatchRequest(actor=emma, watcher=oliver)
    )
    await handle.execute_update(
        LeaveRequestWorkflow.reassign, ReassignRequest(actor=liam, to=sofia, reason="on leave")
    )
    await wait_for_assignee(handle, "manager", SOFIA)
    await handle.execute_update(
        LeaveRequestWorkflow.claim, ClaimRequest(actor=claire, reason="Sofia is away")
    )
    await handle.execute_update(
        LeaveRequestWorkflow.comment, CommentRequest(actor=claire, text="Is the release done?")
    )
    await decide(handle, claire)
    await wait_for_assignee(handle, "hr", HANNAH)
    await decide(handle, hannah)

    assert (await handle.result()).outcome == "approved"
    view = await handle.query(LeaveRequestWorkflow.view)
    moves = [(t.kind, t.actor.email if t.actor else None) for t in view.transitions[:4]]
    assert moves == [
        ("assigned", None),
        ("reassigned", LIAM),
        ("claimed", CLAIRE),
        ("approved", CLAIRE),
    ]
    assert view.transitions[1].reason == "on leave"
    assert [c.text for c in view.comments] == ["Is the release done?"]
    assert [w.email for w in view.watchers] == [OLIVER]
    await asyncio.sleep(1)
    assert len(mails_to(smtp_inbox, SOFIA, "Please decide")) == 1
    assert len(mails_to(smtp_inbox, OLIVER, "commented")) == 1
    assert len(mails_to(smtp_inbox, EMMA, "commented")) == 1
    assert len(mails_to(smtp_inbox, OLIVER, "Approved")) == 1


async def test_invalid_requests_end_before_any_step(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    emma = await person(env.sessions, EMMA)
    backwards = await start_leave(
        env.client, env.queue, emma, start=date(2027, 3, 5), end=date(2027, 3, 1)
    )
    unknown = await start_leave(env.client, env.queue, emma, leave_type="sabbatical")
    assert (await backwards.result()).outcome == "invalid"
    assert "unknown leave type" in (await unknown.result()).reason

    await (await approve_path(env.client, env.queue, env.sessions)).result()
    overlapping = await start_leave(
        env.client, env.queue, emma, start=APPROVED[1], end=date(2027, 2, 4)
    )
    result = await overlapping.result()
    assert result.outcome == "invalid"
    assert "overlaps approved leave" in result.reason


async def test_signals_pass_the_same_checks_and_refused_ones_are_ignored(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    await set_template(env.sessions, QUIET, QUIET)
    emma, liam = await person(env.sessions, EMMA), await person(env.sessions, LIAM)
    hannah = await person(env.sessions, HANNAH)
    handle = await start_leave(env.client, env.queue, emma)
    await wait_for_assignee(handle, "manager", LIAM)

    await handle.signal(
        LeaveRequestWorkflow.decide_signal, DecisionRequest(actor=hannah, decision="approve")
    )
    await handle.signal(
        LeaveRequestWorkflow.comment_signal, CommentRequest(actor=liam, text="fine by me")
    )
    await handle.signal(
        LeaveRequestWorkflow.decide_signal, DecisionRequest(actor=liam, decision="approve")
    )
    view = await wait_for_assignee(handle, "hr", HANNAH)

    decisions = [(t.step, t.actor.email) for t in view.transitions if t.actor]
    assert decisions == [("manager", LIAM)]
    assert [c.text for c in view.comments] == ["fine by me"]
    await handle.execute_update(LeaveRequestWorkflow.withdraw, WithdrawRequest(actor=emma))
    assert (await handle.result()).outcome == "withdrawn"


async def test_nothing_is_accepted_once_the_run_has_its_outcome(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine
) -> None:
    mail_down = mail_settings.model_copy(
        update={"mail": mail_settings.mail.model_copy(update={"smtp_port": free_port()})}
    )
    async with running_workers(temporal_client, mail_down, sqlite_engine) as env:
        await set_template(env.sessions, QUIET, QUIET)
        emma, liam = await person(env.sessions, EMMA), await person(env.sessions, LIAM)
        handle = await start_leave(env.client, env.queue, emma)
        await wait_for_assignee(handle, "manager", LIAM)
        await handle.execute_update(LeaveRequestWorkflow.withdraw, WithdrawRequest(actor=emma))

        # The completion notice is still being retried (mail is down): the run is open.
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await decide(handle, liam)
        assert "already ended (withdrawn)" in str(raised.value.cause)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                LeaveRequestWorkflow.comment, CommentRequest(actor=liam, text="too late")
            )
        assert (await handle.result()).outcome == "withdrawn"


async def test_the_manager_may_choose_the_hr_officer_and_hr_may_not_choose(
    leave_env: LeaveEnv, smtp_inbox: SmtpInbox
) -> None:
    env = leave_env
    await set_template(env.sessions, QUIET, QUIET)
    emma, liam = await person(env.sessions, EMMA), await person(env.sessions, LIAM)
    hannah = await person(env.sessions, HANNAH)
    handle = await start_leave(env.client, env.queue, emma)
    await wait_for_assignee(handle, "manager", LIAM)

    view = await handle.execute_update(
        LeaveRequestWorkflow.decide,
        DecisionRequest(actor=liam, decision="approve", next_assignee=hannah.id),
    )
    assert view.tasks[0].next_assignee == hannah.id
    await wait_for_assignee(handle, "hr", HANNAH)
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(
            LeaveRequestWorkflow.decide,
            DecisionRequest(actor=hannah, decision="approve", next_assignee=liam.id),
        )
    assert "does not let its assignee choose" in str(raised.value.cause)
    await handle.execute_update(LeaveRequestWorkflow.withdraw, WithdrawRequest(actor=emma))
    assert (await handle.result()).outcome == "withdrawn"
