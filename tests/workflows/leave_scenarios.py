"""Leave request paths, shared by the workflow tests and the history recorder.

Each path starts a real `LeaveRequestWorkflow` (demo people: Emma asks, Liam is her manager,
Sofia his, Hannah is HR) and drives it with the Updates the API will send.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle

from activities.directory import DirectoryActivities
from db.engine import session_scope
from db.tables import ProcessTemplate
from models.approvals import DecisionRequest, Person, PersonQuery, RunView, WithdrawRequest
from models.leave import LeaveRequestInput, LeaveRequestResult
from workflows.leave_request import LeaveRequestWorkflow

EMMA = "emma.schmidt@acme.example"
LIAM = "liam.walker@acme.example"
SOFIA = "sofia.rossi@acme.example"
HANNAH = "hannah.becker@acme.example"
OLIVER = "oliver.grant@acme.example"
CLAIRE = "claire.dubois@acme.example"
NORA = "nora.lindqvist@globex.example"

Handle = WorkflowHandle[LeaveRequestWorkflow, LeaveRequestResult]
Path = Callable[..., Awaitable[Handle]]
"""A recorded path: (client, workflow queue, sessions, key=...) -> the run's handle."""


def sla(**sla_fields: Any) -> dict[str, Any]:
    """A step's settings with the given SLA (durations in seconds)."""
    return {"sla": sla_fields}


QUIET = {"reminders": 0, "escalate_after": "1h", "deadline": "2h"}
"""No timer fires while a test talks to the run."""

ESCALATING = {
    "reminders": 2,
    "reminder_interval": "1s",
    "escalate_after": "3s",
    "escalation": ["assignees_manager", "fallback"],
    "fallback_approver": OLIVER,
    "deadline": "8s",
}
"""Two reminders (1 s, 2 s), Liam -> Sofia (3 s) -> Oliver (6 s), expiry at 8 s."""


async def set_template(
    sessions: async_sessionmaker[AsyncSession], manager: dict[str, Any], hr: dict[str, Any]
) -> None:
    """Store acme's override of the leave template with these step SLAs (seconds)."""
    body = yaml.safe_dump(
        {
            "steps": {"notify": {"retry": {"count": 2, "interval": "1s"}}},
            "settings": {"manager": sla(**manager), "hr": sla(**hr)},
        }
    )
    async with session_scope(sessions) as session:
        query = select(ProcessTemplate).where(
            ProcessTemplate.org_id == "acme", ProcessTemplate.process == "leave_request"
        )
        row = (await session.exec(query)).first()
        if row is None:
            session.add(ProcessTemplate(org_id="acme", process="leave_request", body_yaml=body))
        else:
            row.body_yaml = body
            session.add(row)


async def person(sessions: async_sessionmaker[AsyncSession], email: str) -> Person:
    """A demo person as the directory sees them (what the API puts in `actor`)."""
    org = email.rpartition("@")[2].split(".")[0]
    found = await DirectoryActivities(sessions).find_person(PersonQuery(org=org, email=email))
    assert found.person is not None, email
    return found.person


async def start_leave(
    client: Client,
    queue: str,
    initiator: Person,
    *,
    key: str | None = None,
    start: date = date(2027, 3, 1),
    end: date = date(2027, 3, 3),
    leave_type: str = "annual",
) -> Handle:
    """Start Emma's leave request (3 days by default)."""
    request = LeaveRequestInput(
        org=initiator.org,
        initiator=initiator,
        leave_type=leave_type,
        start=start,
        end=end,
        reason="family visit",
    )
    return await client.start_workflow(
        LeaveRequestWorkflow.run,
        request,
        id=f"{initiator.org}:leave_request:{key or uuid.uuid4().hex[:12]}",
        task_queue=queue,
    )


async def wait_for_assignee(handle: Handle, step: str, email: str, timeout: float = 15) -> RunView:  # noqa: ASYNC109
    """Wait until the step's task is with that person."""
    deadline = time.monotonic() + timeout
    while True:
        view = await handle.query(LeaveRequestWorkflow.view)
        task = view.current
        if task and task.step == step and [p.email for p in task.assignees] == [email]:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"{step} never reached {email}: {view.model_dump_json()}")
        await asyncio.sleep(0.1)


async def decide(
    handle: Handle, actor: Person, decision: str = "approve", comment: str = ""
) -> RunView:
    """Send the `decide` Update."""
    return await handle.execute_update(
        LeaveRequestWorkflow.decide,
        DecisionRequest(actor=actor, decision=decision, comment=comment),
    )


# -- recorded paths ----------------------------------------------------------------------------

APPROVED = (date(2027, 2, 1), date(2027, 2, 3))
"""The dates of the approved path, so the other paths never overlap it."""


async def approve_path(
    client: Client, queue: str, sessions: async_sessionmaker[AsyncSession], key: str | None = None
) -> Handle:
    """Liam approves, Hannah approves (1-3 February 2027)."""
    await set_template(sessions, QUIET, QUIET)
    emma = await person(sessions, EMMA)
    handle = await start_leave(client, queue, emma, key=key, start=APPROVED[0], end=APPROVED[1])
    await wait_for_assignee(handle, "manager", LIAM)
    await decide(handle, await person(sessions, LIAM))
    await wait_for_assignee(handle, "hr", HANNAH)
    await decide(handle, await person(sessions, HANNAH), comment="enjoy")
    return handle


async def reject_path(
    client: Client, queue: str, sessions: async_sessionmaker[AsyncSession], key: str | None = None
) -> Handle:
    """Liam rejects with a reason."""
    await set_template(sessions, QUIET, QUIET)
    handle = await start_leave(client, queue, await person(sessions, EMMA), key=key)
    await wait_for_assignee(handle, "manager", LIAM)
    await decide(handle, await person(sessions, LIAM), "reject", "release week")
    return handle


async def withdraw_path(
    client: Client, queue: str, sessions: async_sessionmaker[AsyncSession], key: str | None = None
) -> Handle:
    """Emma withdraws while Liam has it."""
    await set_template(sessions, QUIET, QUIET)
    emma = await person(sessions, EMMA)
    handle = await start_leave(client, queue, emma, key=key)
    await wait_for_assignee(handle, "manager", LIAM)
    await handle.execute_update(
        LeaveRequestWorkflow.withdraw, WithdrawRequest(actor=emma, reason="plans changed")
    )
    return handle


async def escalate_path(
    client: Client, queue: str, sessions: async_sessionmaker[AsyncSession], key: str | None = None
) -> Handle:
    """Nobody decides: reminders, Liam -> Sofia, and Sofia approves."""
    await set_template(sessions, {**ESCALATING, "deadline": "1h"}, QUIET)
    handle = await start_leave(client, queue, await person(sessions, EMMA), key=key)
    await wait_for_assignee(handle, "manager", SOFIA, timeout=20)
    await decide(handle, await person(sessions, SOFIA), "reject", "not this month")
    return handle


async def expire_path(
    client: Client, queue: str, sessions: async_sessionmaker[AsyncSession], key: str | None = None
) -> Handle:
    """Nobody decides at all: reminders, escalations, expiry."""
    await set_template(sessions, ESCALATING, QUIET)
    return await start_leave(client, queue, await person(sessions, EMMA), key=key)
