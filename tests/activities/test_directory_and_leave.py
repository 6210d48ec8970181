"""Directory look-ups and leave records on SQLite and PostgreSQL: org-scoped, deducted once."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.directory import DirectoryActivities
from activities.leave import LeaveActivities
from db.tables import LeaveBalance, LeaveRecord
from models.approvals import AssigneeQuery, AssigneeRule, Person, PersonQuery
from models.leave import BalanceQuery, OverlapQuery, RecordLeave
from starter.demo_data import load_demo_data


async def _person(directory: DirectoryActivities, org: str, email: str) -> Person:
    found = (await directory.find_person(PersonQuery(org=org, email=email))).person
    assert found is not None
    return found


async def test_people_managers_and_rules_stay_in_their_org(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await load_demo_data(db_sessions)
    directory = DirectoryActivities(db_sessions)
    emma = await _person(directory, "acme", "Emma.Schmidt@acme.example")

    assert (emma.department, emma.roles) == ("Engineering", ["employee"])
    manager = (await directory.find_manager(PersonQuery(org="acme", user_id=emma.id))).person
    assert manager is not None and manager.email == "liam.walker@acme.example"
    other_org = PersonQuery(org="globex", email="emma.schmidt@acme.example")
    assert (await directory.find_person(other_org)).person is None
    assert (await directory.find_manager(PersonQuery(org="globex", user_id=emma.id))).person is None

    async def names(rule: AssigneeRule, org: str = "acme") -> list[str]:
        query = AssigneeQuery(org=org, rule=rule, initiator_id=emma.id)
        return [p.email for p in (await directory.resolve_assignees(query)).people]

    assert await names(AssigneeRule()) == ["liam.walker@acme.example"]
    assert await names(AssigneeRule(rule="users_matching", role="hr")) == [
        "hannah.becker@acme.example"
    ]
    assert await names(AssigneeRule(rule="users_matching", department="Finance", role="cfo")) == [
        "claire.dubois@acme.example"
    ]
    assert await names(AssigneeRule(rule="named", users=[emma.id, manager.id])) == [
        "liam.walker@acme.example"
    ]
    assert await names(AssigneeRule(rule="named", users=[manager.id]), org="globex") == []


async def test_approved_leave_is_deducted_once_even_when_recorded_concurrently(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await load_demo_data(db_sessions)
    emma = await _person(DirectoryActivities(db_sessions), "acme", "emma.schmidt@acme.example")
    leave = LeaveActivities(db_sessions)
    balance = BalanceQuery(org="acme", user_id=emma.id, leave_type="annual")
    before = (await leave.leave_balance(balance)).days
    assert before == 25
    request = RecordLeave(
        idempotency_key="acme:leave_request:k1",
        org="acme",
        user_id=emma.id,
        leave_type="annual",
        start=date(2027, 5, 3),
        end=date(2027, 5, 7),
        days=5,
        workflow_id="acme:leave_request:k1",
    )

    outcomes = await asyncio.gather(*(leave.record_approved_leave(request) for _ in range(4)))

    assert sorted(outcome.deducted for outcome in outcomes) == [False, False, False, True]
    assert (await leave.leave_balance(balance)).days == 20
    async with db_sessions() as session:
        assert len((await session.exec(select(LeaveRecord))).all()) == 1
    overlap = OverlapQuery(
        org="acme", user_id=emma.id, start=date(2027, 5, 7), end=date(2027, 5, 9)
    )
    assert [p.days for p in (await leave.find_overlapping_leave(overlap)).periods] == [5]
    later = overlap.model_copy(update={"start": date(2027, 5, 8)})
    assert (await leave.find_overlapping_leave(later)).periods == []
    assert (
        await leave.find_overlapping_leave(later.model_copy(update={"org": "globex"}))
    ).periods == []


async def test_a_balance_that_does_not_cover_the_leave_is_refused_and_nothing_is_kept(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await load_demo_data(db_sessions)
    emma = await _person(DirectoryActivities(db_sessions), "acme", "emma.schmidt@acme.example")
    leave = LeaveActivities(db_sessions)
    request = RecordLeave(
        idempotency_key="acme:leave_request:k2",
        org="acme",
        user_id=emma.id,
        leave_type="sick",
        start=date(2027, 6, 1),
        end=date(2027, 6, 30),
        days=30,
        workflow_id="acme:leave_request:k2",
    )

    with pytest.raises(ApplicationError) as raised:
        await leave.record_approved_leave(request)

    assert raised.value.type == "InsufficientLeaveBalance"
    assert raised.value.non_retryable
    async with db_sessions() as session:
        assert (await session.exec(select(LeaveRecord))).all() == []
        sick = select(LeaveBalance).where(
            LeaveBalance.user_id == emma.id, LeaveBalance.leave_type == "sick"
        )
        assert (await session.exec(sick)).one().days == 10
