"""Process templates: the step policies an org runs with, and its overrides of them."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, ValidationError

from activities.process_templates import effective_policies, org_override
from api.deps import Admin, Operator, SessionDep
from config.policies import ProcessPolicies
from config.process_templates import UnknownProcess, shipped_processes
from db.tables import ProcessTemplate, utcnow

router = APIRouter(prefix="/templates", tags=["templates"])


class TemplateView(BaseModel):
    """A process's effective policies for the caller's org, and the org's override if any."""

    process: str
    override_yaml: str | None
    effective: ProcessPolicies


class TemplateOverride(BaseModel):
    """An org's override of a process template, as YAML laid over the shipped one."""

    model_config = ConfigDict(extra="forbid")

    yaml: str


def _resolve(process: str, override_yaml: str | None) -> ProcessPolicies:
    try:
        return effective_policies(process, override_yaml)
    except UnknownProcess as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No process {process!r}") from error
    except (ValidationError, ValueError, yaml.YAMLError) as error:
        detail: Any = (
            error.errors(include_url=False, include_context=False, include_input=False)
            if isinstance(error, ValidationError)
            else str(error)
        )
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from error


@router.get("", response_model=list[str])
async def list_processes(principal: Operator) -> list[str]:
    """The processes that have templates."""
    return shipped_processes()


@router.get("/{process}", response_model=TemplateView)
async def get_template(process: str, principal: Operator, session: SessionDep) -> TemplateView:
    """The effective step policies of a process for the caller's org."""
    stored = await org_override(session, principal.org_id, process)
    override = stored.body_yaml if stored else None
    return TemplateView(
        process=process, override_yaml=override, effective=_resolve(process, override)
    )


@router.put("/{process}", response_model=TemplateView)
async def put_template(
    process: str, body: TemplateOverride, principal: Admin, session: SessionDep
) -> TemplateView:
    """Replace the org's override; it is validated before anything is stored."""
    effective = _resolve(process, body.yaml)
    stored = await org_override(session, principal.org_id, process)
    if stored is None:
        stored = ProcessTemplate(org_id=principal.org_id, process=process, body_yaml=body.yaml)
    stored.body_yaml, stored.updated_at = body.yaml, utcnow()
    session.add(stored)
    await session.commit()
    return TemplateView(process=process, override_yaml=body.yaml, effective=effective)


@router.delete("/{process}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(process: str, principal: Admin, session: SessionDep) -> None:
    """Drop the org's override, going back to the shipped template."""
    _resolve(process, None)
    stored = await org_override(session, principal.org_id, process)
    if stored is not None:
        await session.delete(stored)
        await session.commit()
