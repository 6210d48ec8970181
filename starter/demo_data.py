"""Demo orgs, departments and people to try Baton with, and AP reference data (suppliers,
aliases, purchase orders: see `starter.demo_reference`); loading them again changes nothing.

Every demo user logs in with `DEMO_PASSWORD`. `python -m starter.demo_data` migrates the
configured database and loads them; `load_demo_data(sessions)` does the loading for `make dev`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.security import hash_password
from config.settings import get_settings
from db.engine import create_engine, session_factory, session_scope
from db.migrate import migrate
from db.tables import Department, LeaveBalance, Org, User
from starter.demo_reference import ensure_demo_reference_data

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "baton-demo"


@dataclass(frozen=True)
class DemoOrg:
    """A demo organisation and its departments."""

    id: str
    name: str
    departments: tuple[str, ...]


@dataclass(frozen=True)
class DemoUser:
    """A demo person; `manager_email` names the person they report to."""

    org_id: str
    email: str
    name: str
    designation: str
    department: str
    roles: tuple[str, ...]
    manager_email: str | None = None


ACME = DemoOrg("acme", "Acme", ("Engineering", "Human Resources", "Finance"))
GLOBEX = DemoOrg("globex", "Globex", ("Operations",))
DEMO_ORGS = (ACME, GLOBEX)

HEAD_OF_ENGINEERING = DemoUser(
    "acme",
    "sofia.rossi@acme.example",
    "Sofia Rossi",
    "Head of Engineering",
    "Engineering",
    ("employee", "manager"),
)
MANAGER = DemoUser(
    "acme",
    "liam.walker@acme.example",
    "Liam Walker",
    "Engineering Manager",
    "Engineering",
    ("employee", "manager"),
    HEAD_OF_ENGINEERING.email,
)
EMPLOYEE = DemoUser(
    "acme",
    "emma.schmidt@acme.example",
    "Emma Schmidt",
    "Software Engineer",
    "Engineering",
    ("employee",),
    MANAGER.email,
)
HR_OFFICER = DemoUser(
    "acme",
    "hannah.becker@acme.example",
    "Hannah Becker",
    "HR Officer",
    "Human Resources",
    ("employee", "hr"),
)
CFO = DemoUser(
    "acme",
    "claire.dubois@acme.example",
    "Claire Dubois",
    "Chief Financial Officer",
    "Finance",
    ("employee", "manager", "cfo"),
)
FINANCE_APPROVER = DemoUser(
    "acme",
    "marcus.weber@acme.example",
    "Marcus Weber",
    "Finance Controller",
    "Finance",
    ("employee", "finance_approver"),
    CFO.email,
)
AP_CLERK = DemoUser(
    "acme",
    "priya.nair@acme.example",
    "Priya Nair",
    "Accounts Payable Clerk",
    "Finance",
    ("employee", "ap_clerk"),
    CFO.email,
)
OPERATOR = DemoUser(
    "acme",
    "oliver.grant@acme.example",
    "Oliver Grant",
    "Platform Administrator",
    "Engineering",
    ("employee", "admin", "operator"),
    HEAD_OF_ENGINEERING.email,
)
GLOBEX_MANAGER = DemoUser(
    "globex",
    "nora.lindqvist@globex.example",
    "Nora Lindqvist",
    "Operations Manager",
    "Operations",
    ("employee", "manager", "hr", "admin"),
)
GLOBEX_EMPLOYEE = DemoUser(
    "globex",
    "tomas.silva@globex.example",
    "Tomas Silva",
    "Operations Analyst",
    "Operations",
    ("employee", "ap_clerk"),
    GLOBEX_MANAGER.email,
)

# Managers come before the people who report to them.
DEMO_USERS = (
    HEAD_OF_ENGINEERING,
    MANAGER,
    EMPLOYEE,
    HR_OFFICER,
    CFO,
    FINANCE_APPROVER,
    AP_CLERK,
    OPERATOR,
    GLOBEX_MANAGER,
    GLOBEX_EMPLOYEE,
)


# Days of leave each acme user starts with; loading again never resets a balance in use.
DEMO_LEAVE_BALANCES: dict[str, int] = {"annual": 25, "sick": 10}
DEMO_LEAVE_ORGS = ("acme",)


@dataclass
class LoadReport:
    """How many rows loading the demo data created and changed."""

    created: int = 0
    updated: int = 0


async def _upsert_org(session: AsyncSession, org: DemoOrg, report: LoadReport) -> dict[str, int]:
    """The org and its departments, created or brought in line; department ids by name."""
    row = await session.get(Org, org.id)
    if row is None:
        session.add(Org(id=org.id, name=org.name))
        report.created += 1
    elif row.name != org.name:
        row.name = org.name
        report.updated += 1
    await session.flush()
    ids: dict[str, int] = {}
    for name in org.departments:
        found = (
            await session.exec(
                select(Department).where(Department.org_id == org.id, Department.name == name)
            )
        ).first()
        if found is None:
            found = Department(org_id=org.id, name=name)
            session.add(found)
            await session.flush()
            report.created += 1
        assert found.id is not None
        ids[name] = found.id
    return ids


async def _upsert_user(
    session: AsyncSession,
    person: DemoUser,
    department_id: int,
    manager_id: int | None,
    report: LoadReport,
) -> int:
    """The user, created with the demo password or brought in line (its password is kept)."""
    wanted: dict[str, object] = {
        "org_id": person.org_id,
        "name": person.name,
        "designation": person.designation,
        "department_id": department_id,
        "manager_id": manager_id,
        "roles": list(person.roles),
        "active": True,
    }
    row = (await session.exec(select(User).where(User.email == person.email))).first()
    if row is None:
        password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
        row = User.model_validate({**wanted, "email": person.email, "password_hash": password_hash})
        session.add(row)
        report.created += 1
    else:
        changed = {field: value for field, value in wanted.items() if getattr(row, field) != value}
        for field, value in changed.items():
            setattr(row, field, value)
        report.updated += bool(changed)
    await session.flush()
    assert row.id is not None
    return row.id


async def _ensure_leave_balances(
    session: AsyncSession, user_ids: dict[str, int], report: LoadReport
) -> None:
    """A balance of each demo leave type for each user of the demo leave orgs, if missing."""
    for person in DEMO_USERS:
        if person.org_id not in DEMO_LEAVE_ORGS:
            continue
        for leave_type, days in DEMO_LEAVE_BALANCES.items():
            query = select(LeaveBalance).where(
                LeaveBalance.org_id == person.org_id,
                LeaveBalance.user_id == user_ids[person.email],
                LeaveBalance.leave_type == leave_type,
            )
            if (await session.exec(query)).first() is None:
                session.add(
                    LeaveBalance(
                        org_id=person.org_id,
                        user_id=user_ids[person.email],
                        leave_type=leave_type,
                        days=days,
                    )
                )
                report.created += 1
    await session.flush()


async def load_demo_data(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Creates or updates the demo orgs, departments, users (passwords are never reset), and
    creates leave balances and AP reference data when missing (never reset)."""
    report = LoadReport()
    async with session_scope(sessions) as session:
        departments: dict[tuple[str, str], int] = {}
        for org in DEMO_ORGS:
            for name, department_id in (await _upsert_org(session, org, report)).items():
                departments[(org.id, name)] = department_id
        user_ids: dict[str, int] = {}
        for person in DEMO_USERS:
            manager_id = user_ids[person.manager_email] if person.manager_email else None
            user_ids[person.email] = await _upsert_user(
                session, person, departments[(person.org_id, person.department)], manager_id, report
            )
        await _ensure_leave_balances(session, user_ids, report)
        report.created += await ensure_demo_reference_data(session)
    logger.info(
        "demo data: %d orgs, %d users (%d rows created, %d updated)",
        len(DEMO_ORGS),
        len(DEMO_USERS),
        report.created,
        report.updated,
    )


def demo_login_lines() -> list[str]:
    """One line per demo user: org, email, name, designation and roles."""
    width = max(len(person.email) for person in DEMO_USERS)
    return [
        f"{person.org_id:<7} {person.email:<{width}}  {person.name}, {person.designation} "
        f"({', '.join(person.roles)})"
        for person in DEMO_USERS
    ]


async def _migrate_and_load() -> None:
    settings = get_settings()
    engine = create_engine(settings.database.url, echo=settings.database.echo)
    try:
        await migrate(engine)
        await load_demo_data(session_factory(engine))
    finally:
        await engine.dispose()


def main() -> None:
    """Command line entry point: migrate the configured database and load the demo data."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    asyncio.run(_migrate_and_load())
    logger.info("demo logins (password %r):", DEMO_PASSWORD)
    for line in demo_login_lines():
        logger.info("  %s", line)


if __name__ == "__main__":
    main()
