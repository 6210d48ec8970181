"""Steps the leave API tests share: ask for leave, wait for a run's state, read balances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.tables import LeaveBalance, LeaveRecord, User

Headers = dict[str, str]


async def ask_for_leave(
    client: httpx.AsyncClient,
    headers: Headers,
    start: str = "2027-03-01",
    end: str = "2027-03-03",
    leave_type: str = "annual",
) -> httpx.Response:
    """POST /leave-requests for the caller."""
    body = {"leave_type": leave_type, "from": start, "to": end, "reason": "family visit"}
    return await client.post("/leave-requests", json=body, headers=headers)


async def started(client: httpx.AsyncClient, headers: Headers, **dates: str) -> dict[str, Any]:
    """A leave request that started; its workflow id and first view."""
    response = await ask_for_leave(client, headers, **dates)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    check: Callable[[Any], bool],
    timeout: float = 15,  # noqa: ASYNC109
) -> Any:
    """The probe's answer once it passes the check (visibility and runs move a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await probe()
        if check(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"never got there: {answer}")
        await asyncio.sleep(0.2)


async def run_view(client: httpx.AsyncClient, headers: Headers, workflow_id: str) -> dict[str, Any]:
    """GET /runs/{id}, which must answer 200."""
    response = await client.get(f"/runs/{workflow_id}", headers=headers)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def waiting_on(view: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(step, assignee emails) of the pending task, if any."""
    for task in view["tasks"]:
        if task["status"] == "pending":
            return task["step"], [person["email"] for person in task["assignees"]]
    return None


async def wait_for_step(
    client: httpx.AsyncClient, headers: Headers, workflow_id: str, step: str, email: str
) -> dict[str, Any]:
    """The view once the step waits for that one person."""

    async def probe() -> dict[str, Any]:
        return await run_view(client, headers, workflow_id)

    view: dict[str, Any] = await eventually(probe, lambda v: waiting_on(v) == (step, [email]))
    return view


async def user_id(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    """A demo user's id."""
    async with sessions() as session:
        user = (await session.exec(select(User).where(User.email == email))).one()
    assert user.id is not None
    return user.id


async def annual_balance(sessions: async_sessionmaker[AsyncSession], email: str) -> int:
    """Days of annual leave the person has left."""
    person = await user_id(sessions, email)
    async with sessions() as session:
        query = select(LeaveBalance).where(
            LeaveBalance.user_id == person, LeaveBalance.leave_type == "annual"
        )
        return (await session.exec(query)).one().days


async def leave_records(sessions: async_sessionmaker[AsyncSession]) -> list[LeaveRecord]:
    """Every approved leave recorded."""
    async with sessions() as session:
        return list((await session.exec(select(LeaveRecord))).all())
