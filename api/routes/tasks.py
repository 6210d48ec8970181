"""The caller's inbox: waiting steps they hold, and waiting steps they may claim."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import AnyMember, SessionDep, TemporalDep
from api.run_access import HUMAN_STEPS, caller, claim_allows, step_configs
from api.run_search import SAFE_VALUE, RunFilters, RunSummary, find_runs, runs_query

router = APIRouter(prefix="/tasks", tags=["tasks"])

INBOX_LIMIT = 200


class InboxTask(RunSummary):
    """A waiting step: `assigned` to you, or `claimable` by you under the step's claim rule."""

    why: Literal["assigned", "claimable"]


@router.get("/inbox", response_model=list[InboxTask])
async def inbox(
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
    process: Annotated[str | None, Query(pattern=SAFE_VALUE)] = None,
) -> list[InboxTask]:
    """Steps waiting for you, then steps you may claim (per the org's current template).

    Lists come from Temporal visibility, which trails a run's changes by a moment.
    """
    me = await caller(session, principal)
    waiting = RunFilters(process=process, state="waiting", assignee=me.email)
    mine = await find_runs(client, runs_query(me.org, waiting), INBOX_LIMIT)
    tasks = [InboxTask(**run.model_dump(), why="assigned") for run in mine]
    for name in [process] if process else sorted(HUMAN_STEPS):
        rules = await step_configs(session, me.org, name)
        steps = [step for step in rules if claim_allows(rules, step, me)]
        if not steps:
            continue
        query = runs_query(me.org, RunFilters(process=name, state="waiting"), stages=steps)
        tasks += [
            InboxTask(**run.model_dump(), why="claimable")
            for run in await find_runs(client, query, INBOX_LIMIT)
            if run.stage in steps and me.email not in run.assignees and run.initiator != me.email
        ]
    return tasks
