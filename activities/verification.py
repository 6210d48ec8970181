"""The verification rules of an invoice: what was read, who sent it, to whom, whether it adds
up, and whether it matches its PO (pure: the caller looks up the supplier and buyer names)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from activities.matching import format_amount, match_invoice
from activities.text_normalise import email_domain, normalise_domain, same_party, within_domain
from models.invoices import (
    ExtractedInvoice,
    Finding,
    InvoiceFields,
    MatchMethod,
    PurchaseOrder,
    Supplier,
    Verification,
    VerifyRequest,
)

DEFAULT_REQUIRED_FIELDS: tuple[str, ...] = (
    "invoice_number",
    "invoice_date",
    "supplier_name",
    "total_amount",
    "currency",
)
"""The header fields an invoice needs unless the org says otherwise."""

_CENT = Decimal("0.01")
_MAX_ROUNDING = Decimal("0.05")
_LABELS = {"po_number": "PO number", "supplier_tax_id": "supplier tax id"}


def verify_invoice_facts(
    request: VerifyRequest,
    supplier: Supplier | None,
    buyer_names: list[str],
    required_fields: Sequence[str] | None = None,
) -> Verification:
    """Check an invoice against its supplier, the org's names and its PO/GRN; every finding
    (the match's too) is listed in `findings`. `required_fields` defaults to
    `DEFAULT_REQUIRED_FIELDS`."""
    fields = request.invoice.fields
    required = DEFAULT_REQUIRED_FIELDS if required_fields is None else required_fields
    match = match_invoice(
        fields,
        request.purchase_order,
        request.goods_receipt,
        _match_method(request, supplier),
        request.tolerances,
        supplier_names=[supplier.name, *supplier.aliases] if supplier else [],
    )
    findings = [
        *confidence_findings(request.invoice, required, request.min_confidence),
        *supplier_findings(fields, supplier, request.org),
        *sender_findings(request.sender, supplier),
        *buyer_findings(fields.buyer_name, buyer_names),
        *arithmetic_findings(fields),
        *match.findings,
    ]
    department = _department(request.purchase_order, supplier)
    return Verification(supplier=supplier, department=department, match=match, findings=findings)


def confidence_findings(
    invoice: ExtractedInvoice, required_fields: Sequence[str], min_confidence: float
) -> list[Finding]:
    """Required header fields that were not found, or read with less than `min_confidence`.

    A value without a confidence was not read by extraction (typed in, or from reference data)
    and is trusted.
    """
    findings: list[Finding] = []
    for name in required_fields:
        value = _field_value(invoice.fields, name)
        label = _LABELS.get(name, name.replace("_", " "))
        if value is None:
            message = f"the {label} was not found on the invoice; enter it"
            findings.append(Finding(kind="missing_field", field=name, message=message))
            continue
        confidence = invoice.confidence.get(name)
        if confidence is not None and confidence < min_confidence:
            findings.append(
                Finding(
                    kind="low_confidence",
                    field=name,
                    message=f"the {label} '{value}' was read with {confidence:.0%} confidence "
                    f"(minimum {min_confidence:.0%}); check it against the document",
                    expected=f">= {min_confidence:.0%}",
                    actual=value,
                )
            )
    return findings


def supplier_findings(fields: InvoiceFields, supplier: Supplier | None, org: str) -> list[Finding]:
    """The supplier is not in the org's reference data."""
    if supplier is not None:
        return []
    name = fields.supplier_name
    who = f"supplier '{name}'" if name else "the invoice's supplier"
    return [
        Finding(
            kind="unknown_supplier",
            field="supplier_name",
            message=f"{who} is not among {org}'s suppliers; add it or assign a known supplier",
            actual=name,
        )
    ]


def sender_findings(sender: str | None, supplier: Supplier | None) -> list[Finding]:
    """The mail's sender is not at one of the supplier's domains (or their subdomains)."""
    if not sender or supplier is None:
        return []
    domains = [domain for domain in map(normalise_domain, supplier.email_domains) if domain]
    if not domains:
        return []
    domain = email_domain(sender)
    if domain is not None and any(within_domain(domain, known) for known in domains):
        return []
    known = ", ".join(domains)
    came_from = f"the mail came from {domain}" if domain else f"the sender '{sender}' has no domain"
    return [
        Finding(
            kind="sender_domain",
            field="sender",
            message=f"{came_from}, which is not a domain of supplier {supplier.name} ({known}); "
            "confirm the invoice is genuine before paying",
            expected=known,
            actual=domain or sender,
        )
    ]


def buyer_findings(buyer_name: str | None, buyer_names: Sequence[str]) -> list[Finding]:
    """The invoice is addressed to a name that is not one of the org's names or aliases."""
    if not buyer_name or not buyer_name.strip() or not buyer_names:
        return []
    if any(same_party(buyer_name, name) for name in buyer_names):
        return []
    known = "; ".join(buyer_names)
    return [
        Finding(
            kind="buyer_name",
            field="buyer_name",
            message=f"the invoice is addressed to '{buyer_name}', which is not one of this "
            f"organisation's names ({known})",
            expected=known,
            actual=buyer_name,
        )
    ]


def arithmetic_findings(fields: InvoiceFields) -> list[Finding]:
    """The lines add up to the subtotal, and subtotal plus tax to the total (where known)."""
    return [*_line_sum_findings(fields), *_total_findings(fields)]


def _line_sum_findings(fields: InvoiceFields) -> list[Finding]:
    """Sum of line totals against the subtotal, a cent a line (5 cents at most) allowed."""
    lines = fields.line_items
    line_totals = [line.line_total for line in lines if line.line_total is not None]
    if fields.subtotal is None or not lines or len(line_totals) < len(lines):
        return []
    added = sum(line_totals, Decimal(0))
    difference = fields.subtotal - added
    if abs(difference) <= min(_CENT * len(lines), _MAX_ROUNDING):
        return []
    return [
        Finding(
            kind="arithmetic",
            field="subtotal",
            message=f"the {len(lines)} lines add up to {format_amount(added)} but the subtotal "
            f"is {format_amount(fields.subtotal)} (difference {format_amount(difference)}); "
            "check for a misread or missing line",
            expected=format_amount(added),
            actual=format_amount(fields.subtotal),
        )
    ]


def _total_findings(fields: InvoiceFields) -> list[Finding]:
    """Subtotal plus tax against the total, within a cent."""
    subtotal, tax, total = fields.subtotal, fields.tax_amount, fields.total_amount
    if subtotal is None or tax is None or total is None:
        return []
    added = subtotal + tax
    difference = total - added
    if abs(difference) <= _CENT:
        return []
    return [
        Finding(
            kind="arithmetic",
            field="total_amount",
            message=f"subtotal {format_amount(subtotal)} plus tax {format_amount(tax)} is "
            f"{format_amount(added)}, but the invoice total is {format_amount(total)} "
            f"(difference {format_amount(difference)})",
            expected=format_amount(added),
            actual=format_amount(total),
        )
    ]


def _field_value(fields: InvoiceFields, name: str) -> str | None:
    """A header field's value as a clerk reads it; None when missing or blank."""
    if name not in InvoiceFields.model_fields or name == "line_items":
        raise ValueError(f"{name!r} is not a header field of an invoice")
    value: object = getattr(fields, name)
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format_amount(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _match_method(request: VerifyRequest, supplier: Supplier | None) -> MatchMethod:
    """The supplier's match method when it has one, else the request's."""
    if supplier is not None and supplier.match_method is not None:
        return supplier.match_method
    return request.match_method


def _department(po: PurchaseOrder | None, supplier: Supplier | None) -> str | None:
    """Who owns the invoice: the PO's department, else the supplier's."""
    if po is not None and po.department:
        return po.department
    return supplier.department if supplier is not None else None
