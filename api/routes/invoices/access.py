"""Who may do what with AP runs, and finding one run of the caller's org by its transaction id.

The workflow id is built from the caller's org, so another org's transaction is simply not
found; a malformed id answers the same 404. AP readers (clerks, finance approvers, the CFO,
admins, operators) see every AP run of their org; anyone else sees the runs they take part in
or may claim (`open_run`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, status
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Principal, require_roles
from api.run_access import QUERY_TIMEOUT, OpenRun, caller, not_found, open_run
from models.ap_invoice import ap_workflow_id
from models.approvals import RunView

logger = logging.getLogger(__name__)

STARTER_ROLES = ("ap_clerk", "finance_approver", "admin", "operator")
"""Roles that may upload an invoice and so start an AP run."""
READER_ROLES = ("ap_clerk", "finance_approver", "cfo", "admin", "operator")
"""Roles that read the AP reports and every AP run of their org."""
MEMBER_ROLES = ("employee", *READER_ROLES)
"""Any member of the org (the run decides what each person may do)."""

Starter = Annotated[Principal, Depends(require_roles(*STARTER_ROLES))]
Reader = Annotated[Principal, Depends(require_roles(*READER_ROLES))]
Member = Annotated[Principal, Depends(require_roles(*MEMBER_ROLES))]

Answer = TypeVar("Answer", bound=BaseModel)


def invoice_workflow_id(org: str, transaction_id: str) -> str:
    """The workflow id of the org's run for a transaction id; 404 when it is no UUID."""
    try:
        canonical = str(uuid.UUID(transaction_id))
    except ValueError as error:
        raise not_found() from error
    return ap_workflow_id(org, canonical)


async def ask(handle: WorkflowHandle[Any, Any], query: str, result_type: type[Answer]) -> Answer:
    """A run's answer to a query; 404 for no such run, 503 when no worker answers in time."""
    try:
        answer: Answer = await handle.query(
            query, result_type=result_type, rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise not_found() from error
        logger.warning("run %s did not answer %s: %s", handle.id, query, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "The run cannot answer right now; try again"
        ) from error
    except WorkflowQueryFailedError as error:
        logger.warning("run %s answered no %s: %s", handle.id, query, error)
        raise not_found() from error
    return answer


async def open_invoice_run(
    client: Client, session: AsyncSession, principal: Principal, transaction_id: str
) -> OpenRun:
    """The caller's org's AP run if they may see it; 404 for anything else, learning nothing."""
    workflow_id = invoice_workflow_id(principal.org_id, transaction_id)
    if not principal.has_any(READER_ROLES):
        return await open_run(client, session, principal, workflow_id)
    handle = client.get_workflow_handle(workflow_id)
    view = await ask(handle, "view", RunView)
    if view.org != principal.org_id:
        raise not_found()
    return OpenRun(handle, view, await caller(session, principal))
