"""The AP invoice run on a real Temporal server with the real activities, SQLite, local files
and SMTP: each path a user would meet, checked by what they would see."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from config.settings import Settings, StorageSettings, TemporalSettings
from config.temporal_names import FAILURE_REASON, QUEUE_ROLES, RUN_STATE
from db.engine import session_factory
from models.ap_invoice import CorrectionRequest, FieldCorrections, RetryRequest
from models.approvals import DecisionRequest
from starter.demo_data import load_demo_data
from starter.sample_invoices import demo_samples
from tests.harness.smtp import SmtpInbox
from tests.workflows import ap_scenarios
from tests.workflows.ap_scenarios import (
    LIAM,
    MARCUS,
    PRIYA,
    Sessions,
    invoice_of,
    set_ap_template,
    start_invoice,
    unique,
    wait_for_step,
)
from tests.workflows.leave_scenarios import person
from worker import build_activity_deps, build_workers
from workflows.ap_invoice import ApInvoiceWorkflow


@dataclass
class ApEnv:
    """A client, this test's settings (queues, files) and the database."""

    client: Client
    settings: Settings
    sessions: Sessions
    files: Path


@pytest.fixture
async def ap_env(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[ApEnv]:
    sessions = session_factory(sqlite_engine)
    await load_demo_data(sessions)
    settings = mail_settings.model_copy(
        update={
            "temporal": TemporalSettings(task_queue_prefix=f"ap-{uuid.uuid4().hex[:8]}-"),
            "storage": StorageSettings(backend="local", local_root=tmp_path / "files"),
        }
    )
    deps = build_activity_deps(settings, sessions)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        async with AsyncExitStack() as stack:
            workers: list[Worker] = build_workers(temporal_client, QUEUE_ROLES, deps, executor)
            for worker in workers:
                await stack.enter_async_context(worker)
            yield ApEnv(temporal_client, settings, sessions, tmp_path / "files")


def exports(env: ApEnv, transaction_id: str) -> list[Path]:
    folder = env.files / "acme" / "ap_invoice" / transaction_id / "erp"
    return sorted(folder.glob("*")) if folder.exists() else []


async def test_matched_invoice_under_threshold_is_posted_once_without_anyone(
    ap_env: ApEnv, smtp_inbox: SmtpInbox
) -> None:
    handle = await ap_scenarios.auto_approve_path(ap_env.client, ap_env.settings, ap_env.sessions)
    result = await handle.result()

    assert result.outcome == "posted", result.reason
    invoice = await invoice_of(handle)
    assert invoice.auto_approved and invoice.findings == []
    assert invoice.supplier is not None and invoice.supplier.name == "Lieferant GmbH"
    assert invoice.posted is not None and invoice.posted.created
    transaction = invoice.transaction_id
    [csv_file, json_file] = exports(ap_env, transaction)
    assert csv_file.suffix == ".csv" and transaction in csv_file.read_text()
    posted = json.loads(json_file.read_text())
    assert posted["external_reference"] == transaction
    manifest = ap_env.files / "acme" / "ap_invoice" / transaction / "manifest.json"
    assert json.loads(manifest.read_text())["invoice_file"].endswith("invoice.pdf")
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(RUN_STATE) == "posted"


async def test_mismatch_goes_to_the_clerk_then_the_finance_approver_and_is_posted(
    ap_env: ApEnv,
) -> None:
    handle = await ap_scenarios.exception_path(ap_env.client, ap_env.settings, ap_env.sessions)
    result = await handle.result()

    assert result.outcome == "posted", result.reason
    view = await handle.query(ApInvoiceWorkflow.view)
    decided = [
        (task.step, task.decided_by.email if task.decided_by else None) for task in view.tasks
    ]
    assert decided == [("exception", PRIYA), ("exception_2", PRIYA), ("approval_1", MARCUS)]
    invoice = await invoice_of(handle)
    assert "po_number" in invoice.corrected_fields
    assert any("27.90" in finding.message for finding in invoice.findings)


async def test_the_same_invoice_twice_is_blocked_naming_the_first_run(ap_env: ApEnv) -> None:
    handle = await ap_scenarios.duplicate_path(ap_env.client, ap_env.settings, ap_env.sessions)
    result = await handle.result()

    assert result.outcome == "duplicate"
    assert result.duplicate_of is not None and result.duplicate_of in result.reason
    assert exports(ap_env, (await invoice_of(handle)).transaction_id) == []


async def test_two_copies_arriving_at_once_post_once(ap_env: ApEnv) -> None:
    await set_ap_template(ap_env.sessions)
    pdf = demo_samples(unique("race"))["matched-under-threshold"].pdf()
    handles = await asyncio.gather(
        *(start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, pdf) for _ in range(3))
    )
    outcomes = sorted([(await handle.result()).outcome for handle in handles])
    assert outcomes == ["duplicate", "duplicate", "posted"]


async def test_a_damaged_pdf_fails_its_step_with_the_reason(ap_env: ApEnv) -> None:
    handle = await ap_scenarios.broken_file_path(ap_env.client, ap_env.settings, ap_env.sessions)
    result = await handle.result()

    assert result.outcome == "failed"
    invoice = await invoice_of(handle)
    [failure] = invoice.failures
    assert (failure.step, failure.reason) == ("extract_invoice", "CorruptPdf")
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(FAILURE_REASON) == "CorruptPdf"


async def test_not_a_pdf_fails_cleanly_and_the_worker_carries_on(ap_env: ApEnv) -> None:
    await set_ap_template(ap_env.sessions)
    bad = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, b"hello, world\n")
    good_pdf = demo_samples(unique("after"))["matched-under-threshold"].pdf()
    good = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, good_pdf)

    assert (await bad.result()).outcome == "failed"
    assert (await invoice_of(bad)).failures[0].reason == "NotAPdf"
    assert (await good.result()).outcome == "posted"


async def test_erp_down_opens_an_operator_task_and_a_retry_posts(ap_env: ApEnv) -> None:
    handle = await ap_scenarios.operator_retry_path(ap_env.client, ap_env.settings, ap_env.sessions)
    result = await handle.result()

    assert result.outcome == "posted", result.reason
    invoice = await invoice_of(handle)
    assert [failure.reason for failure in invoice.failures] == ["ErpUnavailable"]
    assert len(exports(ap_env, invoice.transaction_id)) == 2


async def test_only_the_exception_holder_corrects_and_only_operators_retry(
    ap_env: ApEnv,
) -> None:
    await set_ap_template(ap_env.sessions)
    pdf = demo_samples(unique("perm"))["price-differs-from-po"].pdf()
    handle = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, pdf)
    await wait_for_step(handle, "exception")
    liam = await person(ap_env.sessions, LIAM)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            ApInvoiceWorkflow.correct,
            CorrectionRequest(actor=liam, fields=FieldCorrections(po_number="PO-1001")),
        )
    assert "only Priya Nair" in str(refused.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ApInvoiceWorkflow.retry_step, RetryRequest(actor=liam))
    assert "only an operator" in str(refused.value.cause)
    priya = await person(ap_env.sessions, PRIYA)
    await handle.execute_update(
        ApInvoiceWorkflow.decide,
        DecisionRequest(actor=priya, decision="reject", comment="not our order"),
    )
    result = await handle.result()
    assert (result.outcome, result.reason) == ("rejected", "not our order")


async def test_above_threshold_goes_to_the_department_manager(ap_env: ApEnv) -> None:
    await set_ap_template(ap_env.sessions)
    pdf = demo_samples(unique("big"))["above-threshold"].pdf()
    handle = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, pdf)
    view = await wait_for_step(handle, "approval")
    assignees = {person.email for person in view.current.assignees} if view.current else set()
    assert LIAM in assignees
    assert PRIYA not in assignees


async def test_time_limit_marks_the_run_failed(ap_env: ApEnv) -> None:
    await set_ap_template(ap_env.sessions, settings={"time_limit": "3s"})
    pdf = demo_samples(unique("late"))["above-threshold"].pdf()
    handle = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, pdf)
    result = await handle.result()
    assert result.outcome == "failed"
    assert "time limit" in result.reason
