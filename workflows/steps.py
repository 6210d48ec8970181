"""The step runner: runs one activity under its step policy from the process template.

It maps the policy to Temporal's retry policy and timeouts, sends a warning when the soft
timeout passes (the step keeps running), turns a failure into a `StepFailure` record, and
sends the notifications the template asks for. Workflow code only: no I/O here.
"""

from __future__ import annotations

import builtins
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    from config.policies import NotificationSpec, ProcessPolicies, StepPolicy, activity_options
    from config.temporal_names import QueueRole, TaskQueues
    from models.notifications import EmailRequest
    from models.steps import (
        PoliciesRequest,
        RetryNotice,
        RunContext,
        StepFailure,
        pending_retry_notice,
    )

NOTIFY_STEP = "notify"


class StepFailed(ApplicationError):
    """A step failed for good; `record` (also the first detail) says why."""

    def __init__(self, failure: StepFailure) -> None:
        super().__init__(
            f"step {failure.step} failed: {failure.reason}: {failure.details}",
            failure,
            type="StepFailed",
            non_retryable=True,
        )
        self.record = failure


def describe_failure(step: str, policy: StepPolicy, error: ActivityError) -> StepFailure:
    """The failure record for an activity error: timeouts by kind, else the error's type."""
    cause = error.cause
    if isinstance(cause, TimeoutError):
        reason = {
            TimeoutType.SCHEDULE_TO_CLOSE: "hard_timeout",
            TimeoutType.START_TO_CLOSE: "attempt_timeout",
            TimeoutType.HEARTBEAT: "heartbeat_timeout",
        }.get(cause.type or TimeoutType.START_TO_CLOSE, "timeout")
        details = f"no result within the {reason.replace('_', ' ')}"
    elif isinstance(cause, ApplicationError):
        reason = cause.type or "ApplicationError"
        details = cause.message
    else:
        reason = type(cause).__name__ if cause else "ActivityError"
        details = str(cause or error)
    return StepFailure(step=step, reason=reason, details=details, criticality=policy.criticality)


POLICIES_TIMEOUT = timedelta(seconds=30)


async def load_policies(org: str, process: str) -> ProcessPolicies:
    """The org's step policies for the process, read by an activity on the io queue."""
    policies: ProcessPolicies = await workflow.execute_activity(
        "load_process_policies",
        PoliciesRequest(org=org, process=process),
        task_queue=TaskQueues.of_workflow_queue(workflow.info().task_queue).io,
        result_type=ProcessPolicies,
        start_to_close_timeout=POLICIES_TIMEOUT,
    )
    return policies


class StepRunner:
    """Runs a process's steps under the policies of its template."""

    def __init__(self, policies: ProcessPolicies, run: RunContext) -> None:
        self.policies = policies
        self.run = run
        self.queues = TaskQueues.of_workflow_queue(workflow.info().task_queue)
        self._started: dict[str, int] = {}

    async def execute(
        self,
        step: str,
        activity: Any,
        arg: Any,
        *,
        queue: QueueRole = "io",
        result_type: type | None = None,
    ) -> Any:
        """Run the step's activity; raises `StepFailed` with the failure record when it fails."""
        policy = self.policies.policy_for(step)
        sequence = self._started[step] = self._started.get(step, 0) + 1
        run_key = f"{workflow.info().workflow_id}/{workflow.info().run_id}/{step}#{sequence}"
        notice = policy.notifications.on_retry
        token = pending_retry_notice.set(
            RetryNotice(run=self.run, step=step, recipients=self._recipients(notice))
            if notice
            else None
        )
        try:
            handle = workflow.start_activity(
                activity,
                arg,
                task_queue=self.queues.name(queue),
                result_type=result_type,
                activity_id=f"{step}#{sequence}",
                summary=step,
                **activity_options(policy),
            )
        finally:
            pending_retry_notice.reset(token)
        if policy.soft_timeout is not None:
            try:
                await workflow.wait_condition(handle.done, timeout=policy.soft_timeout)
            except builtins.TimeoutError:
                elapsed = int(policy.soft_timeout.total_seconds())
                workflow.logger.warning("step %s passed its soft timeout", step)
                await self._notify(
                    policy.notifications.on_timeout,
                    "step_soft_timeout",
                    f"{run_key}/soft_timeout",
                    step,
                    elapsed=elapsed,
                )
        try:
            result = await handle
        except ActivityError as error:
            failure = describe_failure(step, policy, error)
            timed_out = failure.reason.endswith("timeout")
            await self._notify(
                policy.notifications.on_timeout if timed_out else policy.notifications.on_failure,
                "step_timeout" if timed_out else "step_failed",
                f"{run_key}/failed",
                step,
                reason=failure.reason,
                details=failure.details,
                criticality=failure.criticality,
            )
            raise StepFailed(failure) from error
        await self._notify(
            policy.notifications.on_completion, "step_completed", f"{run_key}/completed", step
        )
        return result

    def _recipients(self, spec: NotificationSpec | None) -> list[str]:
        if spec is None:
            return []
        owner = [self.run.owner_email] if self.run.owner_email else []
        resolved: list[str] = []
        for recipient in spec.recipients:
            resolved += owner if recipient == "owner" else [recipient]
        return list(dict.fromkeys(resolved))

    async def _notify(
        self, spec: NotificationSpec | None, event: str, key: str, step: str, **context: Any
    ) -> None:
        recipients = self._recipients(spec)
        if not recipients:
            return
        request = EmailRequest(
            idempotency_key=key,
            event=event,
            to=recipients,
            context={
                "process": self.run.process,
                "run_id": self.run.run_id,
                "step": step,
                "url": self.run.url,
                **context,
            },
        )
        await send_notice(request, self.queues.io, self.policies.policy_for(NOTIFY_STEP))


async def send_notice(request: EmailRequest, queue: str, policy: StepPolicy) -> None:
    """Send one templated email under the notify policy.

    A notice that cannot go out after its own retries is logged and never decides the run.
    """
    try:
        await workflow.execute_activity(
            "send_email",
            request,
            task_queue=queue,
            summary=f"notify {request.event}",
            **activity_options(policy),
        )
    except ActivityError as error:
        workflow.logger.warning(
            "could not send %s (%s): %s", request.event, request.idempotency_key, error
        )
