"""A workflow that runs one stand-in activity through the real step runner (workflow code only)."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from config.policies import ProcessPolicies
    from models.steps import RunContext, StepFailure

from workflows.steps import StepFailed, StepRunner


class ProbeInput(BaseModel):
    """Which policies and which stand-in activity."""

    policies: ProcessPolicies
    step: str
    activity: str
    owner_email: str


class ProbeOutcome(BaseModel):
    """The step's result, or its failure record."""

    result: str | None = None
    failure: StepFailure | None = None


@workflow.defn
class PolicyProbeWorkflow:
    """Runs a single step under the given policies."""

    @workflow.run
    async def run(self, probe: ProbeInput) -> ProbeOutcome:
        runner = StepRunner(
            probe.policies,
            RunContext(
                org="acme",
                process=probe.policies.process,
                run_id=workflow.info().workflow_id,
                owner_email=probe.owner_email,
            ),
        )
        try:
            result = await runner.execute(probe.step, probe.activity, probe.step, result_type=str)
        except StepFailed as failed:
            return ProbeOutcome(failure=failed.record)
        return ProbeOutcome(result=result)
