"""Every workflow type the product runs, and the sandbox they run in, for the workers and the
replay tests."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.ap_invoice import ApInvoiceWorkflow
from workflows.leave_request import LeaveRequestWorkflow
from workflows.mail_check import MailCheckWorkflow
from workflows.mail_intake import MailIntakeWorkflow

WORKFLOWS: list[type] = [
    MailCheckWorkflow,
    LeaveRequestWorkflow,
    ApInvoiceWorkflow,
    MailIntakeWorkflow,
]

SHARED_WORKFLOW_MODULES = (
    "workflows.ap_routing",
    "workflows.approval_checks",
    "workflows.human_step",
    "workflows.human_step_handlers",
    "workflows.steps",
)
"""Building blocks the workflow classes share: plain deterministic code without module state,
imported once per worker instead of once per run. The workflow classes' own modules stay in the
sandbox, where the restrictions on non-deterministic calls are enforced."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every workflow runs in."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*SHARED_WORKFLOW_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)
