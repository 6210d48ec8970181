"""`POST /invoices`: upload an invoice (and its PO and GRN) and start its `ApInvoiceWorkflow` run.

The transaction id is the run's business key: one transaction id never starts two runs. A
repeat finds the run first and answers it (200) without storing anything; a first upload
stores the files in the run's working folder, then starts the run with
`REJECT_DUPLICATE` / `USE_EXISTING`, so even a race between two API processes ends in one run.
If the start fails, the files stay: sending the same upload with the same transaction id
again is the way to retry.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.ap_invoice_start import start_ap_invoice
from activities.storage import ObjectStore, StorageError, storage_key
from api.deps import SessionDep, SettingsDep, StoreDep, TemporalDep
from api.routes.invoices.access import Starter
from api.routes.invoices.upload import (
    GRN_PART,
    INVOICE_PART,
    PO_PART,
    UPLOAD_BODY,
    InvoiceUpload,
    receive_invoice,
)
from api.run_access import caller
from config.settings import Settings
from models.ap_invoice import PROCESS_NAME, ApInvoiceInput, ap_workflow_id, working_folder
from models.approvals import Person

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/invoices", tags=["invoices"])


_start_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
"""One lock per workflow id while it is checked, stored and started (a double-click in this
process never stores twice); a lock lives while someone holds it."""


class InvoiceStarted(BaseModel):
    """The run that carries the invoice, and where to follow it."""

    transaction_id: str
    workflow_id: str
    links: dict[str, str] = Field(
        description="`invoice` (this API's view), `run` (its tasks), `temporal_ui` (the Web UI)"
    )


def _unavailable(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"{what}; send the same upload with the same transaction_id again",
    )


def _links(settings: Settings, transaction_id: str, workflow_id: str) -> dict[str, str]:
    api = settings.api.public_url.rstrip("/")
    ui = settings.temporal.ui_url.rstrip("/")
    namespace = quote(settings.temporal.namespace, safe="")
    return {
        "invoice": f"{api}/invoices/{transaction_id}",
        "run": f"{api}/runs/{quote(workflow_id, safe=':')}",
        "temporal_ui": f"{ui}/namespaces/{namespace}/workflows/{quote(workflow_id, safe=':')}",
    }


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        logger.warning("could not look up run %s: %s", workflow_id, error)
        raise _unavailable("Temporal cannot be asked right now") from error
    return True


async def _store(
    store: ObjectStore, initiator: Person, transaction_id: str, upload: InvoiceUpload
) -> ApInvoiceInput:
    """Store the files in the run's working folder; the run's input naming them."""
    keys: dict[str, str] = {}
    try:
        for part, file in upload.files.items():
            keys[part] = storage_key(initiator.org, PROCESS_NAME, transaction_id, file.name)
            await store.put(keys[part], file.data, file.kind.content_type)
    except StorageError as error:
        logger.warning("could not store the files of %s: %s", transaction_id, error)
        raise _unavailable("Files cannot be stored right now") from error
    return ApInvoiceInput(
        org=initiator.org,
        transaction_id=transaction_id,
        working_folder=working_folder(initiator.org, transaction_id),
        invoice_file=keys[INVOICE_PART],
        po_file=keys.get(PO_PART),
        grn_file=keys.get(GRN_PART),
        source="api",
        initiator=initiator,
    )


async def _start(client: Client, settings: Settings, run: ApInvoiceInput, workflow_id: str) -> None:
    """Start the run; one already under this id (a race) is left as it is."""
    try:
        await start_ap_invoice(
            client,
            settings.task_queues().workflows,
            run,
            sender=run.initiator.email,
            received_at=datetime.now(UTC),
            summary=f"Invoice {run.transaction_id} uploaded by {run.initiator.email}",
        )
    except RPCError as error:
        logger.warning("could not start run %s: %s", workflow_id, error)
        raise _unavailable("The run could not be started") from error


@router.post(
    "",
    response_model=InvoiceStarted,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": InvoiceStarted,
            "description": "A run for this transaction id exists already; nothing was stored",
        },
        413: {"description": "A file is larger than the configured limit; nothing was stored"},
        415: {"description": "Not multipart, or a part is not a PDF, PNG or JPEG (part named)"},
        422: {"description": "No invoice part, an empty file, an unknown part or a bad UUID"},
        503: {"description": "Storage or Temporal is unavailable; retry the same upload"},
    },
    openapi_extra=UPLOAD_BODY,
)
async def upload_invoice(
    request: Request,
    response: Response,
    principal: Starter,
    client: TemporalDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> InvoiceStarted:
    """Upload an invoice (multipart: `invoice`, optional `po`, `grn`, `transaction_id`).

    PDF, PNG or JPEG, judged by content, each file up to the configured limit. Starts the
    invoice's run (201); the same transaction id again answers the existing run (200).
    """
    upload = await receive_invoice(request, settings.storage.max_attachment_bytes)
    initiator = await caller(session, principal)
    transaction_id = upload.transaction_id or str(uuid.uuid4())
    workflow_id = ap_workflow_id(initiator.org, transaction_id)
    lock = _start_locks.setdefault(workflow_id, asyncio.Lock())
    async with lock:
        if await _exists(client, workflow_id):
            response.status_code = status.HTTP_200_OK
        else:
            run = await _store(store, initiator, transaction_id, upload)
            await _start(client, settings, run, workflow_id)
            logger.info("started %s for %s", workflow_id, initiator.email)
    return InvoiceStarted(
        transaction_id=transaction_id,
        workflow_id=workflow_id,
        links=_links(settings, transaction_id, workflow_id),
    )
