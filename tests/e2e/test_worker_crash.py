"""A worker killed between a decision and the next step: the run completes with no duplicate
email and no double deduction.

The product's workers run as a real `python -m worker --queues workflows,io` process on the
session's Temporal server, with the test's SQLite file and SMTP server. The leave request goes
through the API in process. The worker is SIGKILLed (1) as soon as the manager's decision is
accepted, before the HR assignment email goes out; (2) as soon as HR's decision is accepted, with
the last step (record the leave and deduct the balance) handed to it; and (3) as soon as the next
worker has deducted the leave, before the completion email goes out. Each time a new worker
process takes over. The org's template gives the steps a 5 s attempt timeout,
so the dead worker's activities are retried within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from temporalio.client import Client, WorkflowHandle

from api.state import AppState
from db.tables import SentEmail
from starter.demo_data import EMPLOYEE, HR_OFFICER, MANAGER, OPERATOR
from tests.api.conftest import baton_state
from tests.api.leave_steps import annual_balance, leave_records, started
from tests.e2e.conftest import Headers, headers_for
from tests.e2e.worker_process import WorkerProcess
from tests.harness.smtp import CapturedEmail, SmtpInbox
from workflows.leave_request import LeaveRequestWorkflow

logger = logging.getLogger(__name__)

EMMA, LIAM, HANNAH = EMPLOYEE.email, MANAGER.email, HR_OFFICER.email
RECOVERY_TIMEOUT_S = 40.0
FAST_STEPS = """\
steps:
  directory:
    attempt_timeout: 5s
    retry: {interval: 200ms, backoff: fixed}
  notify:
    attempt_timeout: 5s
    retry: {interval: 200ms, backoff: fixed}
  record_leave:
    attempt_timeout: 5s
    retry: {interval: 200ms, backoff: fixed}
"""
"""The org's override: a dead worker's attempt times out after 5 s and is retried at once."""


@pytest.fixture
def worker_queues() -> str:
    """Leave requests need no documents queue."""
    return "workflows,io"


def run_mail(inbox: SmtpInbox, workflow_id: str, to: str | None = None) -> list[CapturedEmail]:
    """Messages about the run (its id is in every Baton email), optionally to one address."""
    return [
        message
        for message in inbox.messages
        if workflow_id in message.text() and (to is None or to in message.rcpt_tos)
    ]


async def wait_for_mail(
    inbox: SmtpInbox, workflow_id: str, to: str, worker: WorkerProcess
) -> CapturedEmail:
    """The first message about the run to the address, once it arrived."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while not (found := run_mail(inbox, workflow_id, to)):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no mail to {to} within {RECOVERY_TIMEOUT_S}s; worker log:\n{worker.log()[-3000:]}"
            )
        await asyncio.sleep(0.05)
    return found[0]


async def approve(http: httpx.AsyncClient, headers: Headers, workflow_id: str) -> None:
    """POST the approval of the step the caller holds; it must be accepted."""
    response = await http.post(
        f"/runs/{workflow_id}/decision", json={"decision": "approve"}, headers=headers
    )
    assert response.status_code == 200, response.text


async def until_leave_recorded(state: AppState) -> None:
    """Return as soon as the approved leave is recorded (and the balance deducted)."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while not await leave_records(state.sessions):
        if time.monotonic() > deadline:
            raise AssertionError("the approved leave was never recorded")
        await asyncio.sleep(0.005)


async def retried_work(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """What the run had to do again: activities that needed another attempt, and workflow
    tasks that timed out on the dead worker."""
    events = (await handle.fetch_history()).events
    names = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in events
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    again: list[str] = []
    for event in events:
        if event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.attempt > 1:
                again.append(f"{names[started.scheduled_event_id]} attempt {started.attempt}")
        elif event.HasField("workflow_task_timed_out_event_attributes"):
            again.append("workflow task timed out")
    return again


async def sent_email_states(state: AppState, workflow_id: str) -> dict[str, str]:
    """The idempotency claims of the run's emails and their states."""
    async with state.sessions() as session:
        rows = (await session.exec(select(SentEmail))).all()
    return {row.key: row.state for row in rows if workflow_id in row.key}


async def test_a_worker_killed_after_each_decision_repeats_no_email_and_no_deduction(
    http: httpx.AsyncClient,
    crash_app: FastAPI,
    worker: WorkerProcess,
    smtp_inbox: SmtpInbox,
    temporal_client: Client,
) -> None:
    state = baton_state(crash_app)
    admin = await headers_for(http, OPERATOR.email)
    emma, liam, hannah = [await headers_for(http, email) for email in (EMMA, LIAM, HANNAH)]
    put = await http.put("/templates/leave_request", json={"yaml": FAST_STEPS}, headers=admin)
    assert put.status_code == 200, put.text
    before = await annual_balance(state.sessions, EMMA)
    await worker.start()
    workflow_id = (await started(http, emma, start="2027-05-03", end="2027-05-05"))["workflow_id"]
    await wait_for_mail(smtp_inbox, workflow_id, LIAM, worker)

    # (1) The manager approves; the worker dies before HR is assigned and told.
    await approve(http, liam, workflow_id)
    await worker.kill()
    killed_before_hr_mail = not run_mail(smtp_inbox, workflow_id, HANNAH)
    began = time.monotonic()
    await worker.start()
    await wait_for_mail(smtp_inbox, workflow_id, HANNAH, worker)
    logger.info(
        "crash 1: HR assigned %.1fs after the new worker started (killed before the HR mail: %s)",
        time.monotonic() - began,
        killed_before_hr_mail,
    )

    # (2) HR approves; the worker dies with the last step's activity handed to it.
    await approve(http, hannah, workflow_id)
    await worker.kill()
    recorded_at_kill = bool(await leave_records(state.sessions))
    began = time.monotonic()
    await worker.start()

    # (3) The new worker deducts the leave; it dies before the completion email goes out.
    await until_leave_recorded(state)
    await worker.kill()
    logger.info(
        "crash 2: leave recorded %.1fs after the new worker started (recorded at kill: %s)",
        time.monotonic() - began,
        recorded_at_kill,
    )
    completed_at_kill = bool(run_mail(smtp_inbox, workflow_id, EMMA))
    began = time.monotonic()
    await worker.start()
    handle = temporal_client.get_workflow_handle_for(LeaveRequestWorkflow.run, workflow_id)
    result = await asyncio.wait_for(handle.result(), RECOVERY_TIMEOUT_S)
    logger.info(
        "crash 3: run completed %.1fs after the new worker started (completion mail at kill: %s)",
        time.monotonic() - began,
        completed_at_kill,
    )

    logger.info("done again after the crashes: %s", await retried_work(handle))
    assert (result.outcome, result.deducted_days) == ("approved", 3)
    assert await annual_balance(state.sessions, EMMA) == before - 3
    [record] = await leave_records(state.sessions)
    assert (record.idempotency_key, record.days) == (workflow_id, 3)
    assert result.remaining_days == before - 3

    mail = run_mail(smtp_inbox, workflow_id)
    sent = Counter((tuple(message.rcpt_tos), message.subject) for message in mail)
    seen = [(m.rcpt_tos, m.subject, m.message["Message-ID"]) for m in mail]
    assert [count for count in sent.values() if count != 1] == [], seen
    assert sorted(to for to, _ in sent) == sorted([(LIAM,), (HANNAH,), (EMMA,)]), seen
    states = await sent_email_states(state, workflow_id)
    assert sorted(states.values()) == ["sent"] * 3, states
