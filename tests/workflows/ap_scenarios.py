"""AP invoice paths, shared by the workflow tests and the history recorder.

Each path stores sample invoices (built like a supplier's text PDF, against acme's demo purchase
orders PO-1001 and PO-1002) in the run's working folder, starts a real `ApInvoiceWorkflow` as
Priya (AP clerk) and drives it with the Updates the API sends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle

from activities.storage import build_object_store
from config.settings import Settings
from db.engine import session_scope
from db.tables import ErpConnection, ProcessTemplate
from models.ap_invoice import (
    ApInvoiceInput,
    ApInvoiceResult,
    CorrectionRequest,
    FieldCorrections,
    InvoiceView,
    RetryRequest,
    ap_workflow_id,
    working_folder,
)
from models.approvals import DecisionRequest, RunView
from starter.sample_invoices import demo_samples
from tests.workflows.leave_scenarios import person
from workflows.ap_invoice import ApInvoiceWorkflow

PRIYA = "priya.nair@acme.example"
MARCUS = "marcus.weber@acme.example"
OLIVER = "oliver.grant@acme.example"
LIAM = "liam.walker@acme.example"

Handle = WorkflowHandle[ApInvoiceWorkflow, ApInvoiceResult]
Sessions = async_sessionmaker[AsyncSession]

QUIET_SLA = {"reminders": 0, "escalate_after": "1h", "deadline": "2h"}


async def set_ap_template(sessions: Sessions, **overrides: Any) -> None:
    """acme's override of the AP template: quick retries, quiet SLAs, plus `overrides`."""
    body: dict[str, Any] = {
        "steps": {
            "notify": {"retry": {"count": 2, "interval": "1s"}},
            "fetch_po": {"retry": {"count": 1, "interval": "1s"}},
            "post_to_erp": {"retry": {"count": 1, "interval": "1s"}},
        },
        "settings": {"exception": {"sla": QUIET_SLA}, "operator": {"sla": QUIET_SLA}},
    }
    for key, value in overrides.items():
        body[key] = {**body.get(key, {}), **value}
    async with session_scope(sessions) as session:
        query = select(ProcessTemplate).where(
            ProcessTemplate.org_id == "acme", ProcessTemplate.process == "ap_invoice"
        )
        row = (await session.exec(query)).first()
        text = yaml.safe_dump(body)
        if row is None:
            session.add(ProcessTemplate(org_id="acme", process="ap_invoice", body_yaml=text))
        else:
            row.body_yaml = text
            session.add(row)


async def set_erp(sessions: Sessions, plugin: str, settings: dict[str, Any]) -> None:
    """acme's ERP connection."""
    async with session_scope(sessions) as session:
        row = await session.get(ErpConnection, "acme")
        if row is None:
            session.add(ErpConnection(org_id="acme", plugin=plugin, settings=settings))
        else:
            row.plugin, row.settings = plugin, settings
            session.add(row)


async def start_invoice(
    client: Client,
    settings: Settings,
    sessions: Sessions,
    pdf: bytes,
    *,
    transaction_id: str | None = None,
) -> Handle:
    """Store the PDF in a new working folder and start its run as Priya."""
    transaction = transaction_id or str(uuid.uuid4())
    folder = working_folder("acme", transaction)
    store = build_object_store(settings)
    await store.put(f"{folder}/invoice.pdf", pdf, content_type="application/pdf")
    return await client.start_workflow(
        ApInvoiceWorkflow.run,
        ApInvoiceInput(
            org="acme",
            transaction_id=transaction,
            working_folder=folder,
            invoice_file=f"{folder}/invoice.pdf",
            initiator=await person(sessions, PRIYA),
        ),
        id=ap_workflow_id("acme", transaction),
        task_queue=settings.task_queues().workflows,
    )


async def wait_for_step(handle: Handle, prefix: str, within: float = 60) -> RunView:
    """The run's view once a task whose step starts with `prefix` is pending and assigned."""
    deadline = time.monotonic() + within
    while True:
        view = await handle.query(ApInvoiceWorkflow.view)
        task = view.current
        if task is not None and task.step.startswith(prefix) and task.assignees:
            return view
        if view.outcome is not None:
            raise AssertionError(f"the run ended {view.outcome}: {view.outcome_reason}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {prefix} step within {within}s; at {view.stage}")
        await asyncio.sleep(0.2)


async def invoice_of(handle: Handle) -> InvoiceView:
    """The run's invoice view."""
    return await handle.query(ApInvoiceWorkflow.invoice_view)


def unique(suffix: str) -> str:
    """A suffix that keeps invoice numbers of separate runs apart."""
    return f"-{suffix}-{uuid.uuid4().hex[:6]}"


Path = Callable[[Client, Settings, Sessions], Awaitable[Handle]]


async def auto_approve_path(client: Client, settings: Settings, sessions: Sessions) -> Handle:
    """A matched invoice under the threshold: approved by nobody, posted once."""
    await set_ap_template(sessions)
    invoice = demo_samples(unique("auto"))["matched-under-threshold"]
    return await start_invoice(client, settings, sessions, invoice.pdf())


async def exception_path(client: Client, settings: Settings, sessions: Sessions) -> Handle:
    """Prices differ from the PO: Priya checks the PO number (a correction, so the invoice is
    verified again), then accepts the price difference; Marcus approves and it is posted."""
    await set_ap_template(sessions)
    invoice = demo_samples(unique("exc"))["price-differs-from-po"]
    handle = await start_invoice(client, settings, sessions, invoice.pdf())
    priya = await person(sessions, PRIYA)
    await wait_for_step(handle, "exception")
    await handle.execute_update(
        ApInvoiceWorkflow.correct,
        CorrectionRequest(
            actor=priya,
            fields=FieldCorrections(po_number="PO-1001"),
            comment="PO number checked against the order",
        ),
    )
    await wait_for_step(handle, "exception_2")
    await handle.execute_update(
        ApInvoiceWorkflow.decide,
        DecisionRequest(actor=priya, decision="approve", comment="price rise agreed by phone"),
    )
    await wait_for_step(handle, "approval")
    marcus = await person(sessions, MARCUS)
    await handle.execute_update(
        ApInvoiceWorkflow.decide, DecisionRequest(actor=marcus, decision="approve")
    )
    return handle


async def duplicate_path(client: Client, settings: Settings, sessions: Sessions) -> Handle:
    """The same invoice twice: the second run ends as a duplicate naming the first."""
    await set_ap_template(sessions)
    invoice = demo_samples(unique("dup"))["matched-under-threshold"]
    first = await start_invoice(client, settings, sessions, invoice.pdf())
    await first.result()
    return await start_invoice(client, settings, sessions, invoice.pdf())


async def broken_file_path(client: Client, settings: Settings, sessions: Sessions) -> Handle:
    """A damaged PDF: the extract step fails with its reason and the run fails."""
    await set_ap_template(sessions)
    return await start_invoice(client, settings, sessions, b"%PDF-1.4\n1 0 obj <<\n%%EOF")


async def operator_retry_path(client: Client, settings: Settings, sessions: Sessions) -> Handle:
    """The ERP is down past its retries: an operator task; once the ERP is fixed, the
    operator retries and the invoice is posted."""
    await set_ap_template(sessions)
    await set_erp(
        sessions, "rest_webhook", {"base_url": "http://127.0.0.1:9", "timeout_seconds": 1}
    )
    invoice = demo_samples(unique("erp"))["matched-under-threshold"]
    handle = await start_invoice(client, settings, sessions, invoice.pdf())
    await wait_for_step(handle, "operator")
    await set_erp(sessions, "export", {})
    oliver = await person(sessions, OLIVER)
    await handle.execute_update(
        ApInvoiceWorkflow.retry_step, RetryRequest(actor=oliver, comment="ERP is back")
    )
    return handle
