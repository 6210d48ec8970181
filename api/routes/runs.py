"""Runs of the caller's org: find them, read one, and act on its waiting step.

Every action is one of the run's Temporal Updates with the caller as the actor; the workflow's
rules decide, and a refusal comes back with the workflow's reason and nothing written.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import AnyMember, SessionDep, TemporalDep
from api.run_access import ORG_READERS, open_run, person_of, send_update
from api.run_search import RunFilters, RunSummary, find_runs, runs_query
from models.approvals import (
    ClaimRequest,
    CommentRequest,
    DecisionRequest,
    Person,
    ReassignRequest,
    RunView,
    WatchRequest,
    WithdrawRequest,
)

router = APIRouter(prefix="/runs", tags=["runs"])

REFUSALS: dict[int | str, dict[str, str]] = {
    404: {"description": "No such run in your org, or not one of yours"},
    409: {"description": "The run is closed, or its rules refuse the request (reason given)"},
    422: {"description": "The request is incomplete (e.g. a rejection without a comment)"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionBody(_Body):
    """Approve or reject the step you hold; a rejection needs a comment."""

    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=4000)
    next_assignee: int | None = Field(
        default=None, description="user id for the next step, where the step allows choosing"
    )

    @model_validator(mode="after")
    def _reasoned(self) -> DecisionBody:
        if self.decision == "reject" and not self.comment.strip():
            raise ValueError("a rejection needs a comment saying why")
        return self


class ReassignBody(_Body):
    """Hand the step you hold to a colleague (their user id)."""

    to: int
    reason: str = Field(default="", max_length=4000)


class ReasonBody(_Body):
    """An optional reason (claim, withdraw)."""

    reason: str = Field(default="", max_length=4000)


class CommentBody(_Body):
    """A comment on the run."""

    text: str = Field(min_length=1, max_length=4000)


class WatchBody(_Body):
    """Watch the run yourself, or (as one of its people) add a colleague by user id."""

    watcher: int | None = None


async def _colleague(session: SessionDep, org: str, user_id: int) -> Person:
    person = await person_of(session, org, user_id)
    if person is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "No such colleague")
    return person


@router.get("", response_model=list[RunSummary])
async def list_runs(
    filters: Annotated[RunFilters, Query()], principal: AnyMember, client: TemporalDep
) -> list[RunSummary]:
    """Runs of your org, newest first; HR, admins and operators see all, others their own.

    Lists come from Temporal visibility, which trails a run's changes by a moment.
    """
    involving = None if principal.has_any(ORG_READERS) else principal.email
    query = runs_query(principal.org_id, filters, involving=involving)
    return await find_runs(client, query, filters.limit)


@router.get("/{workflow_id}", response_model=RunView, responses={404: REFUSALS[404]})
async def get_run(
    workflow_id: str, principal: AnyMember, client: TemporalDep, session: SessionDep
) -> RunView:
    """A run as its people see it: stage, tasks, history, comments, watchers and outcome."""
    return (await open_run(client, session, principal, workflow_id)).view


@router.post("/{workflow_id}/decision", response_model=RunView, responses=REFUSALS)
async def decide(
    workflow_id: str,
    body: DecisionBody,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
) -> RunView:
    """Approve or reject the step you hold."""
    run = await open_run(client, session, principal, workflow_id)
    request = DecisionRequest(actor=run.actor, **body.model_dump())
    return await send_update(run, "decide", request)


@router.post("/{workflow_id}/reassign", response_model=RunView, responses=REFUSALS)
async def reassign(
    workflow_id: str,
    body: ReassignBody,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
) -> RunView:
    """Hand the step you hold to a colleague."""
    run = await open_run(client, session, principal, workflow_id)
    to = await _colleague(session, principal.org_id, body.to)
    return await send_update(
        run, "reassign", ReassignRequest(actor=run.actor, to=to, reason=body.reason)
    )


@router.post("/{workflow_id}/claim", response_model=RunView, responses=REFUSALS)
async def claim(
    workflow_id: str,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
    body: ReasonBody | None = None,
) -> RunView:
    """Take the waiting step for yourself, where its claim rule allows you."""
    run = await open_run(client, session, principal, workflow_id)
    reason = body.reason if body else ""
    return await send_update(run, "claim", ClaimRequest(actor=run.actor, reason=reason))


@router.post("/{workflow_id}/comments", response_model=RunView, responses=REFUSALS)
async def comment(
    workflow_id: str,
    body: CommentBody,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
) -> RunView:
    """Comment on the run; the people the step names are told."""
    run = await open_run(client, session, principal, workflow_id)
    return await send_update(run, "comment", CommentRequest(actor=run.actor, text=body.text))


@router.post("/{workflow_id}/watch", response_model=RunView, responses=REFUSALS)
async def watch(
    workflow_id: str,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
    body: WatchBody | None = None,
) -> RunView:
    """Watch the run (or add a colleague as a watcher): watchers hear of comments and the end."""
    run = await open_run(client, session, principal, workflow_id)
    watcher = None
    if body is not None and body.watcher is not None:
        watcher = await _colleague(session, principal.org_id, body.watcher)
    return await send_update(run, "watch", WatchRequest(actor=run.actor, watcher=watcher))


@router.delete("/{workflow_id}/watch", response_model=RunView, responses=REFUSALS)
async def unwatch(
    workflow_id: str, principal: AnyMember, client: TemporalDep, session: SessionDep
) -> RunView:
    """Stop watching the run."""
    run = await open_run(client, session, principal, workflow_id)
    return await send_update(run, "watch", WatchRequest(actor=run.actor, stop=True))


@router.post("/{workflow_id}/withdraw", response_model=RunView, responses=REFUSALS)
async def withdraw(
    workflow_id: str,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
    body: ReasonBody | None = None,
) -> RunView:
    """Withdraw your own pending request."""
    run = await open_run(client, session, principal, workflow_id)
    reason = body.reason if body else ""
    return await send_update(run, "withdraw", WithdrawRequest(actor=run.actor, reason=reason))
