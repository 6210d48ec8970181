"""`GET /health`: is every part of the product up, and is a worker polling each queue?"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client

from api.deps import StateDep
from config.temporal_names import QUEUE_ROLES, QueueRole

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 5.0


class Check(BaseModel):
    """One part's state."""

    ok: bool
    detail: str = ""


class QueueCheck(Check):
    """Whether workers poll a task queue."""

    pollers: int = 0


class Health(BaseModel):
    """The state of every part; `ok` only when all are."""

    ok: bool
    temporal: Check
    database: Check
    storage: Check
    workers: dict[str, QueueCheck]


async def _guard(name: str, probe: Awaitable[str]) -> Check:
    try:
        detail = await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
        return Check(ok=True, detail=detail)
    except Exception as error:
        logger.warning("health check %s failed: %s", name, error)
        return Check(ok=False, detail=f"{type(error).__name__}: {error}"[:300])


async def _queue(client: Client, role: QueueRole, queue: str) -> QueueCheck:
    kind = (
        TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
        if role == "workflows"
        else TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
    )
    try:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueueRef(name=queue),
                task_queue_type=kind,
            ),
            timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS),
        )
    except Exception as error:
        return QueueCheck(ok=False, detail=f"{type(error).__name__}: {error}"[:300])
    pollers = len(response.pollers)
    return QueueCheck(ok=pollers > 0, pollers=pollers, detail="" if pollers else "no worker polls")


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(state: StateDep, response: Response) -> Health:
    """Temporal, the database, storage, and a worker polling each task queue."""

    async def temporal_probe() -> str:
        client = await state.temporal()
        info = await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS)
        )
        return f"server {info.server_version or 'up'}"

    async def database_probe() -> str:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return state.engine.url.get_backend_name()

    async def storage_probe() -> str:
        await state.store.check()
        return state.settings.storage.backend

    temporal, database, storage = await asyncio.gather(
        _guard("temporal", temporal_probe()),
        _guard("database", database_probe()),
        _guard("storage", storage_probe()),
    )
    queues = {role: state.settings.task_queues().name(role) for role in QUEUE_ROLES}
    if temporal.ok:
        client = await state.temporal()
        checks = await asyncio.gather(*(_queue(client, r, q) for r, q in queues.items()))
        workers = {queue: check for queue, check in zip(queues.values(), checks, strict=True)}
    else:
        unreachable = QueueCheck(ok=False, detail="Temporal is unreachable")
        workers = {queue: unreachable for queue in queues.values()}
    ok = temporal.ok and database.ok and storage.ok and all(c.ok for c in workers.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(ok=ok, temporal=temporal, database=database, storage=storage, workers=workers)
