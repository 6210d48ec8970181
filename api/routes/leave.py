"""Leave requests: the caller asks for leave, and a `LeaveRequestWorkflow` run takes it on.

The request is checked up front by the rules the workflow applies first (dates in order, a
leave type of the org's template, no overlap with approved leave), so a bad request gets a
clear 4xx and starts no run. The answer carries the run's first view.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import WorkflowHandle

from activities.leave import LeaveActivities
from activities.process_templates import effective_policies, org_override
from api.deps import AnyMember, SessionDep, SettingsDep, StateDep, TemporalDep
from api.run_access import caller
from models.approvals import Person, RunView
from models.leave import LeaveRequestInput, LeaveRequestResult, LeaveSettings, OverlapQuery
from workflows.leave_request import PROCESS_NAME, LeaveRequestWorkflow

router = APIRouter(prefix="/leave-requests", tags=["leave requests"])

FIRST_VIEW_WAIT = 5.0
"""Seconds to wait for the run to assign its first step (or end invalid) before answering."""


class LeaveRequestBody(BaseModel):
    """Leave you ask for, for yourself: a type of your org's template and the days, inclusive."""

    model_config = ConfigDict(extra="forbid")

    leave_type: str = Field(min_length=1, max_length=32, examples=["annual"])
    start: date = Field(alias="from", examples=["2027-03-01"])
    end: date = Field(alias="to", examples=["2027-03-03"])
    reason: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _in_order(self) -> LeaveRequestBody:
        if self.start > self.end:
            raise ValueError("the leave ends before it starts")
        return self


class LeaveRequestStarted(BaseModel):
    """The run that carries the request, and how it looks now."""

    workflow_id: str
    view: RunView


async def _first_view(handle: WorkflowHandle[LeaveRequestWorkflow, LeaveRequestResult]) -> RunView:
    """The view once the first step is assigned or the run has ended (or the wait is over)."""
    deadline = time.monotonic() + FIRST_VIEW_WAIT
    while True:
        view = await handle.query(LeaveRequestWorkflow.view)
        task = view.current
        if view.outcome is not None or (task and task.assignees) or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.1)


async def _check(
    body: LeaveRequestBody,
    me: Person,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Refuse what the workflow would end as invalid: unknown type, overlap with approved leave."""
    stored = await org_override(session, me.org, PROCESS_NAME)
    template = effective_policies(PROCESS_NAME, stored.body_yaml if stored else None)
    try:
        leave_types = LeaveSettings.model_validate(template.settings).leave_types
    except ValidationError as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Leave requests are unavailable: the org's leave template has invalid settings",
        ) from error
    if body.leave_type not in leave_types:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"Unknown leave type {body.leave_type!r}"
        )
    overlaps = await LeaveActivities(sessions).find_overlapping_leave(
        OverlapQuery(org=me.org, user_id=me.id, start=body.start, end=body.end)
    )
    if overlaps.periods:
        first = overlaps.periods[0]
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"The dates overlap approved leave from {first.start} to {first.end}",
        )


@router.post(
    "",
    response_model=LeaveRequestStarted,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "The dates overlap leave already approved"},
        422: {"description": "Dates out of order, or a leave type the org does not have"},
    },
)
async def request_leave(
    body: LeaveRequestBody,
    principal: AnyMember,
    client: TemporalDep,
    settings: SettingsDep,
    session: SessionDep,
    state: StateDep,
) -> LeaveRequestStarted:
    """Ask for leave for yourself; your manager, then HR, decide."""
    me = await caller(session, principal)
    await _check(body, me, session, state.sessions)
    handle = await client.start_workflow(
        LeaveRequestWorkflow.run,
        LeaveRequestInput(org=me.org, initiator=me, **body.model_dump()),
        id=f"{me.org}:{PROCESS_NAME}:{uuid.uuid4()}",
        task_queue=settings.task_queues().workflows,
    )
    view = await _first_view(handle)
    if view.outcome == "invalid":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, view.outcome_reason)
    return LeaveRequestStarted(workflow_id=handle.id, view=view)
