"""Fixtures of the end-to-end tests: the product's worker as a child process that a test can
kill, and the API in process, both on the test's own copy of the demo database and task queues."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.service import RPCError

from api.main import create_app
from config.settings import Settings
from tests.api.conftest import PUBLIC_URL, api_settings_for, bearer, demo_database, log_in
from tests.e2e.worker_process import WorkerProcess, copy_sqlite_database, worker_environment
from tests.harness.smtp import SmtpServer

__all__ = ["demo_database"]

Headers = dict[str, str]


@pytest.fixture
def worker_queues() -> str:
    """The queues the worker process polls (a test module may name fewer)."""
    return "workflows,io,documents"


@pytest.fixture
def crash_settings(tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    """The test's settings on task queues of its own; a 1 s SMTP timeout keeps a dead sender's
    claim lease at 4 s."""
    settings = api_settings_for(tmp_path, smtp_server.host, smtp_server.port)
    return settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue_prefix": f"crash-{uuid.uuid4().hex[:12]}-"}
            ),
            "mail": settings.mail.model_copy(update={"smtp_timeout_seconds": 1.0}),
        }
    )


@pytest.fixture
def crash_database(crash_settings: Settings, demo_database: Path) -> str:
    """The URL of the test's own copy of the demo database (the worker's and the API's)."""
    copy_sqlite_database(demo_database, crash_settings.database.url)
    return crash_settings.database.url


@pytest.fixture
async def crash_app(
    crash_settings: Settings, temporal_client: Client, crash_database: str
) -> AsyncIterator[FastAPI]:
    """The API in process on the test's database."""
    application = create_app(crash_settings, temporal_client)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(crash_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in process."""
    transport = httpx.ASGITransport(app=crash_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


@pytest.fixture
async def worker(
    crash_settings: Settings, temporal_client: Client, tmp_path: Path, worker_queues: str
) -> AsyncIterator[WorkerProcess]:
    """The worker process (not started yet). At the end whatever still runs is stopped, and so
    are the runs left open on the test's queue (their activities died with a worker)."""
    address = temporal_client.service_client.config.target_host
    process = WorkerProcess(worker_environment(crash_settings, address), worker_queues, tmp_path)
    try:
        yield process
    finally:
        with contextlib.suppress(RuntimeError, ProcessLookupError):
            process.thaw()
        await process.stop()
        await _end_open_runs(temporal_client, crash_settings.task_queues().workflows)


async def _end_open_runs(client: Client, queue: str) -> None:
    query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
    async for execution in client.list_workflows(query):
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(execution.id).terminate("the test is over")


async def headers_for(http: httpx.AsyncClient, email: str) -> Headers:
    """The Authorization header of a demo user, logged in through the API."""
    return bearer((await log_in(http, email))["access_token"])
