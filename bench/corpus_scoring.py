"""The invoice corpus's scoring rules (`invoice-corpus/README.md`), for benchmarks and tests.

A document's header fields are scored one by one against its `expected` values: codes equal after
dropping case, spaces and punctuation; dates equal; names equal after normalising, or one
containing the other; currency equal; amounts within 0.005. A line item counts as found when a
line read from the document has a matching description (normalised containment, either way) and
its line total is within 0.005.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from models.invoices import HEADER_FIELDS, ExtractedInvoice

log = logging.getLogger(__name__)

AMOUNT_TOLERANCE = Decimal("0.005")
CODE_FIELDS = frozenset({"invoice_number", "po_number", "supplier_tax_id"})
DATE_FIELDS = frozenset({"invoice_date", "due_date"})
NAME_FIELDS = frozenset({"supplier_name", "buyer_name"})
AMOUNT_FIELDS = frozenset({"total_amount", "tax_amount", "subtotal"})
CURRENCY_FIELDS = frozenset({"currency"})

LEGAL_FORMS = frozenset(
    {
        # German-speaking countries
        "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "gbr", "ug", "ek", "ev", "eg", "se", "co",
        # English-speaking countries and India
        "ltd", "limited", "inc", "incorporated", "corp", "corporation", "llc", "llp", "lp",
        "plc", "pvt", "pte", "pty",
        # French, Benelux, Southern Europe
        "sa", "sas", "sasu", "sarl", "eurl", "snc", "sca", "bv", "nv", "vof", "bvba", "cv",
        "srl", "spa", "sl",
    }
)  # fmt: skip
"""Legal-form words (after dropping case and punctuation) that name comparisons ignore."""

_WHITESPACE = re.compile(r"\s+")


def normalise_code(value: str) -> str:
    """A code (invoice or PO number) as compared: no case, spaces or punctuation."""
    return "".join(character for character in value.casefold() if character.isalnum())


def _words(value: str) -> list[str]:
    """The words of `value`, casefolded, each with its punctuation dropped ('B.V.' -> 'bv')."""
    words = (normalise_code(word) for word in _WHITESPACE.split(value))
    return [word for word in words if word]


def normalise_name(value: str) -> str:
    """A party name as compared: no case, punctuation or legal-form words, single-spaced."""
    return " ".join(word for word in _words(value) if word not in LEGAL_FORMS)


def normalise_description(value: str) -> str:
    """A line description as compared: no case or punctuation, single-spaced."""
    return " ".join(_words(value))


def _contains_either_way(left: str, right: str) -> bool:
    """Whether two normalised strings, both non-empty, are equal or one contains the other."""
    return bool(left) and bool(right) and (left in right or right in left)


def _as_decimal(value: object) -> Decimal | None:
    """A number, numeric string or Decimal as a Decimal; None when it is none of those."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _amounts_match(expected: object, got: object) -> bool:
    """Whether two amounts are within 0.005 of each other."""
    expected_amount, got_amount = _as_decimal(expected), _as_decimal(got)
    if expected_amount is None or got_amount is None:
        return False
    return abs(expected_amount - got_amount) <= AMOUNT_TOLERANCE


def _as_date_text(value: object) -> str:
    """A date or 'YYYY-MM-DD' string as 'YYYY-MM-DD'."""
    return value.isoformat() if isinstance(value, date) else str(value).strip()


def field_matches(name: str, expected: object, got: object) -> bool:
    """Whether `got` is right for the header field `name` whose true value is `expected`."""
    if got is None or expected is None:
        return False
    if name in AMOUNT_FIELDS:
        return _amounts_match(expected, got)
    if name in DATE_FIELDS:
        return _as_date_text(expected) == _as_date_text(got)
    if name in NAME_FIELDS:
        return _contains_either_way(normalise_name(str(expected)), normalise_name(str(got)))
    if name in CURRENCY_FIELDS:
        return str(expected).strip().upper() == str(got).strip().upper()
    expected_code = normalise_code(str(expected))
    return bool(expected_code) and expected_code == normalise_code(str(got))


def score_fields(
    expected: Mapping[str, Any], visible: Mapping[str, Any] | None, got: Mapping[str, Any]
) -> dict[str, bool]:
    """For each scored field of `expected` (visible on the page when `visible` is given): right?"""
    scores: dict[str, bool] = {}
    for name, value in expected.items():
        if value is None or (visible is not None and visible.get(name) is not True):
            continue
        scores[name] = field_matches(name, value, got.get(name))
    return scores


def _is_scored_item(item: Mapping[str, Any]) -> bool:
    """Whether a ground-truth line item is scored: its description and total are printed."""
    return item.get("_description_visible", True) is True and (
        item.get("_line_total_visible", True) is True
    )


def _item_matches(expected: Mapping[str, Any], got: Mapping[str, Any]) -> bool:
    """Whether a line read from the document is the expected line item."""
    return _contains_either_way(
        normalise_description(str(expected.get("description") or "")),
        normalise_description(str(got.get("description") or "")),
    ) and _amounts_match(expected.get("line_total"), got.get("line_total"))


def line_items_found(
    expected_items: Sequence[Mapping[str, Any]], got_items: Sequence[Mapping[str, Any]]
) -> tuple[int, int]:
    """(found, scored): the scored expected items that some read line matches, one line each."""
    unused = list(got_items)
    found = scored = 0
    for expected in expected_items:
        if not _is_scored_item(expected):
            continue
        scored += 1
        match = next((got for got in unused if _item_matches(expected, got)), None)
        if match is not None:
            unused.remove(match)
            found += 1
    return found, scored


@dataclass(frozen=True)
class CorpusDocument:
    """One corpus PDF with its ground truth."""

    name: str
    pdf: Path
    expected: dict[str, Any]
    visible: dict[str, Any] | None = None
    line_items: list[dict[str, Any]] = field(default_factory=list)


def load_corpus(folder: Path) -> list[CorpusDocument]:
    """The documents of a corpus folder (each `<name>.pdf` with `<name>.expected.json`), by name."""
    documents: list[CorpusDocument] = []
    for truth_path in sorted(folder.glob("*.expected.json")):
        name = truth_path.name.removesuffix(".expected.json")
        pdf = folder / f"{name}.pdf"
        if not pdf.is_file():
            log.warning("no PDF for %s, skipped", truth_path)
            continue
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        documents.append(
            CorpusDocument(
                name=name,
                pdf=pdf,
                expected=dict(truth.get("expected") or {}),
                visible=truth.get("visible_in_text_layer"),
                line_items=list(truth.get("line_items") or []),
            )
        )
    return documents


def _corpus_value(value: object) -> object:
    """A model value in the corpus's shape: dates as 'YYYY-MM-DD', Decimals as floats."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def fields_as_corpus_dict(extracted: ExtractedInvoice) -> dict[str, Any]:
    """An extraction in the corpus's shape: header fields, `supplier_tax_id` and `line_items`."""
    fields = extracted.fields
    result: dict[str, Any] = {
        name: _corpus_value(getattr(fields, name)) for name in (*HEADER_FIELDS, "supplier_tax_id")
    }
    result["line_items"] = [
        {
            "description": item.description,
            "quantity": _corpus_value(item.quantity),
            "unit_price": _corpus_value(item.unit_price),
            "line_total": _corpus_value(item.line_total),
            "tax_rate": _corpus_value(item.tax_rate),
        }
        for item in fields.line_items
    ]
    return result
