"""A workflow that runs `post_invoice_to_erp` under a quick retry policy (workflow code only)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.erp import ErpPosted, ErpPosting


@workflow.defn
class PostToErpWorkflow:
    """Posts one invoice, retrying every 200 ms up to five attempts."""

    @workflow.run
    async def run(self, posting: ErpPosting) -> ErpPosted:
        posted: ErpPosted = await workflow.execute_activity(
            "post_invoice_to_erp",
            posting,
            result_type=ErpPosted,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200),
                backoff_coefficient=1.0,
                maximum_attempts=5,
            ),
        )
        return posted
