"""The AP invoice API on a real Temporal server.

Priya (acme AP clerk) uploads invoices; Oliver (acme operator) steers runs; Emma (acme
employee) and Tomas (globex AP clerk) learn nothing of acme's invoices. Most tests start runs
on queues no worker polls, so they hold whatever the AP activities do; the tests at the end run
the real `ApInvoiceWorkflow` with stand-ins for the document activities, so a run fails a step.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.storage import LocalObjectStore, ObjectStore
from api.invoice_search import InvoiceFilters, invoices_query, text_literal
from api.state import AppState
from config.settings import Settings
from models.ap_invoice import ApInvoiceInput, InvoiceManifest
from models.invoices import ExtractedInvoice, ExtractRequest
from starter.demo_data import AP_CLERK, EMPLOYEE, GLOBEX_EMPLOYEE, OPERATOR
from tests.api.conftest import PUBLIC_URL, LoginAs
from worker import build_activity_deps
from workflows.ap_invoice import ApInvoiceWorkflow

Headers = dict[str, str]
LIMIT = 64 * 1024
PDF_BYTES = b"%PDF-1.7\n1 0 obj <<>> endobj\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
PRIYA, OLIVER, EMMA, TOMAS = AP_CLERK.email, OPERATOR.email, EMPLOYEE.email, GLOBEX_EMPLOYEE.email
T = TypeVar("T")


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """The suite's settings with a small upload limit, so a too-large file stays small."""
    storage = api_settings.storage.model_copy(update={"max_attachment_bytes": LIMIT})
    return api_settings.model_copy(update={"storage": storage})


def stored_files(baton: AppState) -> list[str]:
    """Every object in the local store (partial writes included), as keys."""
    store = baton.store
    assert isinstance(store, LocalObjectStore)
    if not store.root.exists():
        return []
    return sorted(
        p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()
    )


async def upload(
    client: httpx.AsyncClient,
    headers: Headers,
    transaction_id: str | None = None,
    **files: tuple[str, bytes, str],
) -> httpx.Response:
    """POST /invoices as a browser form would; the invoice is a PDF unless given."""
    files.setdefault("invoice", ("invoice 4711.pdf", PDF_BYTES, "application/pdf"))
    data = {"transaction_id": transaction_id} if transaction_id else None
    return await client.post("/invoices", files=files, data=data, headers=headers)


async def started(client: httpx.AsyncClient, headers: Headers, **files: Any) -> dict[str, Any]:
    """An upload that started a run: its transaction id, workflow id and links."""
    response = await upload(client, headers, str(uuid.uuid4()), **files)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """Ask until the answer is done (visibility trails a run's changes by a moment)."""
    deadline = time.monotonic() + 20
    while True:
        answer = await probe()
        if done(answer):
            return answer
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.2)


async def report(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    """GET /invoices with the filters; 200 expected."""
    response = await client.get("/invoices", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def runs_under(temporal_client: Client, workflow_id: str) -> int:
    """How many runs visibility lists under a workflow id, once it lists any."""
    query = f"WorkflowId = '{workflow_id}'"
    found = await eventually(lambda: temporal_client.count_workflows(query), lambda c: c.count > 0)
    return found.count


def ids(page: dict[str, Any]) -> set[str]:
    """The workflow ids of a report page."""
    return {row["workflow_id"] for row in page["rows"]}


# -- uploads that are refused store nothing and start nothing ----------------------------------


async def test_an_upload_needs_a_login_and_a_role_that_may_start(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    anonymous = await upload(client, {})
    employee = await upload(client, await login_as(EMMA))

    assert anonymous.status_code == 401
    assert employee.status_code == 403
    assert stored_files(baton) == []


async def test_a_text_file_named_pdf_is_refused_naming_its_part(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    priya = await login_as(PRIYA)
    fake = ("invoice.pdf", b"Pay 100 EUR to the account below.\n", "application/pdf")

    invoice = await upload(client, priya, invoice=fake)
    po = await upload(client, priya, po=fake)

    assert invoice.status_code == 415, invoice.text
    assert "'invoice'" in invoice.json()["detail"]
    assert po.status_code == 415, po.text
    assert "'po'" in po.json()["detail"]
    assert stored_files(baton) == []


@pytest.mark.parametrize(
    ("files", "data", "why"),
    [
        ({"po": ("po.pdf", PDF_BYTES, "application/pdf")}, {}, "part named 'invoice'"),
        ({"invoice": ("a.pdf", b"", "application/pdf")}, {}, "empty"),
        ({"invoice": ("a.pdf", PDF_BYTES, "application/pdf")}, {"note": "hi"}, "Unknown parts"),
        ({"invoice": ("a.pdf", PDF_BYTES, "application/pdf")}, {"transaction_id": "42"}, "UUID"),
        ({"invoice": ("a.pdf", PDF_BYTES, "application/pdf")}, {"po": "text"}, "'po' as a file"),
    ],
)
async def test_an_incomplete_upload_is_unprocessable(
    client: httpx.AsyncClient,
    login_as: LoginAs,
    baton: AppState,
    files: dict[str, Any],
    data: dict[str, str],
    why: str,
) -> None:
    response = await client.post("/invoices", files=files, data=data, headers=await login_as(PRIYA))

    assert response.status_code == 422, response.text
    assert why in response.json()["detail"]
    assert stored_files(baton) == []


async def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    priya = await login_as(PRIYA)
    big = ("grn.jpg", JPEG_BYTES + bytes(LIMIT), "image/jpeg")
    at_limit = ("po.pdf", PDF_BYTES + b" " * (LIMIT - len(PDF_BYTES)), "application/pdf")

    too_large = await upload(client, priya, po=at_limit, grn=big)
    fits = await upload(client, priya, po=at_limit)

    assert too_large.status_code == 413, too_large.text
    assert "'grn'" in too_large.json()["detail"]
    assert fits.status_code == 201, fits.text
    folder = f"acme/ap_invoice/{fits.json()['transaction_id']}"
    assert stored_files(baton) == [f"{folder}/invoice.pdf", f"{folder}/po.pdf"]


async def test_a_huge_upload_is_not_read_past_the_limit(
    client: httpx.AsyncClient, login_as: LoginAs, baton: AppState
) -> None:
    sent = 0

    async def endless_invoice() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            b'--cut\r\nContent-Disposition: form-data; name="invoice"; filename="x.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
        )
        for _ in range(10_000):  # 160 MB if it were all read
            sent += 16 * 1024
            yield b"0" * 16 * 1024

    response = await client.post(
        "/invoices",
        content=endless_invoice(),
        headers={**await login_as(PRIYA), "Content-Type": "multipart/form-data; boundary=cut"},
    )

    assert response.status_code == 413, response.text
    assert sent <= 2 * LIMIT
    assert stored_files(baton) == []


# -- starting a run ---------------------------------------------------------------------------


async def test_an_upload_stores_the_files_and_starts_one_run(
    client: httpx.AsyncClient,
    login_as: LoginAs,
    baton: AppState,
    temporal_client: Client,
) -> None:
    priya = await login_as(PRIYA)
    transaction_id = str(uuid.uuid4())

    response = await upload(
        client,
        priya,
        transaction_id,
        po=("order.png", PNG_BYTES, "image/png"),
        grn=("receipt.pdf", JPEG_BYTES, "application/pdf"),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    workflow_id = f"acme:ap_invoice:{transaction_id}"
    assert (body["transaction_id"], body["workflow_id"]) == (transaction_id, workflow_id)
    assert body["links"]["invoice"] == f"{PUBLIC_URL}/invoices/{transaction_id}"
    assert body["links"]["run"] == f"{PUBLIC_URL}/runs/{workflow_id}"
    folder = f"acme/ap_invoice/{transaction_id}"
    files = [f"{folder}/grn.jpg", f"{folder}/invoice.pdf", f"{folder}/po.png"]
    assert stored_files(baton) == files
    assert await baton.store.get(f"{folder}/invoice.pdf") == PDF_BYTES

    handle = temporal_client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    assert description.workflow_type == "ApInvoiceWorkflow"
    assert description.task_queue == baton.settings.task_queues().workflows
    assert await description.memo_value("sender") == PRIYA
    assert await description.memo_value("source") == "api"
    started_event = (await handle.fetch_history()).events[0]
    payloads = started_event.workflow_execution_started_event_attributes.input.payloads
    [run] = await temporal_client.data_converter.decode(payloads, [ApInvoiceInput])
    assert (run.org, run.working_folder, run.source) == ("acme", folder, "api")
    assert (run.invoice_file, run.po_file, run.grn_file) == (files[1], files[2], files[0])
    assert (run.initiator.email, run.initiator.department) == (PRIYA, "Finance")


async def test_the_same_transaction_id_never_starts_a_second_run(
    client: httpx.AsyncClient,
    login_as: LoginAs,
    baton: AppState,
    temporal_client: Client,
) -> None:
    priya, oliver = await login_as(PRIYA), await login_as(OLIVER)
    transaction_id = str(uuid.uuid4())
    first = await upload(client, priya, transaction_id)
    handle = temporal_client.get_workflow_handle(first.json()["workflow_id"])
    run_id = (await handle.describe()).run_id
    other = ("other.png", PNG_BYTES, "image/png")

    again = await upload(client, oliver, transaction_id.upper(), invoice=other)
    racing_id = str(uuid.uuid4())
    racing = await asyncio.gather(*(upload(client, priya, racing_id) for _ in range(3)))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["workflow_id"] == handle.id
    assert (await handle.describe()).run_id == run_id
    folder = f"acme/ap_invoice/{transaction_id}"
    assert await baton.store.get(f"{folder}/invoice.pdf") == PDF_BYTES
    assert f"{folder}/invoice.png" not in stored_files(baton)
    assert sorted(r.status_code for r in racing) == [200, 200, 201]
    for workflow_id in (handle.id, f"acme:ap_invoice:{racing_id}"):
        assert await runs_under(temporal_client, workflow_id) == 1


async def test_without_a_transaction_id_each_upload_gets_its_own(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    priya = await login_as(PRIYA)

    first, second = await upload(client, priya), await upload(client, priya)

    assert (first.status_code, second.status_code) == (201, 201)
    numbers = {first.json()["transaction_id"], second.json()["transaction_id"]}
    assert len(numbers) == 2
    assert all(uuid.UUID(number).version == 4 for number in numbers)


async def test_another_orgs_transaction_is_not_found(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    transaction_id = (await started(client, await login_as(PRIYA)))["transaction_id"]
    tomas = await login_as(TOMAS)

    answers = [
        await client.get(f"/invoices/{transaction_id}", headers=tomas),
        await client.get(f"/invoices/{uuid.uuid4()}", headers=tomas),
        await client.get("/invoices/not-a-uuid", headers=tomas),
        await client.post(f"/invoices/{transaction_id}/corrections", json={}, headers=tomas),
    ]

    assert [answer.status_code for answer in answers] == [404] * 4
    assert answers[0].json() == answers[2].json() == {"detail": "No such run"}


# -- reports ----------------------------------------------------------------------------------


def test_report_queries_start_with_the_org_and_quote_every_value() -> None:
    filters = InvoiceFilters(
        status="waiting",
        stage="review",
        supplier="O'Brien & Söhne Ltd.",
        invoice_number="INV/2027 001",
        failure_reason="NotAPdf",
        failed=True,
        received_from=datetime(2027, 1, 1, tzinfo=UTC),
        received_to=datetime(2027, 2, 1, 12, 30),
    )

    assert invoices_query("acme", filters) == (
        "BatonOrg = 'acme' AND BatonProcess = 'ap_invoice' AND BatonRunState = 'waiting'"
        " AND BatonStage = 'review' AND BatonFailureReason = 'NotAPdf'"
        " AND BatonSupplier = 'O''Brien & Söhne Ltd.'"
        " AND BatonInvoiceNumber = 'INV/2027 001' AND ExecutionStatus = 'Running'"
        " AND BatonFailureReason IS NOT NULL AND StartTime >= '2027-01-01T00:00:00Z'"
        " AND StartTime <= '2027-02-01T12:30:00Z'"
    )
    assert invoices_query("globex", InvoiceFilters()) == (
        "BatonOrg = 'globex' AND BatonProcess = 'ap_invoice'"
    )


@pytest.mark.parametrize("value", ["a\\' OR 1=1", 'say "hi"', "tab\there", "line\nbreak"])
def test_names_that_visibility_cannot_match_safely_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a safe filter value"):
        text_literal(value)


async def test_the_report_lists_the_orgs_runs_with_their_memo_and_filters(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    priya, tomas = await login_as(PRIYA), await login_as(TOMAS)
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    mine = {(await started(client, priya))["workflow_id"] for _ in range(2)}

    page = await eventually(
        lambda: report(client, priya, received_from=since, stage="starting", status="running"),
        lambda page: mine <= ids(page),
    )
    rows = [row for row in page["rows"] if row["workflow_id"] in mine]
    assert {(row["sender"], row["source"], row["stage"], row["status"]) for row in rows} == {
        (PRIYA, "api", "starting", "running")
    }
    assert all(row["workflow_id"].endswith(row["transaction_id"]) for row in rows)
    assert all(row["closed_at"] is None and row["failure_reason"] is None for row in rows)
    posted = await report(client, priya, received_from=since, status="posted")
    sneaky = await report(client, priya, supplier="x' OR BatonOrg = 'acme")
    globex = await report(client, tomas, received_from=since)
    assert not mine & (ids(posted) | ids(sneaky) | ids(globex))
    assert all(row["workflow_id"].startswith("globex:") for row in globex["rows"])


async def test_the_report_pages_through_runs(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    priya = await login_as(PRIYA)
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    mine = {(await started(client, priya))["workflow_id"] for _ in range(3)}
    await eventually(lambda: report(client, priya, received_from=since), lambda p: mine <= ids(p))

    seen: list[str] = []
    token = None
    for _ in range(20):
        params = {"received_from": since, "limit": 1, **({"page_token": token} if token else {})}
        page = await report(client, priya, **params)
        assert len(page["rows"]) <= 1
        seen += ids(page)
        token = page["next_page_token"]
        if token is None:
            break
    assert mine <= set(seen)
    assert len(seen) == len(set(seen))
    first = await report(client, priya, received_from=since, limit=1)
    other_filters = await client.get(
        "/invoices",
        params={"limit": 1, "page_token": first["next_page_token"]},
        headers=priya,
    )
    assert other_filters.status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"supplier": "back\\slash"},
        {"stage": "review' OR 'a'='a"},
        {"status": "lost"},
        {"limit": 501},
        {"page_token": "!!!"},
        {"page_token": "Z2FyYmFnZQ=="},
        {"colour": "red"},
    ],
)
async def test_bad_report_filters_are_unprocessable(
    client: httpx.AsyncClient, login_as: LoginAs, params: dict[str, Any]
) -> None:
    response = await client.get("/invoices", params=params, headers=await login_as(PRIYA))

    assert response.status_code == 422, response.text


async def test_reports_need_an_ap_role(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    emma = await login_as(EMMA)

    answers = [await client.get(path, headers=emma) for path in ("/invoices", "/invoices/failures")]

    assert [answer.status_code for answer in answers] == [403, 403]


# -- runs of the real workflow, with the document activities stood in for --------------------


class DocumentStandIns:
    """Extraction that fails the way the content asks: `OCR-CRASH` as a technical failure
    (an operator is asked), anything else as a file that is no PDF (the run fails)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    @activity.defn(name="extract_invoice")
    async def extract_invoice(self, request: ExtractRequest) -> ExtractedInvoice:
        """Never reads anything."""
        if b"OCR-CRASH" in await self.store.get(request.key):
            raise ApplicationError("the OCR engine crashed", type="OcrCrashed", non_retryable=True)
        raise ApplicationError("this file is not a PDF", type="NotAPdf", non_retryable=True)

    @activity.defn(name="store_invoice_manifest")
    async def store_invoice_manifest(self, manifest: InvoiceManifest) -> None:
        """Keeps nothing."""


@pytest.fixture
async def ap_workers(baton: AppState, temporal_client: Client) -> AsyncIterator[None]:
    """The AP workflow on the app's queues, real directory, template and mail activities."""
    deps = build_activity_deps(baton.settings, baton.sessions)
    queues = baton.settings.task_queues()
    stand_ins = DocumentStandIns(baton.store)
    io: list[Callable[..., Any]] = [
        deps.templates.load_process_policies,
        deps.directory.resolve_assignees,
        deps.directory.find_person,
        deps.directory.find_manager,
        deps.notify.send_email,
        stand_ins.store_invoice_manifest,
    ]
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with (
            Worker(temporal_client, task_queue=queues.workflows, workflows=[ApInvoiceWorkflow]),
            Worker(
                temporal_client, task_queue=queues.io, activities=io, activity_executor=executor
            ),
            Worker(
                temporal_client,
                task_queue=queues.documents,
                activities=[stand_ins.extract_invoice],
                activity_executor=executor,
            ),
        ):
            yield


async def invoice(client: httpx.AsyncClient, headers: Headers, transaction_id: str) -> Any:
    """GET /invoices/{transaction_id}; 200 expected."""
    response = await client.get(f"/invoices/{transaction_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def waiting_step(view: dict[str, Any]) -> str | None:
    """The step of the run's pending task, if any."""
    pending = [task["step"] for task in view["run"]["tasks"] if task["status"] == "pending"]
    return pending[0] if pending else None


OCR_CRASH = ("scan.pdf", PDF_BYTES + b"OCR-CRASH", "application/pdf")


@pytest.mark.usefixtures("ap_workers")
async def test_operators_retry_or_continue_a_failed_step_and_others_are_refused(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    priya, oliver, emma = await login_as(PRIYA), await login_as(OLIVER), await login_as(EMMA)
    transaction_id = (await started(client, priya, invoice=OCR_CRASH))["transaction_id"]
    path = f"/invoices/{transaction_id}"
    view = await eventually(
        lambda: invoice(client, priya, transaction_id), lambda v: waiting_step(v) is not None
    )
    assert (waiting_step(view), view["failed_stage"]) == ("operator", "extract_invoice")
    assert view["failures"][0]["reason"] == "OcrCrashed"

    hidden = await client.get(path, headers=emma)
    correction = await client.post(
        f"{path}/corrections", json={"fields": {"currency": "EUR"}}, headers=priya
    )
    unknown_field = await client.post(
        f"{path}/corrections", json={"fields": {"colour": "red"}}, headers=priya
    )
    clerk_continues = await client.post(f"{path}/continue", json={"stage": "verify"}, headers=priya)
    too_early = await client.post(f"{path}/continue", json={"stage": "verify"}, headers=oliver)
    no_stage = await client.post(f"{path}/continue", json={"stage": "lunch"}, headers=oliver)
    retried = await client.post(f"{path}/retry", json={"comment": "OCR is back"}, headers=oliver)

    assert hidden.status_code == 404
    assert correction.status_code == 409, correction.text
    assert "exception" in correction.json()["detail"]
    assert (unknown_field.status_code, clerk_continues.status_code) == (422, 403)
    assert too_early.status_code == 409, too_early.text
    assert no_stage.status_code == 422
    assert retried.status_code == 200, retried.text
    assert "retried" in [t["kind"] for t in retried.json()["transitions"]]
    again = await eventually(
        lambda: invoice(client, oliver, transaction_id), lambda v: waiting_step(v) == "operator_2"
    )
    assert len(again["failures"]) == 2
    run = await client.get(f"/runs/acme:ap_invoice:{transaction_id}", headers=oliver)
    assert (run.status_code, run.json()["stage"]) == (200, "operator_2")


@pytest.mark.usefixtures("ap_workers")
async def test_failed_runs_are_reported_with_their_reasons(
    client: httpx.AsyncClient, login_as: LoginAs, temporal_client: Client
) -> None:
    priya = await login_as(PRIYA)
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    broken = (await started(client, priya))["workflow_id"]
    stuck = (await started(client, priya, invoice=OCR_CRASH))["workflow_id"]
    await temporal_client.get_workflow_handle(broken).result()

    failed = await eventually(
        lambda: report(client, priya, received_from=since, failed=True),
        lambda page: {broken, stuck} <= ids(page),
    )
    reasons = {row["workflow_id"]: (row["status"], row["failure_reason"]) for row in failed["rows"]}
    assert reasons[broken] == ("failed", "NotAPdf")
    assert reasons[stuck] == ("waiting", "OcrCrashed")
    only_pdf = await report(client, priya, received_from=since, failure_reason="NotAPdf")
    outcome = await report(client, priya, received_from=since, status="failed")
    assert ids(only_pdf) & {broken, stuck} == ids(outcome) & {broken, stuck} == {broken}

    failures = await eventually(
        lambda: client.get("/invoices/failures", params={"limit": 100}, headers=priya),
        lambda r: {broken, stuck} <= {row["workflow_id"] for row in r.json()["rows"]},
    )
    rows = {row["workflow_id"]: row for row in failures.json()["rows"]}
    assert "NotAPdf" in rows[broken]["details"]
    assert rows[broken]["closed_at"] is not None
    assert rows[stuck]["details"] is None
    description = await temporal_client.get_workflow_handle(broken).describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
