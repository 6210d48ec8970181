"""Hostile and broken invoice files through the whole AP invoice run, on the session's Temporal
server with the real activities, SQLite, local files and SMTP: each unusable file fails its
extract step within seconds with a reason an operator can read and the same worker posts the
next invoice; a scanned copy of an invoice is read by OCR and posted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.documents import MAX_PDF_BYTES
from activities.extraction.activity import ExtractionActivities
from activities.extraction.sandbox import ExtractionLimits, start_sandbox
from activities.storage import LocalObjectStore
from api.main import create_app
from config.settings import Settings, StorageSettings, TemporalSettings
from config.temporal_names import FAILURE_REASON, QUEUE_ROLES, RUN_STATE
from db.engine import session_factory
from models.ap_invoice import ApInvoiceInput, ApInvoiceResult, ap_workflow_id, working_folder
from models.steps import StepFailure
from starter.demo_data import AP_CLERK, load_demo_data
from starter.sample_invoices import demo_samples
from tests.activities.extraction.samples import busy_pdf, encrypted_pdf
from tests.api.conftest import (
    PUBLIC_URL,
    api_settings_for,
    baton_state,
    bearer,
    log_in,
    running_workers,
)
from tests.harness.smtp import SmtpServer
from tests.workflows.ap_scenarios import (
    PRIYA,
    Handle,
    Sessions,
    invoice_of,
    set_ap_template,
    start_invoice,
    unique,
)
from tests.workflows.hostile_invoices import (
    MEGABYTE,
    inflating_pdf,
    padded,
    scanned_copy,
    write_padded,
)
from tests.workflows.leave_scenarios import person
from worker import build_activity_deps, build_workers
from workflows.ap_invoice import ApInvoiceWorkflow

PROMPTLY = timedelta(seconds=20)
"""How long a hostile file may hold its run: seconds, where a stuck extraction takes minutes."""
WAIT_SECONDS = 60
"""How long a test waits for a run's end before it fails, saying where the run stands."""
TIGHT_LIMITS = ExtractionLimits(cpu_seconds=2, wall_seconds=30)
"""Two CPU seconds instead of the shipped sixty, so the CPU limit is met within the test."""
BUSY_OPERATORS = 300_000
"""About 4 s of pdfminer's time on one core: past the tight CPU limit."""
SHIPPED_MEMORY_MB = ExtractionLimits().memory_mb


@dataclass
class ApEnv:
    """A client, this test's settings (queues, files), its database and its stored files."""

    client: Client
    settings: Settings
    sessions: Sessions
    store: LocalObjectStore


@asynccontextmanager
async def ap_workers(
    client: Client,
    settings: Settings,
    sessions: Sessions,
    limits: ExtractionLimits | None,
) -> AsyncIterator[ApEnv]:
    """The product's workers on this test's queues; extraction under `limits` when given,
    else as the worker builds it."""
    deps = build_activity_deps(settings, sessions)
    if limits is not None:
        deps = dataclasses.replace(deps, extraction=ExtractionActivities(deps.store, limits))
    assert isinstance(deps.store, LocalObjectStore)
    with ThreadPoolExecutor(max_workers=settings.worker.max_concurrent_activities) as executor:
        async with AsyncExitStack() as stack:
            for worker in build_workers(client, QUEUE_ROLES, deps, executor):
                await stack.enter_async_context(worker)
            yield ApEnv(client, settings, sessions, deps.store)


def ap_settings(mail_settings: Settings, tmp_path: Path) -> Settings:
    """The mail settings with a queue prefix of this test's own and files under tmp_path."""
    return mail_settings.model_copy(
        update={
            "temporal": TemporalSettings(task_queue_prefix=f"hostile-{uuid.uuid4().hex[:8]}-"),
            "storage": StorageSettings(backend="local", local_root=tmp_path / "files"),
        }
    )


@pytest.fixture
async def ap_env(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[ApEnv]:
    """Workers exactly as shipped, extraction limits included."""
    sessions = session_factory(sqlite_engine)
    await load_demo_data(sessions)
    await set_ap_template(sessions)
    settings = ap_settings(mail_settings, tmp_path)
    async with ap_workers(temporal_client, settings, sessions, None) as env:
        yield env


@pytest.fixture
async def tight_env(
    temporal_client: Client, mail_settings: Settings, sqlite_engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[ApEnv]:
    """Workers whose extraction may use two seconds of CPU per document."""
    sessions = session_factory(sqlite_engine)
    await load_demo_data(sessions)
    await set_ap_template(sessions)
    settings = ap_settings(mail_settings, tmp_path)
    async with ap_workers(temporal_client, settings, sessions, TIGHT_LIMITS) as env:
        yield env


async def start_normal_invoice(env: ApEnv, suffix: str) -> Handle:
    """A matched invoice under the threshold, which posts without anyone."""
    pdf = demo_samples(unique(suffix))["matched-under-threshold"].pdf()
    return await start_invoice(env.client, env.settings, env.sessions, pdf)


async def start_stored_invoice(env: ApEnv, transaction_id: str) -> Handle:
    """Start the run of an invoice already written to its working folder."""
    folder = working_folder("acme", transaction_id)
    return await env.client.start_workflow(
        ApInvoiceWorkflow.run,
        ApInvoiceInput(
            org="acme",
            transaction_id=transaction_id,
            working_folder=folder,
            invoice_file=f"{folder}/invoice.pdf",
            initiator=await person(env.sessions, PRIYA),
        ),
        id=ap_workflow_id("acme", transaction_id),
        task_queue=env.settings.task_queues().workflows,
    )


async def outcome_of(handle: Handle) -> ApInvoiceResult:
    """The run's result; a run still open after WAIT_SECONDS fails the test with its state."""
    try:
        return await asyncio.wait_for(handle.result(), WAIT_SECONDS)
    except TimeoutError:
        invoice = await invoice_of(handle)
        raise AssertionError(
            f"{handle.id} is still open at {invoice.stage}; failures: {invoice.failures}"
        ) from None


async def assert_failed_for_the_operator(handle: Handle, expected: StepFailure) -> None:
    """The run failed promptly at the step with the reason, where an operator looks: its
    result, its invoice view and run view, and the search attributes the failures list
    queries (`BatonFailureReason` set, `BatonRunState` failed)."""
    result = await outcome_of(handle)
    assert (result.outcome, result.reason) == (
        "failed",
        f"{expected.step}: {expected.reason}: {expected.details}",
    )
    invoice = await invoice_of(handle)
    assert invoice.failures == [expected]
    assert (invoice.failed_stage, invoice.invoice, invoice.posted) == (expected.step, None, None)
    assert invoice.run is not None
    shown = {key: invoice.run.details.get(key) for key in ("failure_step", "failure_reason")}
    assert shown == {"failure_step": expected.step, "failure_reason": expected.reason}
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert (attributes.get(FAILURE_REASON), attributes.get(RUN_STATE)) == (
        expected.reason,
        "failed",
    )
    assert description.close_time is not None
    assert description.close_time - description.start_time < PROMPTLY


async def assert_posted(handle: Handle) -> None:
    """The run posted its invoice to the ERP without anyone."""
    result = await outcome_of(handle)
    assert result.outcome == "posted", result.reason
    assert result.erp_document_id is not None


def extraction_services() -> list[int]:
    """The pids of this process's extraction zygotes (`activities.extraction.worker_main`)."""
    children = [
        int(child)
        for task in Path(f"/proc/{os.getpid()}/task").glob("*/children")
        for child in task.read_text().split()
    ]
    return [pid for pid in children if b"extraction.worker_main" in _command_line(pid)]


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak_memory() -> int:
    """Start measuring this process's peak resident memory afresh; its resident kB now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _memory_kb("VmRSS")


# -- document refusals ----------------------------------------------------------------------


async def test_an_encrypted_invoice_fails_extraction_with_its_reason_and_the_next_posts(
    ap_env: ApEnv,
) -> None:
    locked = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, encrypted_pdf())
    after = await start_normal_invoice(ap_env, "after-encrypted")

    await assert_failed_for_the_operator(
        locked,
        StepFailure(
            step="extract_invoice",
            reason="EncryptedPdf",
            details="the PDF is encrypted with a password",
            criticality="high",
        ),
    )
    await assert_posted(after)


async def test_a_file_over_50_mb_is_refused_unread_and_the_next_posts(ap_env: ApEnv) -> None:
    transaction = str(uuid.uuid4())
    huge = demo_samples(unique("huge"))["matched-under-threshold"].pdf()
    path = ap_env.store.path_of(f"{working_folder('acme', transaction)}/invoice.pdf")
    write_padded(path, huge, MAX_PDF_BYTES + 1)
    resident_kb = reset_peak_memory()

    oversized = await start_stored_invoice(ap_env, transaction)
    after = await start_normal_invoice(ap_env, "after-huge")

    await assert_failed_for_the_operator(
        oversized,
        StepFailure(
            step="extract_invoice",
            reason="FileTooLarge",
            details="the file is 50.0 MB, more than the 50 MB allowed",
            criticality="high",
        ),
    )
    await assert_posted(after)
    grew_mb = (_memory_kb("VmHWM") - resident_kb) / 1024
    assert grew_mb < 30, f"memory grew by {grew_mb:.0f} MB; reading the file adds 50 MB"
    assert path.stat().st_size == MAX_PDF_BYTES + 1, "the file is kept as it came"


# -- hostile documents the sandbox stops ----------------------------------------------------


async def test_a_decompression_bomb_stops_at_the_memory_limit_and_the_worker_carries_on(
    ap_env: ApEnv,
) -> None:
    bomb = inflating_pdf(2 * SHIPPED_MEMORY_MB)
    assert len(bomb) < 3 * MEGABYTE
    await asyncio.to_thread(start_sandbox)
    services = extraction_services()
    assert services, "the extraction service runs"

    exploding = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, bomb)
    beside = await start_normal_invoice(ap_env, "beside-bomb")

    await assert_failed_for_the_operator(
        exploding,
        StepFailure(
            step="extract_invoice",
            reason="ExtractionMemoryLimit",
            details=f"reading the document needed more than its {SHIPPED_MEMORY_MB} MB of "
            "memory, so it was stopped",
            criticality="high",
        ),
    )
    await assert_posted(beside)
    after = await start_normal_invoice(ap_env, "after-bomb")
    await assert_posted(after)
    assert extraction_services() == services, "only the bomb's own child was stopped"


async def test_a_busy_page_is_stopped_at_the_cpu_limit_and_junk_after_eof_is_ignored(
    tight_env: ApEnv,
) -> None:
    """A page of endless one-letter texts is stopped at the CPU limit; a real invoice followed
    by junk up to exactly the size limit is read as the document before the junk, and posted."""
    env = tight_env
    busy = await start_invoice(env.client, env.settings, env.sessions, busy_pdf(BUSY_OPERATORS))
    transaction = str(uuid.uuid4())
    at_limit = demo_samples(unique("at-limit"))["matched-under-threshold"].pdf()
    write_padded(
        env.store.path_of(f"{working_folder('acme', transaction)}/invoice.pdf"),
        at_limit,
        MAX_PDF_BYTES,
    )
    junk_tail = await start_stored_invoice(env, transaction)
    after = await start_normal_invoice(env, "after-busy")

    stopped = StepFailure(
        step="extract_invoice",
        reason="ExtractionTimeout",
        details=f"reading the document used more than {TIGHT_LIMITS.cpu_seconds} s of CPU, so "
        "it was stopped",
        criticality="high",
    )
    await assert_failed_for_the_operator(busy, stopped)
    await assert_posted(junk_tail)
    await assert_posted(after)


# -- a scan instead of a text PDF -----------------------------------------------------------


async def test_a_scanned_invoice_is_read_by_ocr_and_posted_without_anyone(ap_env: ApEnv) -> None:
    sample = demo_samples(unique("scan"))["matched-under-threshold"]
    scan = await asyncio.to_thread(scanned_copy, sample.pdf())

    handle = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, scan)

    await assert_posted(handle)
    invoice = await invoice_of(handle)
    assert invoice.invoice is not None
    read = invoice.invoice
    assert (read.method, read.pages, read.warnings) == ("ocr", 1, ["read by OCR: page 1"])
    fields = read.fields
    assert (fields.invoice_number, fields.po_number) == (sample.number, "PO-1001")
    assert (fields.subtotal, fields.tax_amount, fields.total_amount) == (
        sample.subtotal,
        sample.tax,
        sample.total,
    )
    assert (invoice.findings, invoice.failures, invoice.auto_approved) == ([], [], True)
    assert invoice.supplier is not None and invoice.supplier.name == "Lieferant GmbH"
    assert invoice.run is not None and invoice.run.details["extraction"] == "ocr"


# -- the API ----------------------------------------------------------------------------------


@dataclass
class Api:
    """The API on this test's database and files, with the product's workers on its queues."""

    http: httpx.AsyncClient
    settings: Settings
    store_root: Path
    headers: dict[str, str]


@pytest.fixture
async def api(
    temporal_client: Client, smtp_server: SmtpServer, tmp_path: Path
) -> AsyncIterator[Api]:
    """Baton's API as shipped (the default upload limit) with real workers, Priya logged in."""
    settings = api_settings_for(tmp_path, smtp_server.host, smtp_server.port)
    app = create_app(settings, temporal_client)
    async with app.router.lifespan_context(app):
        state = baton_state(app)
        await load_demo_data(state.sessions)
        await set_ap_template(state.sessions)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            running_workers(temporal_client, state.settings, state.sessions),
            httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http,
        ):
            tokens = await log_in(http, AP_CLERK.email)
            store_root = settings.storage.local_root
            yield Api(http, settings, store_root, bearer(tokens["access_token"]))


def stored_files(root: Path) -> list[Path]:
    """Every file under the store's folder, partial writes included."""
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def test_the_api_refuses_a_50_mb_upload_and_lists_an_encrypted_one_with_its_reason(
    api: Api,
) -> None:
    huge = padded(demo_samples(unique("api-huge"))["matched-under-threshold"].pdf(), 50 * MEGABYTE)
    assert len(huge) > api.settings.storage.max_attachment_bytes

    refused = await api.http.post(
        "/invoices",
        files={"invoice": ("invoice.pdf", huge, "application/pdf")},
        headers=api.headers,
    )
    assert refused.status_code == 413, refused.text
    assert refused.json()["detail"] == (
        f"The upload is larger than {api.settings.storage.max_attachment_bytes} bytes per file; "
        "nothing was stored"
    )
    assert stored_files(api.store_root) == []

    upload = await api.http.post(
        "/invoices",
        files={"invoice": ("locked.pdf", encrypted_pdf(), "application/pdf")},
        headers=api.headers,
    )
    assert upload.status_code == 201, upload.text
    transaction, workflow_id = upload.json()["transaction_id"], upload.json()["workflow_id"]
    row = await failure_row(api, workflow_id)
    assert (row["status"], row["stage"], row["failure_reason"]) == (
        "failed",
        "done",
        "EncryptedPdf",
    )
    assert row["details"] == ("extract_invoice: EncryptedPdf: the PDF is encrypted with a password")
    view = await api.http.get(f"/invoices/{transaction}", headers=api.headers)
    assert view.status_code == 200, view.text
    assert [
        (failure["step"], failure["reason"], failure["details"], failure["criticality"])
        for failure in view.json()["failures"]
    ] == [("extract_invoice", "EncryptedPdf", "the PDF is encrypted with a password", "high")]


async def failure_row(api: Api, workflow_id: str) -> dict[str, object]:
    """The run's row in `GET /invoices/failures` once visibility lists it."""
    deadline = time.monotonic() + 30
    while True:
        response = await api.http.get(
            "/invoices/failures", params={"limit": 100}, headers=api.headers
        )
        assert response.status_code == 200, response.text
        rows = [row for row in response.json()["rows"] if row["workflow_id"] == workflow_id]
        if rows and rows[0]["details"] is not None:
            found: dict[str, object] = rows[0]
            return found
        assert time.monotonic() < deadline, f"{workflow_id} is not among the failures"
        await asyncio.sleep(0.2)


async def test_a_damaged_image_fails_the_run_rather_than_waiting_for_an_operator(
    ap_env: ApEnv,
) -> None:
    broken_png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    handle = await start_invoice(ap_env.client, ap_env.settings, ap_env.sessions, broken_png)

    await assert_failed_for_the_operator(
        handle,
        StepFailure(
            step="extract_invoice",
            reason="CorruptImage",
            details="the image is damaged or not a PNG or JPEG (UnidentifiedImageError)",
            criticality="high",
        ),
    )
