"""The AP invoice run as data: its input, its template settings, what operators and clerks send
it, and the invoice view it answers (sandbox-safe: no I/O)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.policies import Duration
from models.approvals import HumanStepConfig, Person, RunView, SlaSpec
from models.erp import ErpPosted
from models.invoices import (
    ExtractedInvoice,
    Finding,
    GoodsReceipt,
    MailMetadata,
    MatchMethod,
    MatchTolerances,
    PurchaseOrder,
    Supplier,
    VerifyRequest,
)
from models.steps import StepFailure

PROCESS_NAME = "ap_invoice"
MEMO_SENDER = "sender"
MEMO_RECEIVED_AT = "received_at"
MEMO_SOURCE = "source"

STAGES: tuple[str, ...] = (
    "extract_invoice",
    "extract_po",
    "extract_grn",
    "fetch_po",
    "verify",
    "check_duplicate",
    "review",
    "approve",
    "post_to_erp",
)
"""The stages of an AP run in order; operators may continue a run at any of them."""

Stage = Literal[
    "extract_invoice",
    "extract_po",
    "extract_grn",
    "fetch_po",
    "verify",
    "check_duplicate",
    "review",
    "approve",
    "post_to_erp",
]

MAX_MAIL_BODY = 100_000


def ap_workflow_id(org: str, transaction_id: str) -> str:
    """The workflow id of an org's AP run: `<org>:ap_invoice:<transaction id>`."""
    return f"{org}:{PROCESS_NAME}:{transaction_id}"


def working_folder(org: str, transaction_id: str) -> str:
    """The storage prefix holding a run's files and its manifest."""
    return f"{org}/{PROCESS_NAME}/{transaction_id}"


class ApInvoiceInput(BaseModel):
    """What starts an AP run: the transaction, its files and where it came from."""

    model_config = ConfigDict(extra="forbid")

    org: str = Field(min_length=1, max_length=64)
    transaction_id: str
    working_folder: str = Field(min_length=1, max_length=512)
    invoice_file: str = Field(min_length=1, max_length=1024, description="storage key")
    po_file: str | None = Field(default=None, max_length=1024)
    grn_file: str | None = Field(default=None, max_length=1024)
    source: Literal["api", "mail"] = "api"
    mail: MailMetadata | None = None
    mail_body: str = Field(default="", max_length=MAX_MAIL_BODY)
    initiator: Person

    @field_validator("transaction_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return str(uuid.UUID(value))

    @model_validator(mode="after")
    def _files_in_folder(self) -> ApInvoiceInput:
        prefix = self.working_folder.rstrip("/") + "/"
        for key in (self.invoice_file, self.po_file, self.grn_file):
            if key is not None and not key.startswith(prefix):
                raise ValueError(f"{key!r} is not in the working folder {self.working_folder!r}")
        return self


class InvoiceManifest(BaseModel):
    """The run's input as stored in its working folder (`manifest.json`)."""

    transaction_id: str
    org: str
    working_folder: str
    invoice_file: str
    po_file: str | None = None
    grn_file: str | None = None
    source: str
    mail: MailMetadata | None = None
    mail_body: str = ""
    initiator_email: str


class ApprovalLevel(BaseModel):
    """One approver in an amount band: a human step, its assignee possibly `@invoice`'s dept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    step: HumanStepConfig


class ApprovalBand(BaseModel):
    """Invoices up to `up_to` (None: any amount) are approved by these levels, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to: Decimal | None = None
    levels: list[ApprovalLevel] = Field(min_length=1)


class EscalationCondition(BaseModel):
    """When an escalation rule applies; every given condition must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    department: str | None = None
    failure_reason: str | None = Field(default=None, description="a finding kind, e.g. match")

    def holds(self, amount: Decimal | None, department: str | None, reasons: set[str]) -> bool:
        """Whether the rule applies to an invoice of this amount, department and findings."""
        value = amount if amount is not None else Decimal(0)
        return (
            (self.min_amount is None or abs(value) >= self.min_amount)
            and (self.max_amount is None or abs(value) <= self.max_amount)
            and (self.department is None or self.department == department)
            and (self.failure_reason is None or self.failure_reason in reasons)
        )


class EscalationRule(BaseModel):
    """The SLA (reminders, escalation, deadline) a human step gets when `when` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: EscalationCondition = EscalationCondition()
    sla: SlaSpec


class MatchSettings(BaseModel):
    """The org's default match method and tolerances (a supplier may set its own method)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: MatchMethod = "2way"
    tolerances: MatchTolerances = MatchTolerances()


class ApSettings(BaseModel):
    """The `settings` block of the ap_invoice template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_limit: Duration = timedelta(days=30)
    min_confidence: float = Field(default=0.8, ge=0, le=1)
    required_fields: list[str] = Field(
        default_factory=lambda: [
            "invoice_number",
            "invoice_date",
            "supplier_name",
            "total_amount",
            "currency",
        ]
    )
    match: MatchSettings = MatchSettings()
    auto_approve_below: Decimal | None = Field(
        default=Decimal(1000), description="matched invoices under this total need nobody"
    )
    default_department: str | None = None
    approval_bands: list[ApprovalBand] = Field(min_length=1)
    escalations: list[EscalationRule] = Field(default_factory=list)
    exception: HumanStepConfig
    operator: HumanStepConfig
    completed_recipients: list[str] = Field(default_factory=lambda: ["initiator", "watchers"])

    def band_for(self, amount: Decimal) -> ApprovalBand:
        """The first band the amount fits in (the last band takes any amount)."""
        for band in self.approval_bands:
            if band.up_to is None or abs(amount) <= band.up_to:
                return band
        return self.approval_bands[-1]

    def sla_for(
        self, default: SlaSpec, amount: Decimal | None, department: str | None, reasons: set[str]
    ) -> SlaSpec:
        """The SLA of the first escalation rule that holds, else the step's own."""
        for rule in self.escalations:
            if rule.when.holds(amount, department, reasons):
                return rule.sla
        return default


class FieldCorrections(BaseModel):
    """Header fields a clerk sets by hand; fields left out keep their extracted values."""

    model_config = ConfigDict(extra="forbid")

    invoice_number: str | None = Field(default=None, max_length=128)
    invoice_date: date | None = None
    due_date: date | None = None
    supplier_name: str | None = Field(default=None, max_length=300)
    buyer_name: str | None = Field(default=None, max_length=300)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    total_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    subtotal: Decimal | None = None
    po_number: str | None = Field(default=None, max_length=128)


class CorrectionRequest(BaseModel):
    """The exception step's holder corrects fields (and the supplier) and resumes the run."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    fields: FieldCorrections = FieldCorrections()
    supplier_id: int | None = Field(default=None, description="the supplier this invoice is from")
    comment: str = Field(default="", max_length=4000)


class ContinueRequest(BaseModel):
    """An operator continues a waiting run at a named stage after a manual override."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    stage: Stage
    fields: FieldCorrections = FieldCorrections()
    comment: str = Field(default="", max_length=4000)


class RetryRequest(BaseModel):
    """An operator runs the failed step again."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    comment: str = Field(default="", max_length=4000)


class PurchaseOrderLookup(BaseModel):
    """A purchase order and its goods receipt as the ERP or Baton's records have them."""

    purchase_order: PurchaseOrder | None = None
    goods_receipt: GoodsReceipt | None = None


class VerifyInvoice(BaseModel):
    """The verify step's input: the checks, plus the supplier a clerk chose, if any."""

    request: VerifyRequest
    supplier_id: int | None = None
    required_fields: list[str] = Field(default_factory=list)


class InvoiceView(BaseModel):
    """The AP side of a run: the invoice as read and corrected, checks, failures, posting."""

    transaction_id: str
    working_folder: str
    source: str
    sender: str | None = None
    received_at: str | None = None
    stage: str = "starting"
    invoice: ExtractedInvoice | None = None
    corrected_fields: list[str] = Field(default_factory=list)
    purchase_order: PurchaseOrder | None = None
    goods_receipt: GoodsReceipt | None = None
    supplier: Supplier | None = None
    department: str | None = None
    findings: list[Finding] = Field(default_factory=list)
    duplicate_of: str | None = None
    auto_approved: bool = False
    failures: list[StepFailure] = Field(default_factory=list)
    failed_stage: str | None = None
    posted: ErpPosted | None = None
    run: RunView | None = None


class ApInvoiceResult(BaseModel):
    """How the run ended."""

    outcome: str
    reason: str = ""
    erp_document_id: str | None = None
    duplicate_of: str | None = None
