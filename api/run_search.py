"""Finding runs through Temporal visibility: safe list-filter queries and run summaries.

Every query starts with the caller's org. Values are checked before they are quoted (only
letters, digits and `_ . @ + -`), so user input can never change the query's shape.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowExecution

from config.temporal_names import ASSIGNEES, DUE_AT, INITIATOR, ORG, PROCESS, RUN_STATE, STAGE

RunState = Literal[
    "running",
    "waiting",
    "completed",
    "approved",
    "rejected",
    "expired",
    "withdrawn",
    "invalid",
    "failed",
]
OPEN_STATES = ("running", "waiting")
"""States of a run still in progress: a run closed from outside (terminated) is left out."""
SAFE_VALUE = r"^[A-Za-z0-9_.@+-]{1,254}$"
"""What a filter value may hold; enforced again right before it is quoted."""
_SAFE = re.compile(SAFE_VALUE)


class RunSummary(BaseModel):
    """One run as lists show it (from its search attributes)."""

    workflow_id: str
    process: str | None
    stage: str | None
    state: str | None
    assignees: list[str]
    initiator: str | None
    due_at: datetime | None
    started_at: datetime
    closed_at: datetime | None
    status: str | None


class RunFilters(BaseModel):
    """Filters of a run list; each one narrows it."""

    model_config = ConfigDict(extra="forbid")

    process: str | None = Field(default=None, pattern=SAFE_VALUE, examples=["leave_request"])
    stage: str | None = Field(default=None, pattern=SAFE_VALUE, examples=["manager"])
    assignee: str | None = Field(
        default=None, pattern=SAFE_VALUE, description="email of a current assignee"
    )
    initiator: str | None = Field(default=None, pattern=SAFE_VALUE, description="email")
    state: RunState | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)


def literal(value: str) -> str:
    """A string value quoted for a list filter; anything that could break out is refused."""
    if not _SAFE.fullmatch(value):
        raise ValueError(f"not a safe filter value: {value!r}")
    return f"'{value}'"


def timestamp(moment: datetime) -> str:
    """A time quoted for a list filter (RFC 3339, UTC; naive times are taken as UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"'{aware.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def any_of(field: str, values: list[str]) -> str:
    """`(field = a OR field = b ...)`; for a keyword list it means it holds one of them."""
    return "(" + " OR ".join(f"{field} = {literal(value)}" for value in values) + ")"


def runs_query(
    org: str,
    filters: RunFilters,
    *,
    involving: str | None = None,
    stages: list[str] | None = None,
) -> str:
    """The visibility query of an org's runs matching the filters.

    `involving` (an email) keeps runs that person started or holds a task of; `stages` keeps
    runs at one of those stages.
    """
    terms = [f"{ORG.name} = {literal(org)}"]
    for key, value in (
        (PROCESS.name, filters.process),
        (STAGE.name, filters.stage),
        (ASSIGNEES.name, filters.assignee),
        (INITIATOR.name, filters.initiator),
        (RUN_STATE.name, filters.state),
    ):
        if value is not None:
            terms.append(f"{key} = {literal(value)}")
    if filters.state in OPEN_STATES:
        terms.append("ExecutionStatus = 'Running'")
    if filters.started_from is not None:
        terms.append(f"StartTime >= {timestamp(filters.started_from)}")
    if filters.started_to is not None:
        terms.append(f"StartTime <= {timestamp(filters.started_to)}")
    if stages:
        terms.append(any_of(STAGE.name, stages))
    if involving is not None:
        who = literal(involving)
        terms.append(f"({INITIATOR.name} = {who} OR {ASSIGNEES.name} = {who})")
    return " AND ".join(terms)


def summary(execution: WorkflowExecution) -> RunSummary:
    """A run's summary from what visibility returns."""
    attributes = execution.typed_search_attributes
    return RunSummary(
        workflow_id=execution.id,
        process=attributes.get(PROCESS),
        stage=attributes.get(STAGE),
        state=attributes.get(RUN_STATE),
        assignees=list(attributes.get(ASSIGNEES) or []),
        initiator=attributes.get(INITIATOR),
        due_at=attributes.get(DUE_AT),
        started_at=execution.start_time,
        closed_at=execution.close_time,
        status=execution.status.name.lower() if execution.status else None,
    )


async def find_runs(client: Client, query: str, limit: int) -> list[RunSummary]:
    """At most `limit` runs matching a visibility query (running ones first), newest first.

    The order is applied here: not every visibility store accepts `ORDER BY`.
    """
    runs = [summary(execution) async for execution in client.list_workflows(query, limit=limit)]
    return sorted(runs, key=lambda run: run.started_at, reverse=True)
