"""`GET /pipeline` on a real Temporal server: open AP runs by stage, and the queues' backlogs.

Runs started here sit on the test's own queues, which no worker polls unless a test asks for
the product's workers: they stay at `starting` and their workflow tasks make a backlog.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from config.temporal_names import QUEUE_ROLES
from models.ap_invoice import STAGES
from starter.demo_data import AP_CLERK, EMPLOYEE, GLOBEX_EMPLOYEE, OPERATOR
from tests.api.conftest import LoginAs

Headers = dict[str, str]
PDF_BYTES = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
STAGE_NAMES = ["starting", *STAGES, "exception", "approval", "operator"]


async def pipeline(client: httpx.AsyncClient, headers: Headers) -> dict[str, Any]:
    """GET /pipeline; 200 expected."""
    response = await client.get("/pipeline", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at(body: dict[str, Any], stage: str) -> int:
    """Open runs at a stage."""
    counts: dict[str, int] = {row["stage"]: row["open"] for row in body["stages"]}
    return counts[stage]


def queue(body: dict[str, Any], role: str, kind: str) -> dict[str, Any]:
    """A queue's row for one task-queue type."""
    rows: list[dict[str, Any]] = body["queues"]
    [row] = [q for q in rows if (q["role"], q["task_queue_type"]) == (role, kind)]
    return row


async def start_run(client: httpx.AsyncClient, headers: Headers) -> None:
    """Upload an invoice, starting its run."""
    response = await client.post(
        "/invoices",
        files={"invoice": ("invoice.pdf", PDF_BYTES, "application/pdf")},
        data={"transaction_id": str(uuid.uuid4())},
        headers=headers,
    )
    assert response.status_code == 201, response.text


async def test_the_pipeline_needs_an_ap_role(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    anonymous = await client.get("/pipeline")
    employee = await client.get("/pipeline", headers=await login_as(EMPLOYEE.email))

    assert (anonymous.status_code, employee.status_code) == (401, 403)


async def test_a_new_run_shows_at_starting_and_in_the_workflow_backlog(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    priya, oliver = await login_as(AP_CLERK.email), await login_as(OPERATOR.email)
    tomas = await login_as(GLOBEX_EMPLOYEE.email)
    before, globex = await pipeline(client, oliver), await pipeline(client, tomas)

    await start_run(client, priya)

    deadline = time.monotonic() + 20
    while True:
        after = await pipeline(client, oliver)
        backlog = queue(after, "workflows", "workflow")["backlog"]
        if at(after, "starting") > at(before, "starting") and backlog:
            break
        assert time.monotonic() < deadline, after
        await asyncio.sleep(0.3)
    assert [row["stage"] for row in after["stages"]] == STAGE_NAMES
    assert after["open"] >= sum(row["open"] for row in after["stages"])
    assert after["open"] == before["open"] + 1
    assert after["waiting_for_people"] >= 0
    assert {(q["role"], q["task_queue_type"]) for q in after["queues"]} == {
        (role, kind) for role in QUEUE_ROLES for kind in ("workflow", "activity")
    }
    workflows = queue(after, "workflows", "workflow")
    assert workflows["task_queue"].startswith("api-")
    assert workflows["pollers"] == 0
    assert workflows["backlog_age_seconds"] >= 0
    assert (await pipeline(client, tomas))["open"] == globex["open"]


@pytest.mark.usefixtures("workers")
async def test_the_pipeline_counts_the_workers_polling_each_queue(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    oliver = await login_as(OPERATOR.email)

    body = await pipeline(client, oliver)

    assert queue(body, "workflows", "workflow")["pollers"] >= 1
    assert queue(body, "documents", "activity")["pollers"] >= 1
    assert queue(body, "io", "activity")["pollers"] >= 1
    assert all(row["detail"] == "" for row in body["queues"])
