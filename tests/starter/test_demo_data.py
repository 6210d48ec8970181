"""The demo data loads idempotently, logs everyone in, and keeps the two orgs apart."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.security import verify_password
from db.tables import Department, LeaveBalance, Org, User
from starter.demo_data import (
    AP_CLERK,
    CFO,
    DEMO_LEAVE_BALANCES,
    DEMO_ORGS,
    DEMO_PASSWORD,
    DEMO_USERS,
    EMPLOYEE,
    FINANCE_APPROVER,
    GLOBEX,
    HEAD_OF_ENGINEERING,
    HR_OFFICER,
    MANAGER,
    OPERATOR,
    load_demo_data,
)

KNOWN_ROLES = {
    "employee",
    "manager",
    "hr",
    "ap_clerk",
    "finance_approver",
    "cfo",
    "admin",
    "operator",
}


async def _snapshot(
    sessions: async_sessionmaker[AsyncSession],
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the demo tables, as plain tuples in a stable order."""
    async with sessions() as session:
        orgs = (await session.exec(select(Org).order_by(Org.id))).all()
        departments = (await session.exec(select(Department).order_by(col(Department.id)))).all()
        users = (await session.exec(select(User).order_by(col(User.id)))).all()
    return {
        "orgs": [(org.id, org.name, org.created_at) for org in orgs],
        "departments": [(dep.id, dep.org_id, dep.name) for dep in departments],
        "users": [
            (
                user.id,
                user.org_id,
                user.email,
                user.name,
                user.manager_id,
                user.department_id,
                user.designation,
                tuple(user.roles),
                user.password_hash,
                user.active,
                user.created_at,
            )
            for user in users
        ],
    }


async def _users_by_email(sessions: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    async with sessions() as session:
        return {user.email: user for user in (await session.exec(select(User))).all()}


async def test_loading_twice_leaves_the_same_rows(db_sessions) -> None:
    await load_demo_data(db_sessions)
    first = await _snapshot(db_sessions)
    await load_demo_data(db_sessions)
    second = await _snapshot(db_sessions)

    assert second == first
    assert [org[0] for org in first["orgs"]] == sorted(org.id for org in DEMO_ORGS)
    assert len(first["departments"]) == sum(len(org.departments) for org in DEMO_ORGS)
    assert len(first["users"]) == len(DEMO_USERS)


async def test_loading_again_keeps_a_changed_password_and_restores_the_profile(
    db_sessions,
) -> None:
    await load_demo_data(db_sessions)
    async with db_sessions() as session:
        user = (await session.exec(select(User).where(User.email == EMPLOYEE.email))).one()
        user.password_hash = "scrypt$changed"
        user.designation = "Somebody else"
        session.add(user)
        await session.commit()

    await load_demo_data(db_sessions)

    reloaded = (await _users_by_email(db_sessions))[EMPLOYEE.email]
    assert reloaded.password_hash == "scrypt$changed"
    assert reloaded.designation == EMPLOYEE.designation


async def test_every_demo_user_logs_in_with_the_demo_password(db_sessions) -> None:
    await load_demo_data(db_sessions)
    users = await _users_by_email(db_sessions)

    for person in DEMO_USERS:
        user = users[person.email]
        assert verify_password(DEMO_PASSWORD, user.password_hash), person.email
        assert not verify_password("wrong-password", user.password_hash)
        assert user.active
        assert "employee" in user.roles
        assert set(user.roles) <= KNOWN_ROLES


async def test_the_manager_chain_and_finance_reporting(db_sessions) -> None:
    await load_demo_data(db_sessions)
    users = await _users_by_email(db_sessions)

    def manager_of(person_email: str) -> str | None:
        manager_id = users[person_email].manager_id
        return next((u.email for u in users.values() if u.id == manager_id), None)

    assert manager_of(EMPLOYEE.email) == MANAGER.email
    assert manager_of(MANAGER.email) == HEAD_OF_ENGINEERING.email
    assert manager_of(HEAD_OF_ENGINEERING.email) is None
    assert manager_of(AP_CLERK.email) == CFO.email
    assert manager_of(FINANCE_APPROVER.email) == CFO.email
    assert "manager" in users[MANAGER.email].roles
    assert "hr" in users[HR_OFFICER.email].roles
    assert "ap_clerk" in users[AP_CLERK.email].roles
    assert "finance_approver" in users[FINANCE_APPROVER.email].roles
    assert "cfo" in users[CFO.email].roles
    assert {"admin", "operator"} <= set(users[OPERATOR.email].roles)


async def test_the_two_orgs_keep_their_people_apart(db_sessions) -> None:
    await load_demo_data(db_sessions)
    users = await _users_by_email(db_sessions)
    async with db_sessions() as session:
        departments = {dep.id: dep for dep in (await session.exec(select(Department))).all()}
    by_id = {user.id: user for user in users.values()}

    globex = {email for email, user in users.items() if user.org_id == GLOBEX.id}
    assert globex == {p.email for p in DEMO_USERS if p.org_id == GLOBEX.id}
    assert len(globex) == 2
    for user in users.values():
        assert user.email.endswith(f"@{user.org_id}.example")
        assert user.department_id is not None
        assert departments[user.department_id].org_id == user.org_id
        if user.manager_id is not None:
            assert by_id[user.manager_id].org_id == user.org_id


async def test_acme_users_get_leave_balances_that_loading_again_never_resets(db_sessions) -> None:
    await load_demo_data(db_sessions)
    async with db_sessions() as session:
        emma = (await session.exec(select(User).where(User.email == EMPLOYEE.email))).one()
        balances = (await session.exec(select(LeaveBalance))).all()
        annual = next(b for b in balances if b.user_id == emma.id and b.leave_type == "annual")
        annual.days = 7
        session.add(annual)
        await session.commit()

    await load_demo_data(db_sessions)

    acme = [p for p in DEMO_USERS if p.org_id == "acme"]
    assert len(balances) == len(acme) * len(DEMO_LEAVE_BALANCES)
    async with db_sessions() as session:
        again = (await session.exec(select(LeaveBalance))).all()
        assert len(again) == len(balances)
        assert {b.org_id for b in again} == {"acme"}
        kept = next(b for b in again if b.user_id == emma.id and b.leave_type == "annual")
        assert kept.days == 7
