"""Values after labels: ids, dates, amounts and currencies read from the text that follows a
label on its line, as candidates for a field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from activities.extraction.text_amounts import find_amounts, find_currencies
from activities.extraction.text_dates import find_dates, mask_dates
from activities.extraction.text_document import Line, TextDocument
from activities.extraction.text_vocabulary import ValueKind

Value = str | date | Decimal
Placement = Literal["same", "column", "below", "phrase", "derived"]

_CODE_FILLERS = frozenset(
    {"nr", "no", "n°", "nº", "#", "nummer", "number", "numéro", "numero", "num", "n", "°", ":"}
)
_CODE_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.\-]*[A-Za-z0-9]|[0-9]")
_DATE_SHAPE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_AMOUNT_SHAPE = re.compile(r"[-+]?\d{1,3}(?:[.,' ]\d{3})*[.,]\d{1,4}")
_DATE_AFTER_CODE = re.compile(
    r"^[\s,]*(?:vom|von|du|of|dated|from|issued\s+(?:at|on)|le|van|d\.d\.|date[:\s])\s*",
    re.IGNORECASE,
)
SEGMENT_STRIP = " \t:;#=-\u2013.()[]"


EARLY_PAYMENT_FACTOR = 0.5
_DIGIT = re.compile(r"\d")
_EARLY_PAYMENT = re.compile(r"skonto|escompte|discount|korting|rabatt", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A value read for a role, how strongly its label speaks for it, and where it was."""

    role: str
    value: Value
    strength: float
    line: int
    placement: Placement = "same"


def read_code(segment: str) -> tuple[str, int] | None:
    """The code (an id with a digit) opening a segment, and where it ends in the segment."""
    position = 0
    for word in segment.split():
        start = segment.index(word, position)
        position = start + len(word)
        bare = word.strip(SEGMENT_STRIP + ",")
        if not bare or bare.casefold().rstrip(".") in _CODE_FILLERS:
            continue
        return as_code(bare, start + word.find(bare[0]))
    return None


def as_code(word: str, start: int) -> tuple[str, int] | None:
    """The word as an id if it has a digit and is not a date or an amount."""
    match = _CODE_SHAPE.match(word.lstrip("#"))
    if match is None or not any(character.isdigit() for character in match.group()):
        return None
    code = match.group()
    if _AMOUNT_SHAPE.fullmatch(code) or _DATE_SHAPE.fullmatch(code) or len(code) > 40:
        return None
    return code, start + len(word)


def codes_in(line: Line) -> list[str]:
    """The ids of a line (words with a digit that are not dates, amounts or percentages)."""
    if line.codes is not None:
        return line.codes
    if _DIGIT.search(line.text) is None:
        line.codes = []
        return line.codes
    masked = mask_dates(line.text, line.dates) if line.dates else line.text
    codes: list[str] = []
    for word in masked.split():
        if word.endswith("%"):
            continue
        found = as_code(word.strip(SEGMENT_STRIP + ","), 0)
        if found is not None:
            codes.append(found[0])
    line.codes = codes
    return codes


def has_values(line: Line) -> bool:
    """Whether a line holds any value: a date, a money amount or an id."""
    return bool(line.dates or line.money or codes_in(line))


def segment_amounts(segment: str, document: TextDocument) -> list[Decimal]:
    """The money amounts of a label's segment (or a lone integer in a short segment)."""
    dates = find_dates(segment, document.date_order)
    masked = mask_dates(segment, dates) if dates else segment
    amounts = [
        amount
        for amount in find_amounts(masked, document.decimal_comma, spaced_groups=True)
        if not amount.percent
    ]
    money = [amount.value for amount in amounts if amount.is_money]
    if money:
        return money
    lone = segment.strip(SEGMENT_STRIP)
    if len(amounts) == 1 and lone == masked[amounts[0].start : amounts[0].end].strip():
        return [amounts[0].value]
    return []


def read_amount(segment: str, document: TextDocument) -> Decimal | None:
    """The amount a label's segment gives: its last (rightmost) money amount."""
    amounts = segment_amounts(segment, document)
    return amounts[-1] if amounts else None


def read_value(kind: ValueKind, segment: str, document: TextDocument) -> Value | None:
    """The value of a kind a label's segment gives, if any."""
    if kind == "code":
        code = read_code(segment)
        return code[0] if code else None
    if kind == "date":
        dates = find_dates(segment, document.date_order)
        return dates[0].value if dates else None
    if kind == "amount":
        return read_amount(segment, document)
    if kind == "currency":
        currencies = find_currencies(segment[:16])
        return currencies[0][0] if currencies else None
    return None


def _date_after_code(line: Line, after: int, document: TextDocument) -> Candidate | None:
    """The issue date written right after an invoice number ("Nr. 471102 vom 05.06.2018")."""
    rest = line.text[after:]
    opener = _DATE_AFTER_CODE.match(rest)
    if opener is None:
        return None
    dates = find_dates(rest[opener.end() :][:24], document.date_order)
    if not dates or dates[0].start > 1:
        return None
    return Candidate("invoice_date", dates[0].value, 0.9, line.index, "phrase")


def _segment(line: Line, position: int) -> str:
    """The text after a label up to the next one. A label followed only by punctuation and a
    qualifier of its own ("Summe Brutto (inkl. USt.) 529,87") reads past the qualifier."""
    hits, index = line.hits, position
    while index + 1 < len(hits):
        following = hits[index + 1]
        between = line.text[hits[index].end : following.start]
        qualifier = following.role in (hits[position].role, "other_amount")
        if any(character.isalnum() for character in between) or not qualifier:
            break
        index += 1
    end = hits[index + 1].start if index + 1 < len(hits) else len(line.text)
    return line.text[hits[index].end : end]


def same_line_candidates(document: TextDocument, line: Line) -> list[Candidate]:
    """Values after each label of a line, up to the next label."""
    candidates: list[Candidate] = []
    for position, hit in enumerate(line.hits):
        if hit.kind in ("party", "percent"):
            continue
        segment = _segment(line, position)
        if hit.kind == "code":
            code = read_code(segment)
            if code is None:
                continue
            candidates.append(Candidate(hit.role, code[0], hit.strength, line.index))
            if hit.role == "invoice_number":
                dated = _date_after_code(line, hit.end + code[1], document)
                if dated is not None:
                    candidates.append(dated)
            continue
        if hit.kind == "amount":
            amounts = segment_amounts(segment, document)
            if amounts:
                role = "tax_part" if hit.role == "tax" and len(amounts) > 1 else hit.role
                candidates.append(Candidate(role, amounts[-1], hit.strength, line.index))
            continue
        if hit.kind == "date":
            found = _read_date(line, position, segment, document)
            if found is not None:
                day, factor = found
                candidates.append(Candidate(hit.role, day, hit.strength * factor, line.index))
            continue
        value = read_value(hit.kind, segment, document)
        if value is not None:
            candidates.append(Candidate(hit.role, value, hit.strength, line.index))
    return candidates


def _read_date(
    line: Line, position: int, segment: str, document: TextDocument
) -> tuple[date, float] | None:
    """The date after a date label (reading past labels of other kinds, as in "Zahlungsziel:
    14 Tage netto (22.04.2024)"), and a factor below 1 when it is an early-payment date."""
    hit = line.hits[position]
    dates = find_dates(segment, document.date_order)
    if not dates:
        later = [other for other in line.hits[position + 1 :] if other.kind == "date"]
        segment = line.text[hit.end : later[0].start if later else len(line.text)]
        dates = find_dates(segment, document.date_order)
    if not dates:
        return None
    early = _EARLY_PAYMENT.search(segment[: dates[0].start])
    return dates[0].value, EARLY_PAYMENT_FACTOR if early else 1.0
