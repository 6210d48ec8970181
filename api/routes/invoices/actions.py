"""One AP run by its transaction id: read its invoice view, correct it, continue or retry it.

Each action is one of the run's Temporal Updates with the caller as the actor; the workflow
decides (a correction needs the caller to hold the exception task, continue and retry need
an operator waiting step), and a refusal comes back with its reason and nothing written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Operator, SessionDep, TemporalDep
from api.routes.invoices.access import (
    READER_ROLES,
    Member,
    ask,
    invoice_workflow_id,
    open_invoice_run,
)
from api.routes.runs import REFUSALS
from api.run_access import open_run, send_update
from models.ap_invoice import (
    ContinueRequest,
    CorrectionRequest,
    FieldCorrections,
    InvoiceView,
    RetryRequest,
    Stage,
)
from models.approvals import RunView

router = APIRouter(prefix="/invoices", tags=["invoices"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such transaction in your org, or not one of yours"}
}
UPDATE_REFUSALS: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    403: {"description": "The run's rules do not let you do this (reason given)"},
    404: NOT_FOUND[404],
    503: {"description": "The run did not answer in time; check it before sending again"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorrectionBody(_Body):
    """Fields you set by hand (and the supplier), as the holder of the exception task."""

    fields: FieldCorrections = FieldCorrections()
    supplier_id: int | None = Field(default=None, description="the supplier the invoice is from")
    comment: str = Field(default="", max_length=4000)


class ContinueBody(_Body):
    """Continue a waiting run at a named stage after a manual override (operators)."""

    stage: Stage
    fields: FieldCorrections = FieldCorrections()
    comment: str = Field(default="", max_length=4000)


class RetryBody(_Body):
    """Run the failed step again (operators)."""

    comment: str = Field(default="", max_length=4000)


@router.get(
    "/{transaction_id}",
    response_model=InvoiceView,
    responses={**NOT_FOUND, 503: UPDATE_REFUSALS[503]},
)
async def get_invoice(
    transaction_id: str, principal: Member, client: TemporalDep, session: SessionDep
) -> InvoiceView:
    """The invoice as read and corrected, its checks, failures, posting and the run's tasks."""
    workflow_id = invoice_workflow_id(principal.org_id, transaction_id)
    if principal.has_any(READER_ROLES):
        handle = client.get_workflow_handle(workflow_id)
    else:
        handle = (await open_run(client, session, principal, workflow_id)).handle
    return await ask(handle, "invoice_view", InvoiceView)


@router.post("/{transaction_id}/corrections", response_model=RunView, responses=UPDATE_REFUSALS)
async def correct_invoice(
    transaction_id: str,
    body: CorrectionBody,
    principal: Member,
    client: TemporalDep,
    session: SessionDep,
) -> RunView:
    """Correct fields or the supplier of the exception you hold; the run verifies again."""
    run = await open_invoice_run(client, session, principal, transaction_id)
    request = CorrectionRequest(
        actor=run.actor, fields=body.fields, supplier_id=body.supplier_id, comment=body.comment
    )
    return await send_update(run, "correct", request)


@router.post("/{transaction_id}/continue", response_model=RunView, responses=UPDATE_REFUSALS)
async def continue_invoice(
    transaction_id: str,
    body: ContinueBody,
    principal: Operator,
    client: TemporalDep,
    session: SessionDep,
) -> RunView:
    """Continue the waiting run at a stage, with any fields set by hand (operators, admins)."""
    run = await open_invoice_run(client, session, principal, transaction_id)
    request = ContinueRequest(
        actor=run.actor, stage=body.stage, fields=body.fields, comment=body.comment
    )
    return await send_update(run, "continue_at", request)


@router.post("/{transaction_id}/retry", response_model=RunView, responses=UPDATE_REFUSALS)
async def retry_invoice(
    transaction_id: str,
    principal: Operator,
    client: TemporalDep,
    session: SessionDep,
    body: RetryBody | None = None,
) -> RunView:
    """Run the failed step of a run waiting for an operator again (operators, admins)."""
    run = await open_invoice_run(client, session, principal, transaction_id)
    request = RetryRequest(actor=run.actor, comment=body.comment if body else "")
    return await send_update(run, "retry_step", request)
