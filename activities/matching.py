"""Matching an invoice against its purchase order (2-way) and goods receipt (3-way); pure.

Lines pair one-to-one, best pairs first: by item code when both lines have one, else by how
alike their descriptions are. Per pair the invoice may not bill more than was ordered (or, in a
3-way match, received) beyond the quantity tolerance; billing less is a partial invoice, and so
are ordered lines that are not invoiced. Unit prices must lie within the price tolerance either
way. The invoice's net amount is compared with the PO's total (net, as POs are; the gross total
when the PO's own lines show its total includes tax), or, for a partial invoice, with what the
invoiced quantities cost at the PO's prices.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from activities.text_normalise import normalise_code, normalise_text, same_party
from models.invoices import (
    Finding,
    GoodsReceipt,
    InvoiceFields,
    LineItem,
    MatchMethod,
    MatchResult,
    MatchTolerances,
    PurchaseOrder,
)

PAIRING_THRESHOLD = 0.6
"""How alike two descriptions must be (0..1) for their lines to pair."""

_CENT = Decimal("0.01")
_MAX_ROUNDING = Decimal("0.05")
_CODE_MATCH = 2.0
_DECIMAL_MARK = re.compile(r"(?<=\d)[.,](?=\d)")
_DIGITS_AND_LETTERS = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")


@dataclass(frozen=True)
class _Reference:
    """What the invoice's amount is compared with, and how a clerk reads it."""

    amount: Decimal
    gross: bool
    phrase: str


def match_invoice(
    invoice: InvoiceFields,
    po: PurchaseOrder | None,
    grn: GoodsReceipt | None,
    method: MatchMethod,
    tolerances: MatchTolerances,
    supplier_names: Sequence[str] = (),
) -> MatchResult:
    """Match an invoice with its PO (and GRN for 3-way); `supplier_names` are the invoice
    supplier's known names, to check the PO is theirs."""
    if method == "none":
        return MatchResult(method=method, matched=True)
    findings: list[Finding] = []
    if po is None:
        findings.append(_missing_po(invoice))
    else:
        findings += _compare_with_po(invoice, po, tolerances, supplier_names)
    if method == "3way":
        if grn is None:
            findings.append(_missing_grn(po))
        else:
            findings += _compare_with_grn(invoice, po, grn, tolerances)
    return MatchResult(method=method, matched=not findings, findings=findings)


def pair_lines(lines: Sequence[LineItem], others: Sequence[LineItem]) -> list[tuple[int, int]]:
    """Pairs of (line index, other index), one-to-one, most alike first."""
    candidates = [
        (score, index, other_index)
        for index, line in enumerate(lines)
        for other_index, other in enumerate(others)
        if (score := _line_similarity(line, other)) >= PAIRING_THRESHOLD
    ]
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
    pairs: list[tuple[int, int]] = []
    taken: set[int] = set()
    taken_others: set[int] = set()
    for _, index, other_index in candidates:
        if index not in taken and other_index not in taken_others:
            pairs.append((index, other_index))
            taken.add(index)
            taken_others.add(other_index)
    return sorted(pairs)


def format_amount(value: Decimal) -> str:
    """An amount as a clerk reads it: at least two decimals, never an exponent."""
    if not value.is_finite():
        return str(value)
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -2:
        normal = normal.quantize(_CENT)
    return f"{normal:f}"


def format_quantity(value: Decimal) -> str:
    """A quantity without trailing zeros or exponent (10, 2.5)."""
    return f"{value.normalize():f}" if value.is_finite() else str(value)


def line_label(line: LineItem, index: int) -> str:
    """How a message names a line: by its description, else by its number."""
    description = " ".join(line.description.split())
    return f"line '{description}'" if description else f"line {index + 1}"


def _line_similarity(line: LineItem, other: LineItem) -> float:
    """How alike two lines are: 2 for the same item code, 0 for different codes, else by
    description (0..1)."""
    code, other_code = normalise_code(line.item_code or ""), normalise_code(other.item_code or "")
    if code and other_code:
        return _CODE_MATCH if code == other_code else 0.0
    return _description_similarity(line.description, other.description)


def _description_similarity(first: str, second: str) -> float:
    """0..1: word containment, word overlap or character similarity, whichever is highest;
    0 when the two name different sizes or numbers (M8 against M10)."""
    text, other_text = _description_text(first), _description_text(second)
    if not text or not other_text:
        return 0.0
    if text == other_text:
        return 1.0
    words, other_words = set(text.split()), set(other_text.split())
    if _numbers_conflict(words, other_words):
        return 0.0
    ratio = difflib.SequenceMatcher(None, text, other_text).ratio()
    overlap = len(words & other_words) / len(words | other_words)
    shorter, longer = sorted((words, other_words), key=len)
    contained = shorter <= longer and any(len(word) >= 3 for word in shorter)
    return max(ratio, overlap, 0.9 + ratio / 10 if contained else 0.0)


def _description_text(description: str) -> str:
    """A description as compared: normalised, numbers apart from units (2,5kg -> 25 kg)."""
    text = normalise_text(_DECIMAL_MARK.sub("", description))
    return _DIGITS_AND_LETTERS.sub(" ", text)


def _numbers_conflict(words: set[str], other_words: set[str]) -> bool:
    """Whether both name numbers (sizes, pack counts) and neither's are among the other's."""
    numbers = {word for word in words if any(char.isdigit() for char in word)}
    other_numbers = {word for word in other_words if any(char.isdigit() for char in word)}
    if not numbers or not other_numbers:
        return False
    return not (numbers <= other_numbers or other_numbers <= numbers)


def _missing_po(invoice: InvoiceFields) -> Finding:
    """No purchase order to match against."""
    quoted = f" (the invoice quotes PO {invoice.po_number})" if invoice.po_number else ""
    return Finding(
        kind="missing_po",
        field="po_number",
        message=f"no purchase order was found for this invoice{quoted}; attach or link the PO",
        actual=invoice.po_number,
    )


def _missing_grn(po: PurchaseOrder | None) -> Finding:
    """No goods receipt for a 3-way match."""
    against = f" against PO {po.number}" if po is not None else ""
    return Finding(
        kind="missing_grn",
        message=f"no goods receipt was found{against}; a 3-way match needs one",
    )


def _compare_with_po(
    invoice: InvoiceFields,
    po: PurchaseOrder,
    tolerances: MatchTolerances,
    supplier_names: Sequence[str],
) -> list[Finding]:
    """The 2-way match: header facts, lines, and the amount."""
    findings = [*_po_header_findings(invoice, po, supplier_names)]
    currency = _currency_finding(invoice, po)
    if currency is not None:
        findings.append(currency)
    pairs = pair_lines(invoice.line_items, po.lines) if po.lines else []
    findings += _po_line_findings(invoice, po, pairs, tolerances, prices=currency is None)
    if currency is None:
        findings += _amount_findings(invoice, po, pairs, tolerances)
    return findings


def _po_header_findings(
    invoice: InvoiceFields, po: PurchaseOrder, supplier_names: Sequence[str]
) -> list[Finding]:
    """The PO is the one the invoice quotes, and it is the invoice supplier's."""
    findings: list[Finding] = []
    if invoice.po_number and not _same_number(invoice.po_number, po.number):
        findings.append(
            Finding(
                kind="match",
                field="po_number",
                message=f"the invoice quotes PO '{invoice.po_number}', "
                f"but it is matched against PO {po.number}",
                expected=po.number,
                actual=invoice.po_number,
            )
        )
    names = [name for name in (*supplier_names, invoice.supplier_name) if name]
    if po.supplier_name and names and not any(same_party(po.supplier_name, n) for n in names):
        findings.append(
            Finding(
                kind="match",
                field="supplier_name",
                message=f"PO {po.number} was placed with '{po.supplier_name}', "
                f"not with the invoice's supplier '{names[0]}'",
                expected=po.supplier_name,
                actual=names[0],
            )
        )
    return findings


def _currency_finding(invoice: InvoiceFields, po: PurchaseOrder) -> Finding | None:
    """A finding when invoice and PO are in different currencies (then no amount compares)."""
    if not invoice.currency or not po.currency:
        return None
    billed, ordered = invoice.currency.strip().upper(), po.currency.strip().upper()
    if billed == ordered:
        return None
    return Finding(
        kind="match",
        field="currency",
        message=f"the invoice is in {billed} but PO {po.number} is in {ordered}; "
        "prices and totals were not compared",
        expected=ordered,
        actual=billed,
    )


def _po_line_findings(
    invoice: InvoiceFields,
    po: PurchaseOrder,
    pairs: list[tuple[int, int]],
    tolerances: MatchTolerances,
    prices: bool,
) -> list[Finding]:
    """Per pair: quantity and unit price; lines the PO lacks; a PO none of whose lines fit."""
    if not po.lines:
        return []
    findings: list[Finding] = []
    for index, po_index in pairs:
        line, ordered = invoice.line_items[index], po.lines[po_index]
        findings += _ordered_quantity_findings(line, index, ordered, po.number, tolerances)
        if prices:
            findings += _unit_price_findings(line, index, ordered, tolerances)
    paired = {index for index, _ in pairs}
    for index, line in enumerate(invoice.line_items):
        if index not in paired:
            findings.append(_not_ordered(line, index, po.number))
    if not pairs:
        findings.append(_nothing_pairs(invoice, po))
    return findings


def _excess_quantity(
    line: LineItem, reference: LineItem, tolerances: MatchTolerances
) -> Decimal | None:
    """How much more the line bills than the reference line allows, beyond the tolerance."""
    if line.quantity is None or reference.quantity is None:
        return None
    excess = line.quantity - reference.quantity
    return excess if excess > tolerances.quantity else None


def _ordered_quantity_findings(
    line: LineItem, index: int, ordered: LineItem, po_number: str, tolerances: MatchTolerances
) -> list[Finding]:
    """The line bills more than was ordered, beyond the quantity tolerance."""
    excess = _excess_quantity(line, ordered, tolerances)
    if excess is None or line.quantity is None or ordered.quantity is None:
        return []
    return [
        Finding(
            kind="match",
            field=f"line_items[{index}].quantity",
            message=f"{line_label(line, index)}: quantity {format_quantity(line.quantity)} is "
            f"{format_quantity(excess)} more than the {format_quantity(ordered.quantity)} "
            f"ordered on PO {po_number} (tolerance {format_quantity(tolerances.quantity)})",
            expected=format_quantity(ordered.quantity),
            actual=format_quantity(line.quantity),
        )
    ]


def _unit_price_findings(
    line: LineItem, index: int, ordered: LineItem, tolerances: MatchTolerances
) -> list[Finding]:
    """The line's unit price is off the PO's by more than the price tolerance."""
    if line.unit_price is None or ordered.unit_price is None:
        return []
    deviation = _deviation(line.unit_price, ordered.unit_price, tolerances.unit_price_pct)
    if deviation is None:
        return []
    return [
        Finding(
            kind="match",
            field=f"line_items[{index}].unit_price",
            message=f"{line_label(line, index)}: unit price {format_amount(line.unit_price)} is "
            f"{deviation} the PO's {format_amount(ordered.unit_price)} "
            f"(tolerance {_percent_text(tolerances.unit_price_pct)})",
            expected=format_amount(ordered.unit_price),
            actual=format_amount(line.unit_price),
        )
    ]


def _not_ordered(line: LineItem, index: int, po_number: str) -> Finding:
    """An invoice line that pairs with no PO line."""
    billed = ""
    if line.quantity is not None and line.unit_price is not None:
        billed = f" ({format_quantity(line.quantity)} x {format_amount(line.unit_price)})"
    return Finding(
        kind="match",
        field=f"line_items[{index}]",
        message=f"{line_label(line, index)}{billed} is not on PO {po_number}; "
        "check whether it was ordered",
        actual=line.description or None,
    )


def _nothing_pairs(invoice: InvoiceFields, po: PurchaseOrder) -> Finding:
    """No invoice line fits any PO line: likely the wrong PO, or lines that were not read."""
    shown = ", ".join(f"'{line.description}'" for line in po.lines[:5])
    more = f" and {len(po.lines) - 5} more" if len(po.lines) > 5 else ""
    if invoice.line_items:
        message = f"no invoice line matches a line of PO {po.number} ({shown}{more}); "
        message += "is it the right PO?"
    else:
        message = f"the invoice lists no lines to compare with the {len(po.lines)} lines "
        message += f"of PO {po.number} ({shown}{more})"
    return Finding(kind="match", field="line_items", message=message)


def _amount_findings(
    invoice: InvoiceFields,
    po: PurchaseOrder,
    pairs: list[tuple[int, int]],
    tolerances: MatchTolerances,
) -> list[Finding]:
    """The invoice's net (or gross) amount is off its reference beyond the total tolerance."""
    reference = _reference(invoice, po, pairs, tolerances)
    if reference is None:
        return []
    amount = _gross_amount(invoice) if reference.gross else _net_amount(invoice)
    if amount is None:
        return []
    deviation = _deviation(amount, reference.amount, tolerances.total_pct)
    if deviation is None:
        return []
    kind = "gross" if reference.gross else "net"
    return [
        Finding(
            kind="match",
            field="total_amount" if reference.gross else "subtotal",
            message=f"invoice {kind} amount {format_amount(amount)} is {deviation} "
            f"{reference.phrase} (tolerance {_percent_text(tolerances.total_pct)})",
            expected=format_amount(reference.amount),
            actual=format_amount(amount),
        )
    ]


def _reference(
    invoice: InvoiceFields,
    po: PurchaseOrder,
    pairs: list[tuple[int, int]],
    tolerances: MatchTolerances,
) -> _Reference | None:
    """The PO's total for a full invoice; for a partial one, the invoiced quantities at the
    PO's prices (net); None when it cannot be worked out."""
    if _is_partial(invoice, po, pairs, tolerances):
        value = _invoiced_value(invoice, po, pairs)
        if value is None:
            return None
        phrase = f"{format_amount(value)}, the invoiced quantities at PO {po.number}'s prices"
        return _Reference(value, gross=False, phrase=phrase)
    total = po.total_amount if po.total_amount is not None else _sum_line_totals(po.lines)
    if total is None:
        return None
    gross = _total_is_gross(po, total)
    phrase = f"PO {po.number}'s {'gross' if gross else 'net'} total of {format_amount(total)}"
    return _Reference(total, gross=gross, phrase=phrase)


def _is_partial(
    invoice: InvoiceFields,
    po: PurchaseOrder,
    pairs: list[tuple[int, int]],
    tolerances: MatchTolerances,
) -> bool:
    """Some ordered lines or quantities are not invoiced (but something pairs)."""
    if not pairs:
        return False
    if len(pairs) < len(po.lines):
        return True
    for index, po_index in pairs:
        billed, ordered = invoice.line_items[index].quantity, po.lines[po_index].quantity
        if billed is not None and ordered is not None and ordered - billed > tolerances.quantity:
            return True
    return False


def _invoiced_value(
    invoice: InvoiceFields, po: PurchaseOrder, pairs: list[tuple[int, int]]
) -> Decimal | None:
    """What the invoiced quantities cost at the PO's unit prices, if all are known."""
    value = Decimal(0)
    for index, po_index in pairs:
        billed, ordered = invoice.line_items[index], po.lines[po_index]
        if billed.quantity is not None and ordered.unit_price is not None:
            value += billed.quantity * ordered.unit_price
        elif billed.quantity == ordered.quantity and ordered.line_total is not None:
            value += ordered.line_total
        else:
            return None
    return value


def _total_is_gross(po: PurchaseOrder, total: Decimal) -> bool:
    """Whether the PO's lines show its total includes tax (POs are net unless they do)."""
    net = _sum_line_totals(po.lines)
    if net is None or abs(total - net) <= _rounding(len(po.lines)):
        return False
    gross = Decimal(0)
    for line in po.lines:
        if line.line_total is None or line.tax_rate is None:
            return False
        gross += line.line_total * (1 + line.tax_rate / 100)
    return abs(total - gross) <= _rounding(len(po.lines))


def _net_amount(invoice: InvoiceFields) -> Decimal | None:
    """The invoice's net amount: its subtotal, else total less tax, else its lines' sum."""
    if invoice.subtotal is not None:
        return invoice.subtotal
    if invoice.total_amount is not None and invoice.tax_amount is not None:
        return invoice.total_amount - invoice.tax_amount
    return _sum_line_totals(invoice.line_items)


def _gross_amount(invoice: InvoiceFields) -> Decimal | None:
    """The invoice's gross amount: its total, else subtotal plus tax."""
    if invoice.total_amount is not None:
        return invoice.total_amount
    if invoice.subtotal is not None and invoice.tax_amount is not None:
        return invoice.subtotal + invoice.tax_amount
    return None


def _sum_line_totals(lines: Sequence[LineItem]) -> Decimal | None:
    """The sum of the lines' totals, if there are lines and all have one."""
    totals = [line.line_total for line in lines]
    if not totals or any(total is None for total in totals):
        return None
    return sum((total for total in totals if total is not None), Decimal(0))


def _rounding(line_count: int) -> Decimal:
    """How far a sum of line totals may be off by rounding: a cent a line, 5 cents at most."""
    return min(_CENT * line_count, _MAX_ROUNDING)


def _compare_with_grn(
    invoice: InvoiceFields,
    po: PurchaseOrder | None,
    grn: GoodsReceipt,
    tolerances: MatchTolerances,
) -> list[Finding]:
    """The 3-way part: the GRN is the PO's, and no line bills more than was received."""
    findings: list[Finding] = []
    if po is not None and not _same_number(grn.po_number, po.number):
        findings.append(
            Finding(
                kind="match",
                field="po_number",
                message=f"goods receipt {grn.number} is for PO {grn.po_number}, not PO {po.number}",
                expected=po.number,
                actual=grn.po_number,
            )
        )
    if not grn.lines:
        message = f"goods receipt {grn.number} lists no received lines; quantities not checked"
        return [*findings, Finding(kind="match", field="line_items", message=message)]
    pairs = dict(pair_lines(invoice.line_items, grn.lines))
    for index, line in enumerate(invoice.line_items):
        received = grn.lines[pairs[index]] if index in pairs else None
        findings += _received_quantity_findings(line, index, received, grn.number, tolerances)
    return findings


def _received_quantity_findings(
    line: LineItem,
    index: int,
    received: LineItem | None,
    grn_number: str,
    tolerances: MatchTolerances,
) -> list[Finding]:
    """The line was not received, or bills more than was received beyond the tolerance."""
    label = line_label(line, index)
    if received is None:
        message = f"{label} is not on goods receipt {grn_number}; check it was delivered"
        return [Finding(kind="match", field=f"line_items[{index}]", message=message)]
    excess = _excess_quantity(line, received, tolerances)
    if excess is None or line.quantity is None or received.quantity is None:
        return []
    return [
        Finding(
            kind="match",
            field=f"line_items[{index}].quantity",
            message=f"{label}: billed quantity {format_quantity(line.quantity)} exceeds the "
            f"{format_quantity(received.quantity)} received on goods receipt {grn_number} "
            f"by {format_quantity(excess)} (tolerance {format_quantity(tolerances.quantity)})",
            expected=format_quantity(received.quantity),
            actual=format_quantity(line.quantity),
        )
    ]


def _same_number(first: str, second: str) -> bool:
    """Whether two document numbers agree, ignoring case, punctuation, a letter prefix and
    leading zeros (`PO-004711` and `4711`, not `14711` and `4711`)."""
    shorter, longer = sorted((normalise_code(first), normalise_code(second)), key=len)
    if not shorter or not longer.endswith(shorter):
        return False
    prefix = longer[: len(longer) - len(shorter)]
    return not any(char in "123456789" for char in prefix)


def _deviation(actual: Decimal, expected: Decimal, tolerance_pct: Decimal) -> str | None:
    """'10.9% above' when actual is off expected by more than tolerance_pct %, else None."""
    difference = actual - expected
    if abs(difference) <= abs(expected) * tolerance_pct / 100:
        return None
    direction = "above" if difference > 0 else "below"
    if expected == 0:
        return direction
    percent = abs(difference) / abs(expected) * 100
    return f"{_shown_percent(percent, tolerance_pct)}% {direction}"


def _shown_percent(percent: Decimal, tolerance_pct: Decimal) -> str:
    """A percentage with one decimal, or more where one would not show it above tolerance."""
    for places in (Decimal("0.1"), Decimal("0.01"), Decimal("0.001")):
        shown = percent.quantize(places, rounding=ROUND_HALF_UP)
        if shown > tolerance_pct:
            return f"{shown:f}"
    return format_quantity(percent)


def _percent_text(value: Decimal) -> str:
    """A tolerance in percent (1%, 0.5%)."""
    return f"{format_quantity(value)}%"
