"""The directory: people, their managers and who a step's assignee rule names, per org."""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from db.tables import Department, User
from models.approvals import AssigneeQuery, People, Person, PersonLookup, PersonQuery

logger = logging.getLogger(__name__)


def as_person(user: User, department: str | None) -> Person:
    """The payload form of a user row."""
    assert user.id is not None
    return Person(
        id=user.id,
        email=user.email,
        name=user.name,
        org=user.org_id,
        department=department,
        designation=user.designation,
        roles=list(user.roles),
    )


class DirectoryActivities:
    """Directory look-ups; every query is scoped to the org it is asked for."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _people(
        self, session: AsyncSession, org: str, *filters: ColumnElement[bool]
    ) -> list[Person]:
        query = (
            select(User, Department.name)
            .join(Department, col(User.department_id) == col(Department.id), isouter=True)
            .where(User.org_id == org, col(User.active).is_(True), *filters)
            .order_by(col(User.id))
        )
        rows = (await session.exec(query)).all()
        return [as_person(user, department) for user, department in rows]

    async def _one(self, session: AsyncSession, query: PersonQuery) -> Person | None:
        if query.user_id is not None:
            found = await self._people(session, query.org, col(User.id) == query.user_id)
        elif query.email:
            found = await self._people(
                session, query.org, func.lower(User.email) == query.email.lower()
            )
        else:
            found = []
        return found[0] if found else None

    @activity.defn(name="find_person")
    async def find_person(self, query: PersonQuery) -> PersonLookup:
        """A person of the org by id or email; none for someone of another org."""
        async with self._sessions() as session:
            return PersonLookup(person=await self._one(session, query))

    @activity.defn(name="find_manager")
    async def find_manager(self, query: PersonQuery) -> PersonLookup:
        """The manager of a person of the org, if they have an active one in the same org."""
        async with self._sessions() as session:
            person = await self._one(session, query)
            if person is None:
                return PersonLookup()
            user = await session.get(User, person.id)
            if user is None or user.manager_id is None:
                return PersonLookup()
            manager = PersonQuery(org=query.org, user_id=user.manager_id)
            return PersonLookup(person=await self._one(session, manager))

    @activity.defn(name="resolve_assignees")
    async def resolve_assignees(self, query: AssigneeQuery) -> People:
        """The people a step's assignee rule names for a run; the initiator only when allowed."""
        rule = query.rule
        async with self._sessions() as session:
            if rule.rule == "manager_of_initiator":
                found = await self.find_manager_in(session, query.org, query.initiator_id)
                people = [found] if found else []
            elif rule.rule == "named":
                people = await self._people(session, query.org, col(User.id).in_(rule.users))
            else:
                filters: list[ColumnElement[bool]] = []
                if rule.department:
                    filters.append(col(Department.name) == rule.department)
                if rule.designation:
                    filters.append(col(User.designation) == rule.designation)
                people = await self._people(session, query.org, *filters)
                if rule.role:
                    people = [person for person in people if rule.role in person.roles]
        if query.exclude_initiator:
            people = [person for person in people if person.id != query.initiator_id]
        logger.info("rule %s in %s names %d people", rule.rule, query.org, len(people))
        return People(people=people)

    async def find_manager_in(self, session: AsyncSession, org: str, user_id: int) -> Person | None:
        """The active manager of a user of the org."""
        user = await session.get(User, user_id)
        if user is None or user.org_id != org or user.manager_id is None:
            return None
        return await self._one(session, PersonQuery(org=org, user_id=user.manager_id))
