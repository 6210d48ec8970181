"""A long-lived leave request continues as new and carries its state (own dev server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings, TemporalSettings
from config.temporal_names import QUEUE_ROLES, SEARCH_ATTRIBUTES
from db.engine import session_factory
from models.approvals import CommentRequest
from starter.demo_data import load_demo_data
from starter.temporal_server import temporal_binary
from tests.harness.ports import free_port
from tests.harness.smtp import SmtpInbox
from tests.workflows.leave_scenarios import (
    EMMA,
    HANNAH,
    LIAM,
    QUIET,
    decide,
    person,
    set_template,
    start_leave,
    wait_for_assignee,
)
from worker import build_activity_deps, build_workers
from workflows.leave_request import LeaveRequestWorkflow

SUGGEST_AFTER_EVENTS = 60


@pytest.fixture
async def small_history_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after a few dozen events."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        port=free_port(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_a_run_continues_as_new_with_its_task_comments_and_history(
    small_history_env: WorkflowEnvironment,
    mail_settings: Settings,
    sqlite_engine: AsyncEngine,
    smtp_inbox: SmtpInbox,
) -> None:
    client = small_history_env.client
    sessions = session_factory(sqlite_engine)
    await load_demo_data(sessions)
    await set_template(sessions, QUIET, QUIET)
    settings = mail_settings.model_copy(
        update={"temporal": TemporalSettings(task_queue_prefix=f"can-{uuid.uuid4().hex[:8]}-")}
    )
    deps = build_activity_deps(settings, sessions)
    emma, liam = await person(sessions, EMMA), await person(sessions, LIAM)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        async with AsyncExitStack() as stack:
            for worker in build_workers(client, QUEUE_ROLES, deps, executor):
                await stack.enter_async_context(worker)
            handle = await start_leave(client, settings.task_queues().workflows, emma)
            first = await wait_for_assignee(handle, "manager", LIAM)
            for number in range(6):
                await handle.execute_update(
                    LeaveRequestWorkflow.comment,
                    CommentRequest(actor=emma, text=f"note {number}"),
                )
            await decide(handle, liam)
            await wait_for_assignee(handle, "hr", HANNAH)
            await decide(handle, await person(sessions, HANNAH))
            result = await handle.result()
            view = await handle.query(LeaveRequestWorkflow.view)

    assert result.outcome == "approved"
    first_run = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    events = [event.event_type for event in (await first_run.fetch_history()).events]
    assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert [c.text for c in view.comments] == [f"note {n}" for n in range(6)]
    assert [(t.step, t.kind) for t in view.transitions][:1] == [("manager", "assigned")]
    assert view.tasks[0].started_at == first.tasks[0].started_at
