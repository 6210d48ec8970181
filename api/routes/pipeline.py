"""`GET /pipeline`: where the org's open AP runs are, how many wait for a person, and the backlog
of each task queue (by task-queue type) with the workers polling it.

Stage counts are one visibility count per stage: Temporal's SQL visibility answers `GROUP BY`
only for `ExecutionStatus` ("'GROUP BY' clause is not supported for search attribute
BatonStage" on server 1.32). Backlogs come from `DescribeTaskQueue` with `report_stats`, which
returns `stats` directly (the older enhanced API mode is deprecated in the protos).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from activities.ap_invoice_start import FIRST_STAGE
from api.deps import SettingsDep, TemporalDep
from api.invoice_search import ap_runs
from api.routes.invoices.access import Reader
from api.run_search import literal
from config.temporal_names import QUEUE_ROLES, RUN_STATE, STAGE, QueueRole
from models.ap_invoice import STAGES
from workflows.ap_invoice import APPROVAL_STEP, EXCEPTION_STEP, OPERATOR_STEP

logger = logging.getLogger(__name__)

router = APIRouter(tags=["pipeline"])

HUMAN_STEPS = (EXCEPTION_STEP, APPROVAL_STEP, OPERATOR_STEP)
"""A run waiting for a person shows its task (`exception_2`, `approval_1`) as its stage."""
DESCRIBE_TIMEOUT = timedelta(seconds=5)
QueueKind = Literal["workflow", "activity"]
_KINDS: dict[QueueKind, TaskQueueType.ValueType] = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


class StageCount(BaseModel):
    """Open runs at one stage; a human step counts all its tasks (`exception`, `exception_2`)."""

    stage: str
    open: int


class QueueBacklog(BaseModel):
    """One task queue's backlog of one type of task, and the workers polling it."""

    role: QueueRole
    task_queue: str
    task_queue_type: QueueKind
    pollers: int | None = None
    backlog: int | None = Field(default=None, description="approximate count of waiting tasks")
    backlog_age_seconds: float | None = Field(default=None, description="the oldest task's age")
    tasks_add_rate: float | None = None
    tasks_dispatch_rate: float | None = None
    detail: str = ""


class Pipeline(BaseModel):
    """The org's open AP runs by stage, and the queues' backlogs."""

    open: int
    waiting_for_people: int
    stages: list[StageCount]
    other: int = Field(description="open runs at a stage none of the above names")
    queues: list[QueueBacklog]


def _stage_terms() -> dict[str, str]:
    exact = {stage: f"{STAGE.name} = {literal(stage)}" for stage in (FIRST_STAGE, *STAGES)}
    started = {step: f"{STAGE.name} STARTS_WITH {literal(step)}" for step in HUMAN_STEPS}
    return exact | started


async def _count(client: Client, terms: list[str]) -> int:
    return (await client.count_workflows(" AND ".join(terms))).count


async def _backlog(client: Client, role: QueueRole, queue: str, kind: QueueKind) -> QueueBacklog:
    row = QueueBacklog(role=role, task_queue=queue, task_queue_type=kind)
    try:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueueRef(name=queue),
                task_queue_type=_KINDS[kind],
                report_stats=True,
            ),
            timeout=DESCRIBE_TIMEOUT,
        )
    except RPCError as error:
        logger.warning("could not describe task queue %s: %s", queue, error)
        row.detail = f"{type(error).__name__}: {error}"[:300]
        return row
    stats = response.stats
    row.pollers = len(response.pollers)
    row.backlog = stats.approximate_backlog_count
    row.backlog_age_seconds = stats.approximate_backlog_age.ToTimedelta().total_seconds()
    row.tasks_add_rate = stats.tasks_add_rate
    row.tasks_dispatch_rate = stats.tasks_dispatch_rate
    return row


@router.get(
    "/pipeline",
    response_model=Pipeline,
    responses={503: {"description": "Temporal visibility cannot be asked right now"}},
)
async def pipeline(principal: Reader, client: TemporalDep, settings: SettingsDep) -> Pipeline:
    """Open AP runs per stage, how many wait for a person, and each task queue's backlog."""
    open_runs = [*ap_runs(principal.org_id), "ExecutionStatus = 'Running'"]
    terms = _stage_terms()
    queues = settings.task_queues()
    try:
        total, waiting, *at_stage = await asyncio.gather(
            _count(client, open_runs),
            _count(client, [*open_runs, f"{RUN_STATE.name} = 'waiting'"]),
            *(_count(client, [*open_runs, term]) for term in terms.values()),
        )
    except RPCError as error:
        logger.warning("could not count AP runs: %s", error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal visibility cannot be asked right now"
        ) from error
    backlogs = await asyncio.gather(
        *(
            _backlog(client, role, queues.name(role), kind)
            for role in QUEUE_ROLES
            for kind in _KINDS
        )
    )
    stages = [
        StageCount(stage=name, open=count) for name, count in zip(terms, at_stage, strict=True)
    ]
    return Pipeline(
        open=total,
        waiting_for_people=waiting,
        stages=stages,
        other=max(0, total - sum(at_stage)),
        queues=list(backlogs),
    )
