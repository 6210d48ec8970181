"""LeaveRequestWorkflow: Employee -> Manager -> HR; the balance is deducted once on approval.

Workflow id: `<org>:leave_request:<key>`. Updates: `decide`, `reassign`, `claim`, `comment`,
`attach`, `watch`, `withdraw` (validators refuse before anything is written); signals
`decide_signal` and `comment_signal` pass the same checks (a refused signal is logged and
ignored); query `view` returns the `RunView`.
"""

from __future__ import annotations

from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from config.policies import ProcessPolicies
    from config.temporal_names import INITIATOR, ORG, PROCESS
    from models.approvals import (
        AttachRequest,
        RunView,
        WithdrawRequest,
    )
    from models.leave import (
        Balance,
        BalanceQuery,
        LeaveRecorded,
        LeaveRequestCarry,
        LeaveRequestInput,
        LeaveRequestResult,
        LeaveSettings,
        OverlapQuery,
        Overlaps,
        RecordLeave,
    )
    from models.steps import RunContext

from workflows.human_step import ApprovalFlow
from workflows.human_step_handlers import HumanStepHandlers
from workflows.steps import StepFailed, StepRunner, load_policies

PROCESS_NAME = "leave_request"
RECORD_STEP = "record_leave"


@workflow.defn
class LeaveRequestWorkflow(HumanStepHandlers):
    """An employee's leave request through the manager and HR steps."""

    @workflow.init
    def __init__(self, request: LeaveRequestInput) -> None:
        self.request = request
        if request.carried is not None:
            state = request.carried.state
        else:
            watchers = {person.id: person for person in request.watchers}
            state = RunView(
                workflow_id=workflow.info().workflow_id,
                org=request.org,
                process=PROCESS_NAME,
                initiator=request.initiator,
                watchers=list(watchers.values()),
            )
        self.flow = ApprovalFlow(state, carry=self._continue_as_new)
        self.requested_days = (request.end - request.start).days + 1
        self.flow.summary = (
            f"{request.initiator.name}: {self.requested_days} day(s) of {request.leave_type} "
            f"leave, {request.start.isoformat()} to {request.end.isoformat()}"
        )

    @workflow.run
    async def run(self, request: LeaveRequestInput) -> LeaveRequestResult:
        """Validate and prefill, run the manager and HR steps, then record the outcome."""
        workflow.upsert_search_attributes(
            [
                ORG.value_set(request.org),
                PROCESS.value_set(PROCESS_NAME),
                INITIATOR.value_set(request.initiator.email),
            ]
        )
        self.flow.publish()
        policies: ProcessPolicies = await load_policies(request.org, PROCESS_NAME)
        self.flow.policies = policies
        settings = self._settings(policies)
        if request.carried is None:
            problem = await self._prefill(settings)
            if problem:
                self.flow.end("invalid", problem)
        for step, config in (("manager", settings.manager), ("hr", settings.hr)):
            if self.flow.ended:
                break
            if step == "hr" and self.flow.task(step) is None:
                await self._refresh_balance(settings)
            task = await self.flow.run_step(step, config)
            if task.status == "rejected":
                self.flow.end("rejected", task.comment)
        if not self.flow.ended:
            await self._record(policies, settings)
        return await self._finish(settings)

    # -- steps ---------------------------------------------------------------------------

    def _settings(self, policies: ProcessPolicies) -> LeaveSettings:
        """The template's settings; a broken template fails the run for good, saying why."""
        try:
            return LeaveSettings.model_validate(policies.settings)
        except ValidationError as error:
            raise ApplicationError(
                f"the leave_request template of {self.request.org} has invalid settings: {error}",
                type="InvalidTemplate",
                non_retryable=True,
            ) from error

    async def _prefill(self, settings: LeaveSettings) -> str | None:
        """Check the request and show the balance; the reason it is invalid, if it is."""
        request = self.request
        details = self.flow.state.details
        details.update(
            leave_type=request.leave_type,
            start=request.start.isoformat(),
            end=request.end.isoformat(),
            reason=request.reason,
            requested_days=self.requested_days,
        )
        if request.start > request.end:
            return "the leave ends before it starts"
        if request.leave_type not in settings.leave_types:
            return f"unknown leave type {request.leave_type!r}"
        overlaps: Overlaps = await self.flow.call(
            "find_overlapping_leave",
            OverlapQuery(
                org=request.org, user_id=request.initiator.id, start=request.start, end=request.end
            ),
            Overlaps,
        )
        if overlaps.periods:
            first = overlaps.periods[0]
            return f"overlaps approved leave from {first.start} to {first.end}"
        await self._refresh_balance(settings)
        return None

    async def _refresh_balance(self, settings: LeaveSettings) -> None:
        request = self.request
        balance: Balance = await self.flow.call(
            "leave_balance",
            BalanceQuery(
                org=request.org, user_id=request.initiator.id, leave_type=request.leave_type
            ),
            Balance,
        )
        unlimited = request.leave_type in settings.unlimited_types
        self.flow.state.details.update(
            balance_days=balance.days,
            balance_covers=unlimited or (balance.days or 0) >= self.requested_days,
        )

    async def _record(self, policies: ProcessPolicies, settings: LeaveSettings) -> None:
        """Record the approved leave and deduct it once (idempotency key: the workflow id)."""
        request = self.request
        workflow_id = workflow.info().workflow_id
        runner = StepRunner(
            policies,
            RunContext(
                org=request.org,
                process=PROCESS_NAME,
                run_id=workflow_id,
                owner_email=request.initiator.email,
            ),
        )
        self.flow.state.stage = RECORD_STEP
        self.flow.publish()
        try:
            recorded: LeaveRecorded = await runner.execute(
                RECORD_STEP,
                "record_approved_leave",
                RecordLeave(
                    idempotency_key=workflow_id,
                    org=request.org,
                    user_id=request.initiator.id,
                    leave_type=request.leave_type,
                    start=request.start,
                    end=request.end,
                    days=self.requested_days,
                    deduct=request.leave_type not in settings.unlimited_types,
                    workflow_id=workflow_id,
                ),
                result_type=LeaveRecorded,
            )
        except StepFailed as failed:
            if failed.record.reason == "InsufficientLeaveBalance":
                self.flow.end("rejected", failed.record.details)
            else:
                self.flow.end("failed", f"{failed.record.reason}: {failed.record.details}")
            return
        self.flow.state.details.update(
            deducted_days=recorded.days
            if request.leave_type not in settings.unlimited_types
            else 0,
            remaining_days=recorded.remaining_days,
        )
        self.flow.end("approved")

    async def _finish(self, settings: LeaveSettings) -> LeaveRequestResult:
        """Publish the outcome, tell the initiator and watchers, and end once handlers finish."""
        state = self.flow.state
        self.flow.publish()
        decided = [task for task in state.tasks if task.decided_by is not None]
        decided_by = decided[-1].decided_by if decided else None
        await self.flow.send_email(
            "request_completed",
            "completed",
            self.flow.recipients(settings.completed_recipients),
            state.stage,
            outcome=state.outcome,
            reason=state.outcome_reason,
            decided_by_name=decided_by.name if decided_by else "",
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        remaining = state.details.get("remaining_days")
        return LeaveRequestResult(
            outcome=state.outcome or "failed",
            reason=state.outcome_reason,
            decided_by=decided_by,
            deducted_days=int(state.details.get("deducted_days") or 0),
            remaining_days=remaining if isinstance(remaining, int) else None,
        )

    def _continue_as_new(self) -> NoReturn:
        carried = LeaveRequestCarry(state=self.flow.state)
        workflow.continue_as_new(self.request.model_copy(update={"carried": carried}))

    # -- handlers beyond the shared ones (`HumanStepHandlers`) ------------------------------

    @workflow.update
    async def attach(self, request: AttachRequest) -> RunView:
        """A file already stored under the run's folder joins the run; its notice goes out."""
        return await self.flow.add_attachment(request)

    @attach.validator
    def _check_attach(self, request: AttachRequest) -> None:
        self.flow.check_attach(request)

    @workflow.update
    def withdraw(self, request: WithdrawRequest) -> RunView:
        """The initiator withdraws the pending request."""
        return self.flow.withdraw(request.actor, request.reason)

    @withdraw.validator
    def _check_withdraw(self, request: WithdrawRequest) -> None:
        self.flow.check_withdraw(request.actor)
