"""A worker killed in the middle of an AP invoice run: the run completes and the ERP holds the
invoice once.

The product's workers run as one real `python -m worker --queues workflows,io,documents` process
on the session's Temporal server, with the test's SQLite file and SMTP server. Priya uploads a
demo invoice that matches its purchase order and is under the approval threshold, so the run
approves it on its own and posts it. acme's ERP connection is the REST/webhook plugin against
an ERP on loopback that ignores `Idempotency-Key` (every POST that reaches it is a new
document), so only Baton itself can keep a retried post from booking the invoice twice.

The worker is SIGKILLed (1) while it reads the invoice (the extraction activity has started)
and (2) while its POST to the ERP is in flight: the ERP has stored the document and holds its
answer back. Each time a new worker process takes over. The org's template gives both steps a
4 s attempt timeout, so the dead worker's attempts are retried within seconds; the run's next
workflow task still waits 10 s for the dead worker's sticky queue (the SDK's default) before
the new worker gets it, so each takeover costs about 15 s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from models.ap_invoice import ApInvoiceResult
from starter.demo_data import AP_CLERK, OPERATOR
from starter.sample_invoices import demo_samples
from tests.activities.erp.fake_erp import FakeErp, running_fake_erp
from tests.api.conftest import baton_state
from tests.e2e.conftest import headers_for
from tests.e2e.worker_process import WorkerProcess
from tests.harness.smtp import SmtpInbox
from workflows.ap_invoice import ApInvoiceWorkflow

logger = logging.getLogger(__name__)

PRIYA = AP_CLERK.email
RECOVERY_TIMEOUT_S = 40.0
ERP_HOLDS_FIRST_ANSWER_S = 8.0
"""How long the ERP keeps the first POST open after storing its document."""
FAST_STEPS = """\
steps:
  extract_invoice:
    attempt_timeout: 4s
    retry: {interval: 200ms, backoff: fixed}
  post_to_erp:
    attempt_timeout: 4s
    retry: {interval: 200ms, backoff: fixed}
"""
"""The org's override: a dead worker's attempt times out after 4 s and is retried at once."""

Handle = WorkflowHandle[ApInvoiceWorkflow, ApInvoiceResult]


@pytest.fixture
def erp() -> Iterator[FakeErp]:
    """An ERP on loopback that books every POST it gets and holds the first answer back."""
    with running_fake_erp() as fake:
        fake.honours_idempotency = False
        fake.stall_first_post_seconds = ERP_HOLDS_FIRST_ANSWER_S
        yield fake


async def _json(response: httpx.Response, expected: int) -> Any:
    assert response.status_code == expected, response.text
    return response.json()


def erp_documents(erp: FakeErp, reference: str) -> list[str]:
    """The ids of the ERP's documents booked under an external reference."""
    with erp.lock:
        return [
            document_id
            for document_id, posting in erp.documents.items()
            if posting.get("external_reference") == reference
        ]


async def until_activity_runs(handle: Handle, activity: str, worker: WorkerProcess) -> None:
    """Return as soon as a worker has started an attempt of the activity."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while True:
        description = await handle.describe()
        if any(
            pending.activity_type.name == activity
            and pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            for pending in description.raw_description.pending_activities
        ):
            return
        if description.close_time is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"{activity} never started (closed: {description.close_time}); "
                f"worker log:\n{worker.log()[-3000:]}"
            )
        await asyncio.sleep(0.01)


async def until_erp_receives_a_post(erp: FakeErp, worker: WorkerProcess) -> None:
    """Return as soon as a POST reached the ERP (its answer is still held back)."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while not erp.posts():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"nothing was posted to the ERP; worker log:\n{worker.log()[-3000:]}"
            )
        await asyncio.sleep(0.01)


async def last_attempts(handle: Handle) -> dict[str, int]:
    """The attempt each activity of the run completed on, by activity name."""
    events = (await handle.fetch_history()).events
    names = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in events
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    attempts: dict[str, int] = {}
    for event in events:
        if event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            name = names[started.scheduled_event_id]
            attempts[name] = max(attempts.get(name, 0), started.attempt)
    return attempts


async def test_a_worker_killed_while_reading_and_while_posting_books_the_invoice_once(
    http: httpx.AsyncClient,
    crash_app: FastAPI,
    worker: WorkerProcess,
    erp: FakeErp,
    smtp_inbox: SmtpInbox,
    temporal_client: Client,
) -> None:
    admin, priya = await headers_for(http, OPERATOR.email), await headers_for(http, PRIYA)
    await _json(
        await http.put("/templates/ap_invoice", json={"yaml": FAST_STEPS}, headers=admin), 200
    )
    connection = {"plugin": "rest_webhook", "settings": {"base_url": erp.url}}
    await _json(await http.put("/erp-connection", json=connection, headers=admin), 200)
    invoice = demo_samples(f"-crash-{uuid.uuid4().hex[:6]}")["matched-under-threshold"]
    transaction_id = str(uuid.uuid4())
    await worker.start()
    started = await _json(
        await http.post(
            "/invoices",
            files={"invoice": ("invoice.pdf", invoice.pdf(), "application/pdf")},
            data={"transaction_id": transaction_id},
            headers=priya,
        ),
        201,
    )
    workflow_id = started["workflow_id"]
    handle = temporal_client.get_workflow_handle_for(ApInvoiceWorkflow.run, workflow_id)

    # (1) The worker dies while it reads the invoice.
    await until_activity_runs(handle, "extract_invoice", worker)
    await worker.kill()
    began = time.monotonic()
    await worker.start()

    # (2) The new worker posts the invoice; it dies while the ERP holds its answer back.
    await until_erp_receives_a_post(erp, worker)
    await worker.kill()
    logger.info("crash 1: posting %.1fs after the new worker started", time.monotonic() - began)
    booked_at_kill = erp_documents(erp, transaction_id)
    assert len(booked_at_kill) == 1, f"the ERP had not booked the post in flight: {erp.documents}"
    began = time.monotonic()
    await worker.start()
    result = await asyncio.wait_for(handle.result(), RECOVERY_TIMEOUT_S)
    logger.info(
        "crash 2: run completed %.1fs after the new worker started", time.monotonic() - began
    )

    assert erp_documents(erp, transaction_id) == booked_at_kill, "the ERP booked it twice"
    assert (result.outcome, result.erp_document_id) == ("posted", booked_at_kill[0]), result
    attempts = await last_attempts(handle)
    logger.info("last attempt of each activity: %s", attempts)
    assert attempts["extract_invoice"] > 1, attempts
    assert attempts["post_invoice_to_erp"] > 1, attempts

    shown = await _json(await http.get(f"/invoices/{transaction_id}", headers=priya), 200)
    assert shown["auto_approved"] is True
    assert shown["posted"]["erp_document_id"] == booked_at_kill[0]
    assert shown["run"]["outcome"] == "posted"
    assert shown["invoice"]["fields"]["invoice_number"] == invoice.number

    store = baton_state(crash_app).store
    manifest = json.loads(await store.get(f"{shown['working_folder']}/manifest.json"))
    assert manifest["transaction_id"] == transaction_id
    assert await store.exists(manifest["invoice_file"])

    told = [m for m in smtp_inbox.messages if workflow_id in m.text() and PRIYA in m.rcpt_tos]
    assert len(told) == 1, [(m.rcpt_tos, m.subject) for m in told]
