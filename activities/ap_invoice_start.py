"""Starting an AP invoice run, for uploads and for mailed invoices alike.

The run's id comes from its transaction id, started with `REJECT_DUPLICATE` and
`USE_EXISTING`: however often the same transaction is started (a double click, a retried
intake step, two API processes racing), there is one run.
"""

from __future__ import annotations

import logging
from datetime import datetime

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from config.temporal_names import INITIATOR, ORG, PROCESS, RUN_STATE, STAGE
from models.ap_invoice import (
    MEMO_RECEIVED_AT,
    MEMO_SENDER,
    MEMO_SOURCE,
    PROCESS_NAME,
    ApInvoiceInput,
    ap_workflow_id,
)

logger = logging.getLogger(__name__)

WORKFLOW_TYPE = "ApInvoiceWorkflow"
FIRST_STAGE = "starting"


async def start_ap_invoice(
    client: Client,
    task_queue: str,
    run: ApInvoiceInput,
    *,
    sender: str,
    received_at: datetime,
    summary: str,
) -> None:
    """Start the transaction's run, unless it exists already (started by an earlier try).

    RPCError from Temporal is the caller's to handle.
    """
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(ORG, run.org),
            SearchAttributePair(PROCESS, PROCESS_NAME),
            SearchAttributePair(INITIATOR, run.initiator.email),
            SearchAttributePair(STAGE, FIRST_STAGE),
            SearchAttributePair(RUN_STATE, "running"),
        ]
    )
    workflow_id = ap_workflow_id(run.org, run.transaction_id)
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            run,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=attributes,
            memo={
                MEMO_SENDER: sender,
                MEMO_RECEIVED_AT: received_at.isoformat(),
                MEMO_SOURCE: run.source,
            },
            static_summary=summary,
        )
    except WorkflowAlreadyStartedError:
        logger.info("run %s was started before and has ended", workflow_id)
