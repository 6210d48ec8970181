"""Loading a process's step policies for an org: shipped template + the org's override."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from config.policies import ProcessPolicies, resolve_policies
from config.process_templates import parse_template, shipped_template, system_defaults
from db.tables import ProcessTemplate
from models.steps import PoliciesRequest


async def org_override(session: AsyncSession, org: str, process: str) -> ProcessTemplate | None:
    """The org's stored override of a process template, if it has one."""
    query = select(ProcessTemplate).where(
        ProcessTemplate.org_id == org, ProcessTemplate.process == process
    )
    return (await session.exec(query)).first()


def effective_policies(process: str, override_yaml: str | None) -> ProcessPolicies:
    """System defaults, the shipped template and an override (YAML text) merged and validated."""
    override = parse_template(override_yaml) if override_yaml else None
    return resolve_policies(process, system_defaults(), shipped_template(process), override)


class ProcessTemplateActivities:
    """Activities that read process templates from the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="load_process_policies")
    async def load_process_policies(self, request: PoliciesRequest) -> ProcessPolicies:
        """The resolved step policies of a process for an org."""
        async with self._sessions() as session:
            stored = await org_override(session, request.org, request.process)
        return effective_policies(request.process, stored.body_yaml if stored else None)
