"""Who approves an invoice: amount bands, the invoice's department, escalation rules.

Pure functions of the template settings and the invoice; workflow-safe (no I/O).
"""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.ap_invoice import ApSettings
    from models.approvals import HumanStepConfig
    from models.invoices import InvoiceFields

INVOICE_DEPARTMENT = "@invoice"
"""An assignee rule's department that means the invoice's own department."""


def invoice_amount(fields: InvoiceFields) -> Decimal:
    """The amount bands and thresholds compare: the total, else the subtotal, else zero."""
    for value in (fields.total_amount, fields.subtotal):
        if value is not None:
            return value
    return Decimal(0)


def for_department(config: HumanStepConfig, department: str | None) -> HumanStepConfig:
    """The step with `@invoice` in its assignee or claim rule replaced by the department."""
    assignee, claim = config.assignee, config.claim
    if assignee.department == INVOICE_DEPARTMENT:
        assignee = assignee.model_copy(update={"department": department})
    if claim.department == INVOICE_DEPARTMENT:
        claim = claim.model_copy(update={"department": department})
    return config.model_copy(update={"assignee": assignee, "claim": claim})


def with_sla(
    settings: ApSettings,
    config: HumanStepConfig,
    amount: Decimal | None,
    department: str | None,
    reasons: set[str],
) -> HumanStepConfig:
    """The step with the SLA of the first escalation rule that holds for this invoice."""
    sla = settings.sla_for(config.sla, amount, department, reasons)
    return config if sla is config.sla else config.model_copy(update={"sla": sla})


def approval_steps(
    settings: ApSettings, fields: InvoiceFields, department: str | None, reasons: set[str]
) -> list[HumanStepConfig]:
    """The approval steps, in order, for an invoice of this amount and department."""
    amount = invoice_amount(fields)
    owner = department or settings.default_department
    steps: list[HumanStepConfig] = []
    for level in settings.band_for(amount).levels:
        config = for_department(level.step, owner)
        if not config.title:
            config = config.model_copy(update={"title": level.title})
        steps.append(with_sla(settings, config, amount, owner, reasons))
    return steps


def auto_approves(settings: ApSettings, fields: InvoiceFields) -> bool:
    """Whether a clean, matched invoice needs nobody: its amount is under the org's threshold."""
    threshold = settings.auto_approve_below
    return threshold is not None and abs(invoice_amount(fields)) < threshold
