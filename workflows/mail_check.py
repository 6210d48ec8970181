"""MailCheckWorkflow: one test email sent under the org's step policies."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from config.temporal_names import ORG, PROCESS, RUN_STATE
    from models.notifications import EmailRequest, EmailResult
    from models.operations import MailCheckInput, MailCheckResult
    from models.steps import RunContext

from workflows.steps import StepFailed, StepRunner, load_policies

PROCESS_NAME = "mail_check"


@workflow.defn
class MailCheckWorkflow:
    """Sends a test email so an operator can see outgoing mail work end to end."""

    @workflow.run
    async def run(self, request: MailCheckInput) -> MailCheckResult:
        """Load the org's policies, send, and report the outcome."""
        workflow.upsert_search_attributes(
            [
                ORG.value_set(request.org),
                PROCESS.value_set(PROCESS_NAME),
                RUN_STATE.value_set("running"),
            ]
        )
        workflow.set_current_details(f"Sending a test email to {', '.join(request.to)}")
        policies = await load_policies(request.org, PROCESS_NAME)
        runner = StepRunner(
            policies,
            RunContext(
                org=request.org,
                process=PROCESS_NAME,
                run_id=workflow.info().workflow_id,
                owner_email=request.requested_by,
            ),
        )
        email = EmailRequest(
            idempotency_key=f"{workflow.info().workflow_id}:send_test_email",
            event="mail_check",
            to=request.to,
            context={
                "org": request.org,
                "requested_by": request.requested_by,
                "process": PROCESS_NAME,
                "run_id": workflow.info().workflow_id,
                "step": "send_test_email",
            },
        )
        try:
            sent = await runner.execute(
                "send_test_email", "send_email", email, result_type=EmailResult
            )
        except StepFailed as failed:
            workflow.upsert_search_attributes([RUN_STATE.value_set("failed")])
            return MailCheckResult(delivered=False, failure=failed.record)
        workflow.upsert_search_attributes([RUN_STATE.value_set("completed")])
        workflow.set_current_details("Test email sent")
        return MailCheckResult(delivered=True, result=sent)
