"""Payloads of the AP invoice process: extracted documents, reference data the checks use,
findings, and the run's input (sandbox-safe: no I/O).

Amounts are `Decimal` (they travel as strings), dates are ISO dates, and every extracted field
carries a confidence between 0 and 1.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExtractionMethod = Literal["embedded_xml", "text", "ocr", "manual", "reference"]
DocumentKind = Literal["invoice", "purchase_order", "goods_receipt"]

HEADER_FIELDS: tuple[str, ...] = (
    "invoice_number",
    "invoice_date",
    "due_date",
    "supplier_name",
    "buyer_name",
    "currency",
    "total_amount",
    "tax_amount",
    "subtotal",
    "po_number",
)
"""The header fields of an invoice, as the corpus ground truth names them."""


class LineItem(BaseModel):
    """One line of an invoice, purchase order or goods receipt."""

    description: str = ""
    item_code: str | None = Field(default=None, description="the seller's or buyer's item id")
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    line_total: Decimal | None = None
    tax_rate: Decimal | None = Field(default=None, description="percent, e.g. 19")
    confidence: float = Field(default=1.0, ge=0, le=1)


class InvoiceFields(BaseModel):
    """The header fields of an invoice and its lines; any may be unknown."""

    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    supplier_name: str | None = None
    supplier_tax_id: str | None = None
    buyer_name: str | None = None
    currency: str | None = Field(default=None, description="ISO 4217")
    total_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    subtotal: Decimal | None = None
    po_number: str | None = None
    line_items: list[LineItem] = Field(default_factory=list)


class ExtractedInvoice(BaseModel):
    """What extraction read from a document, how, and how sure it is of each field."""

    fields: InvoiceFields = Field(default_factory=InvoiceFields)
    confidence: dict[str, float] = Field(
        default_factory=dict, description="per header field name, 0..1; absent means not found"
    )
    method: ExtractionMethod = "text"
    pages: int = 0
    warnings: list[str] = Field(default_factory=list)


class ExtractRequest(BaseModel):
    """Extract a stored document of a kind."""

    key: str = Field(min_length=1, max_length=1024)
    kind: DocumentKind = "invoice"


class PurchaseOrder(BaseModel):
    """A purchase order: attached to the mail, from the ERP, or from Baton's reference data."""

    number: str
    supplier_name: str | None = None
    currency: str | None = None
    total_amount: Decimal | None = None
    department: str | None = None
    lines: list[LineItem] = Field(default_factory=list)
    source: ExtractionMethod = "reference"


class GoodsReceipt(BaseModel):
    """A goods received note against a purchase order; line quantities are what arrived."""

    number: str
    po_number: str
    lines: list[LineItem] = Field(default_factory=list)
    source: ExtractionMethod = "reference"


class MatchTolerances(BaseModel):
    """How far an invoice may differ from its PO (and GRN) and still match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_price_pct: Decimal = Field(default=Decimal("1"), ge=0)
    quantity: Decimal = Field(default=Decimal("0"), ge=0, description="units either way")
    total_pct: Decimal = Field(default=Decimal("1"), ge=0)


MatchMethod = Literal["none", "2way", "3way"]


class Supplier(BaseModel):
    """A supplier of an org as reference data knows it."""

    id: int
    org: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    tax_id: str | None = None
    email_domains: list[str] = Field(default_factory=list)
    match_method: MatchMethod | None = Field(default=None, description="None: the org's method")
    department: str | None = Field(default=None, description="who owns its invoices by default")
    erp_vendor_id: str | None = None


FindingKind = Literal[
    "low_confidence",
    "missing_field",
    "unknown_supplier",
    "sender_domain",
    "buyer_name",
    "arithmetic",
    "match",
    "missing_po",
    "missing_grn",
]


class Finding(BaseModel):
    """One thing verification found wrong, in words a person can act on."""

    kind: FindingKind
    field: str | None = None
    message: str
    expected: str | None = None
    actual: str | None = None


class MatchResult(BaseModel):
    """The outcome of a 2-way or 3-way match."""

    method: MatchMethod
    matched: bool
    findings: list[Finding] = Field(default_factory=list)


class VerifyRequest(BaseModel):
    """Everything the verify step checks, for one org."""

    org: str
    transaction_id: str
    invoice: ExtractedInvoice
    purchase_order: PurchaseOrder | None = None
    goods_receipt: GoodsReceipt | None = None
    sender: str | None = Field(default=None, description="the mail's From address, if by mail")
    min_confidence: float = Field(default=0.8, ge=0, le=1)
    match_method: MatchMethod = "2way"
    tolerances: MatchTolerances = MatchTolerances()


class Verification(BaseModel):
    """What verify found: the supplier, the match, and the findings that need a person."""

    supplier: Supplier | None = None
    department: str | None = None
    match: MatchResult | None = None
    findings: list[Finding] = Field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing needs a person."""
        return not self.findings


def normalise_invoice_number(number: str) -> str:
    """An invoice number as duplicates are compared: no case, spaces or punctuation."""
    return "".join(character for character in number.casefold() if character.isalnum())


class DuplicateClaim(BaseModel):
    """Claim a supplier's invoice number for a run; a second run gets the first one's id."""

    org: str
    supplier_key: str = Field(description="the supplier id, or its normalised name if unknown")
    invoice_number: str
    transaction_id: str


class DuplicateCheck(BaseModel):
    """Whether the claim is this run's, and otherwise which run holds it."""

    duplicate: bool
    first_transaction_id: str | None = None


class MailMetadata(BaseModel):
    """Where an invoice came from, when it arrived by mail (kept for audit)."""

    message_id: str | None = None
    sender: str | None = None
    subject: str | None = None
    received_at: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)
