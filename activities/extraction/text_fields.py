"""Invoice fields from plain text (a PDF's text layer or OCR output), by general rules only:
labels in four languages, values beside or under them, totals that add up, and the usual places
of the supplier's and the buyer's names. No vendor templates.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import date
from decimal import Decimal

from activities.extraction.text_amounts import find_currencies
from activities.extraction.text_document import TextDocument, read_document
from activities.extraction.text_layout import label_candidates, totals_rows
from activities.extraction.text_lines import read_line_items
from activities.extraction.text_parties import read_parties
from activities.extraction.text_totals import Totals, choose_totals
from activities.extraction.text_values import Candidate
from models.invoices import ExtractedInvoice, InvoiceFields, LineItem
from models.invoices import normalise_invoice_number as normalise_code

logger = logging.getLogger(__name__)

REPEAT_BONUS = 0.05
FIRST_DATE_STRENGTH = 0.3
FIRST_DATE_LINES = 8
LABELLED_CURRENCY_CONFIDENCE = 0.95
ITEMS_CONFIDENCE = 0.7
ITEMS_UNTAXED_CONFIDENCE = 0.5


def _vote_key(candidate: Candidate) -> Hashable:
    """What makes two candidates the same value: the id without punctuation, or the value."""
    value = candidate.value
    return normalise_code(value) if isinstance(value, str) else value


def _best(candidates: Iterable[Candidate], exclude: Hashable = None) -> Candidate | None:
    """The strongest value (a repeat adds a little; ties go to the earliest line)."""
    votes: dict[Hashable, tuple[float, Candidate]] = {}
    for candidate in candidates:
        key = _vote_key(candidate)
        if key in ("", exclude):
            continue
        known = votes.get(key)
        if known is None:
            votes[key] = (candidate.strength, candidate)
        else:
            stronger = candidate if candidate.strength > known[1].strength else known[1]
            votes[key] = (max(known[0], candidate.strength) + REPEAT_BONUS, stronger)
    if not votes:
        return None
    strength, chosen = max(votes.values(), key=lambda vote: (vote[0], -vote[1].line))
    return Candidate(chosen.role, chosen.value, strength, chosen.line, chosen.placement)


def _confidence(candidate: Candidate) -> float:
    """A confidence from a candidate's strength."""
    return round(min(0.99, 0.4 + 0.5 * min(candidate.strength, 1.1)), 2)


def _first_dates(document: TextDocument) -> list[Candidate]:
    """The first date near the top of the first page: a weak hint of the invoice date."""
    for line in document.lines[:FIRST_DATE_LINES]:
        if line.dates and not any(hit.kind == "date" for hit in line.hits):
            return [Candidate("invoice_date", line.dates[0].value, FIRST_DATE_STRENGTH, line.index)]
    return []


def _read_ids_and_dates(
    document: TextDocument,
    by_role: dict[str, list[Candidate]],
    fields: InvoiceFields,
    confidence: dict[str, float],
) -> None:
    """The invoice number, issue date, due date (not before the issue date) and PO number."""
    number = _best(by_role.get("invoice_number", []))
    if number is not None:
        fields.invoice_number = str(number.value)
        confidence["invoice_number"] = _confidence(number)
    issued = _best([*by_role.get("invoice_date", []), *_first_dates(document)])
    if issued is not None and isinstance(issued.value, date):
        fields.invoice_date = issued.value
        confidence["invoice_date"] = _confidence(issued)
    issued_on = fields.invoice_date
    dues = [
        candidate
        for candidate in by_role.get("due_date", [])
        if isinstance(candidate.value, date) and (issued_on is None or candidate.value >= issued_on)
    ]
    due = _best(dues)
    if due is not None and isinstance(due.value, date):
        fields.due_date = due.value
        confidence["due_date"] = _confidence(due)
    exclude = normalise_code(fields.invoice_number) if fields.invoice_number else None
    order = _best(by_role.get("po_number", []), exclude=exclude)
    if order is not None:
        fields.po_number = str(order.value)
        confidence["po_number"] = _confidence(order)


def _currency(document: TextDocument, candidates: list[Candidate]) -> tuple[str | None, float]:
    """The currency a label names, else the one written most often beside amounts."""
    labelled = [candidate for candidate in candidates if candidate.role == "currency"]
    if labelled:
        best = max(labelled, key=lambda candidate: (candidate.strength, -candidate.line))
        return str(best.value), LABELLED_CURRENCY_CONFIDENCE
    counts: Counter[str] = Counter()
    for line in document.lines:
        counts.update(amount.currency for amount in line.money if amount.currency)
        counts.update(code for code, _, _ in find_currencies(line.text))
    if not counts:
        return None, 0.0
    (code, count), *others = counts.most_common()
    share = count / (count + sum(other for _, other in others))
    return code, round(min(0.9, 0.5 + 0.4 * share), 2)


def _items_subtotal(items: list[LineItem], totals: Totals) -> Decimal | None:
    """The sum of the line totals, when it is what the total (less tax) says it should be."""
    amounts = [item.line_total for item in items if item.line_total is not None]
    if not amounts or totals.total is None:
        return None
    items_sum = sum(amounts, Decimal("0"))
    return items_sum if items_sum == totals.total - (totals.tax or Decimal("0")) else None


def _read_amounts(
    document: TextDocument,
    candidates: list[Candidate],
    fields: InvoiceFields,
    confidence: dict[str, float],
) -> None:
    """Total, tax and subtotal chosen together; the lines' sum as subtotal when it adds up."""
    totals = choose_totals([*candidates, *totals_rows(document)], document.text_amounts)
    fields.total_amount, fields.tax_amount = totals.total, totals.tax
    fields.subtotal = totals.subtotal
    confidence.update(totals.confidence)
    if fields.subtotal is None:
        fields.subtotal = _items_subtotal(fields.line_items, totals)
        if fields.subtotal is not None:
            taxed = totals.tax is not None
            confidence["subtotal"] = ITEMS_CONFIDENCE if taxed else ITEMS_UNTAXED_CONFIDENCE


def fields_from_text(text: str) -> ExtractedInvoice:
    """The invoice fields of a document's text (pages separated by form feeds)."""
    document = read_document(text)
    fields = InvoiceFields(line_items=read_line_items(document))
    candidates = label_candidates(document)
    by_role: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_role.setdefault(candidate.role, []).append(candidate)
    confidence: dict[str, float] = {}
    _read_ids_and_dates(document, by_role, fields, confidence)
    fields.currency, currency_confidence = _currency(document, candidates)
    if fields.currency is not None:
        confidence["currency"] = currency_confidence
    _read_amounts(document, candidates, fields, confidence)
    parties = read_parties(document)
    fields.supplier_name, fields.buyer_name = parties.supplier, parties.buyer
    fields.supplier_tax_id = parties.supplier_tax_id
    confidence.update(parties.confidence)
    logger.debug(
        "text fields: %s header fields, %s line items over %s pages",
        len(confidence),
        len(fields.line_items),
        document.pages,
    )
    return ExtractedInvoice(
        fields=fields, confidence=confidence, method="text", pages=document.pages
    )
