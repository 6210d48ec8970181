"""AP invoice reports from Temporal visibility: safe list-filter queries, report rows, paging.

Every query starts with the caller's org and the `ap_invoice` process. Identifier-like values
(stage, failure reason) must match `SAFE_VALUE`; names (supplier, invoice number) may hold any
printable text but a backslash or a double quote, and their single quotes are doubled, so user
input can never change the query's shape. The API's start path sets the org, process, stage and
state of a run at start and a memo (`sender`, `received_at`, `source`), so a run is listed even
before a worker picks it up.

Temporal's SQL visibility (the dev server, PostgreSQL, MySQL) accepts neither `ORDER BY` nor
`GROUP BY` on custom attributes: lists come in its own order (open runs first, newest first; then
closed runs, most recently closed first) and stage counts are one count per stage.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.service import RPCError

from activities.signed_tokens import BadToken, read_token, sign_token
from api.run_search import SAFE_VALUE, literal, timestamp
from config.temporal_names import (
    AMOUNT,
    FAILURE_REASON,
    INVOICE_NUMBER,
    ORG,
    PROCESS,
    RUN_STATE,
    STAGE,
    SUPPLIER,
)
from models.ap_invoice import (
    MEMO_SENDER,
    MEMO_SOURCE,
    PROCESS_NAME,
    ApInvoiceResult,
)

logger = logging.getLogger(__name__)

"""Memo keys an AP run is started with, for reports (who sent it, when, by which channel)."""

ApRunState = Literal[
    "running", "waiting", "posted", "approved", "rejected", "duplicate", "failed", "expired"
]
OPEN_STATES = ("running", "waiting")
MAX_NAME_LENGTH = 200
"""The workflow keeps at most this much of a supplier name or invoice number."""
_FORBIDDEN_IN_NAMES = ('"', "\\")
"""Characters Temporal's SQL visibility cannot match reliably, however they are escaped."""
DETAILS_TIMEOUT = timedelta(seconds=5)
DETAILS_AT_ONCE = 8
"""Runs whose failure details are read at the same time."""
PAGE_PURPOSE = b"baton-invoice-report-page"


class InvoiceFilters(BaseModel):
    """Filters of the invoice report; each one narrows it."""

    model_config = ConfigDict(extra="forbid")

    status: ApRunState | None = Field(default=None, description="the run's state or outcome")
    stage: str | None = Field(default=None, pattern=SAFE_VALUE, examples=["review"])
    supplier: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    invoice_number: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    failure_reason: str | None = Field(default=None, pattern=SAFE_VALUE, examples=["NotAPdf"])
    failed: bool = Field(default=False, description="only runs that recorded a failure")
    received_from: datetime | None = None
    received_to: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    page_token: str | None = Field(default=None, max_length=4096, description="from a last page")


class InvoiceRow(BaseModel):
    """One AP run as the report shows it (search attributes and memo, no query to the run)."""

    transaction_id: str
    workflow_id: str
    received: datetime = Field(description="when the run started")
    sender: str | None
    source: str | None
    supplier: str | None
    invoice_number: str | None
    amount: Decimal | None
    status: str | None = Field(description="BatonRunState: waiting, running or the outcome")
    stage: str | None
    failure_reason: str | None
    closed_at: datetime | None


class InvoicePage(BaseModel):
    """One page of the report; pass `next_page_token` back as `page_token` for the next."""

    rows: list[InvoiceRow]
    next_page_token: str | None = None


class FailureRow(InvoiceRow):
    """A run that failed a step, with what the run said about it where it can be read."""

    details: str | None = None


class FailurePage(BaseModel):
    """One page of failed runs."""

    rows: list[FailureRow]
    next_page_token: str | None = None


class InvalidPageToken(ValueError):
    """A page token this API did not hand out."""


def text_literal(value: str) -> str:
    """A name quoted for a list filter: quotes doubled; backslashes, `"` and controls refused."""
    if any(char in value for char in _FORBIDDEN_IN_NAMES) or any(
        unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in value
    ):
        raise ValueError(f"not a safe filter value: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def ap_runs(org: str) -> list[str]:
    """The terms every AP query starts with: the org and the process."""
    return [f"{ORG.name} = {literal(org)}", f"{PROCESS.name} = {literal(PROCESS_NAME)}"]


def invoices_query(org: str, filters: InvoiceFilters) -> str:
    """The visibility query of an org's AP runs matching the filters."""
    terms = ap_runs(org)
    for key, value in (
        (RUN_STATE.name, filters.status),
        (STAGE.name, filters.stage),
        (FAILURE_REASON.name, filters.failure_reason),
    ):
        if value is not None:
            terms.append(f"{key} = {literal(value)}")
    for key, name in (
        (SUPPLIER.name, filters.supplier),
        (INVOICE_NUMBER.name, filters.invoice_number),
    ):
        if name is not None:
            terms.append(f"{key} = {text_literal(name)}")
    if filters.status in OPEN_STATES:
        terms.append("ExecutionStatus = 'Running'")
    if filters.failed:
        terms.append(f"{FAILURE_REASON.name} IS NOT NULL")
    if filters.received_from is not None:
        terms.append(f"StartTime >= {timestamp(filters.received_from)}")
    if filters.received_to is not None:
        terms.append(f"StartTime <= {timestamp(filters.received_to)}")
    return " AND ".join(terms)


def failures_query(org: str) -> str:
    """AP runs that failed a step and are failed or still open (resolved ones are left out)."""
    return " AND ".join(
        [
            *ap_runs(org),
            f"{FAILURE_REASON.name} IS NOT NULL",
            f"({RUN_STATE.name} = 'failed' OR ExecutionStatus = 'Running')",
        ]
    )


def _query_digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:32]


def _encode(secret_key: str, query: str, token: bytes | None) -> str | None:
    """The server's page token, signed and bound to its query (no one can forge or reuse it)."""
    if not token:
        return None
    body = {"q": _query_digest(query), "t": base64.b64encode(token).decode("ascii")}
    return sign_token(secret_key, PAGE_PURPOSE, body)


def _decode(secret_key: str, query: str, token: str | None) -> bytes | None:
    if token is None:
        return None
    try:
        body = read_token(secret_key, PAGE_PURPOSE, token)
        if body.get("q") != _query_digest(query):
            raise BadToken("the token belongs to other filters")
        return base64.b64decode(str(body["t"]), validate=True)
    except (BadToken, KeyError, binascii.Error) as error:
        raise InvalidPageToken("not a page token of this report with these filters") from error


async def invoice_row(execution: WorkflowExecution) -> InvoiceRow:
    """A run's report row from what visibility returns."""
    attributes = execution.typed_search_attributes
    amount = attributes.get(AMOUNT)
    memo: dict[str, str | None] = {}
    for key in (MEMO_SENDER, MEMO_SOURCE):
        value = await execution.memo_value(key, None)
        memo[key] = str(value) if value is not None else None
    return InvoiceRow(
        transaction_id=execution.id.split(":", 2)[-1],
        workflow_id=execution.id,
        received=execution.start_time,
        sender=memo[MEMO_SENDER],
        source=memo[MEMO_SOURCE],
        supplier=attributes.get(SUPPLIER),
        invoice_number=attributes.get(INVOICE_NUMBER),
        amount=Decimal(str(amount)) if amount is not None else None,
        status=attributes.get(RUN_STATE),
        stage=attributes.get(STAGE),
        failure_reason=attributes.get(FAILURE_REASON),
        closed_at=execution.close_time,
    )


@dataclass(frozen=True)
class Paging:
    """Which page of a list: its size, the token a last page gave, and the key tokens are
    signed with."""

    limit: int
    page_token: str | None
    secret_key: str


async def _page(
    client: Client, query: str, paging: Paging
) -> tuple[list[WorkflowExecution], str | None]:
    """One page of runs matching the query, and the token of the next page."""
    start = _decode(paging.secret_key, query, paging.page_token)
    executions = client.list_workflows(query, page_size=paging.limit, next_page_token=start)
    await executions.fetch_next_page()
    next_token = _encode(paging.secret_key, query, executions.next_page_token)
    return list(executions.current_page or []), next_token


async def find_invoices(client: Client, query: str, paging: Paging) -> InvoicePage:
    """One page of report rows matching a visibility query."""
    executions, next_token = await _page(client, query, paging)
    rows = [await invoice_row(execution) for execution in executions]
    return InvoicePage(rows=rows, next_page_token=next_token)


async def failure_details(client: Client, execution: WorkflowExecution) -> str | None:
    """What a closed run said when it ended (its result, from the close event alone)."""
    if execution.status not in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.FAILED):
        return None
    handle = client.get_workflow_handle(
        execution.id, run_id=execution.run_id, result_type=ApInvoiceResult
    )
    try:
        result: ApInvoiceResult = await handle.result(
            follow_runs=False, rpc_timeout=DETAILS_TIMEOUT
        )
    except WorkflowFailureError as error:
        return str(error.cause or error)
    except (TimeoutError, RPCError, ValueError) as error:
        logger.warning("could not read how run %s ended: %s", execution.id, error)
        return None
    return result.reason or None


async def find_failures(client: Client, query: str, paging: Paging) -> FailurePage:
    """One page of failed runs; closed ones carry the reason they ended with."""
    executions, next_token = await _page(client, query, paging)
    gate = asyncio.Semaphore(DETAILS_AT_ONCE)

    async def row(execution: WorkflowExecution) -> FailureRow:
        async with gate:
            details = await failure_details(client, execution)
        return FailureRow(**(await invoice_row(execution)).model_dump(), details=details)

    rows = await asyncio.gather(*(row(execution) for execution in executions))
    return FailurePage(rows=list(rows), next_page_token=next_token)
