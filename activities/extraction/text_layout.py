"""Where values stand relative to their labels beyond the same line: under a row of labels
(column by column), under a lone label, in a column of values beside a column of labels (as
OCR reads such blocks), and in rows whose amounts add up.
"""

from __future__ import annotations

import re

from activities.extraction.text_amounts import find_currencies
from activities.extraction.text_document import Line, TextDocument
from activities.extraction.text_labels import LabelHit
from activities.extraction.text_values import (
    SEGMENT_STRIP,
    Candidate,
    Value,
    as_code,
    codes_in,
    has_values,
    same_line_candidates,
)
from activities.extraction.text_vocabulary import ValueKind

COLUMN_FACTOR = 0.85
BELOW_FACTOR = 0.7
HEADER_ROW_SHARE = 0.5
LABEL_COLUMN_FACTOR = 0.5
MAX_LABEL_WORDS = 5
MIN_COLUMN_CODE = 3
MAX_COLUMN_CELL = 40
VALUE_KINDS: tuple[ValueKind, ...] = ("code", "date", "amount", "currency")
_LONE_CODE = re.compile(r"^\S+(?:\s+\([^)]*\))?$")
_LABELLED_TEXT = re.compile(r"\s*[:=]\s*\S")
_CUSTOMER_COLUMNS = frozenset({"buyer"})


def _line_values(kind: ValueKind, line: Line) -> list[Value]:
    """The values of a kind on a line, left to right (for a row under a row of labels)."""
    if kind == "code":
        return list(codes_in(line))
    if kind == "date":
        return [found.value for found in line.dates]
    if kind == "amount":
        return [amount.value for amount in line.money]
    if kind == "currency":
        return [code for code, _, _ in find_currencies(line.text)]
    return []


def _column_kind(hit: LabelHit) -> ValueKind:
    """The kind of values a label's column holds (a customer column holds customer ids)."""
    return "code" if hit.role in _CUSTOMER_COLUMNS else hit.kind


def _covered(line: Line) -> float:
    """The share of a line's words that belong to labels."""
    inside = sum(
        1 for token in line.tokens if any(h.start <= token.start < h.end for h in line.hits)
    )
    return inside / max(1, len(line.tokens))


def _below(document: TextDocument, line: Line) -> list[Candidate]:
    """Values under a line of labels only: column by column, or under a lone label."""
    below = document.next_line(line)
    if below is None or below.table_header or not has_values(below):
        return []
    if below.hits and below.hits[0].start == 0 and below.hits[0].kind in VALUE_KINDS:
        return []
    header_row = _covered(line) >= HEADER_ROW_SHARE
    candidates: list[Candidate] = []
    for kind in VALUE_KINDS:
        labels = [hit for hit in line.hits if _column_kind(hit) == kind]
        if not labels:
            continue
        values = _line_values(kind, below)
        if header_row and len(values) == len(labels):
            candidates.extend(
                Candidate(hit.role, value, hit.strength * COLUMN_FACTOR, below.index, "column")
                for hit, value in zip(labels, values, strict=True)
            )
        elif (
            sum(hit.kind in VALUE_KINDS for hit in line.hits) == 1
            and labels[0].next_line
            and not _LABELLED_TEXT.match(line.text[labels[0].end :])
            and values
            and (kind != "amount" or len(values) == 1)
        ):
            hit = labels[0]
            strength = hit.strength * BELOW_FACTOR
            candidates.append(Candidate(hit.role, values[0], strength, below.index, "below"))
    return candidates


def label_candidates(document: TextDocument) -> list[Candidate]:
    """Every value that a label points at, in the whole document."""
    candidates: list[Candidate] = []
    for line in document.lines:
        if not line.hits or line.table_header or line.index in document.item_lines:
            continue
        found = same_line_candidates(document, line)
        candidates.extend(found)
        if not found and not has_values(line):
            candidates.extend(_below(document, line))
    candidates.extend(label_columns(document))
    return candidates


def _label_like(line: Line) -> bool:
    """A short line that only names things (no value): one cell of a column of labels."""
    return not line.table_header and len(line.tokens) <= MAX_LABEL_WORDS and not has_values(line)


def _column_values(kind: ValueKind, lines: list[Line]) -> list[Value]:
    """The values of a kind in a column of value lines, top to bottom (ids only where a line
    holds nothing else)."""
    if kind != "code":
        return [value for line in lines for value in _line_values(kind, line)]
    codes: list[Value] = []
    for line in lines:
        if _LONE_CODE.match(line.text):
            code = as_code(line.text.split()[0].strip(SEGMENT_STRIP + ","), 0)
            if code is not None and len(code[0]) >= MIN_COLUMN_CODE:
                codes.append(code[0])
    return codes


def label_columns(document: TextDocument) -> list[Candidate]:
    """Labels stacked in a column and their values stacked in the next one (OCR reads such a
    block column by column): matched in order, kind by kind."""
    candidates: list[Candidate] = []
    lines, index = document.lines, 0
    while index < len(lines):
        end = index
        while end < len(lines) and lines[end].page == lines[index].page and _label_like(lines[end]):
            end += 1
        run = lines[index:end]
        hits = [
            hit
            for line in run
            if _covered(line) >= HEADER_ROW_SHARE
            for hit in line.hits
            if hit.next_line
        ]
        if len(run) < 2 or len(hits) < 2:
            index = max(index + 1, end)
            continue
        column: list[Line] = []
        for line in lines[end : end + 2 * len(run) + 2]:
            keyed = bool(line.hits) and line.hits[0].start == 0 and line.hits[0].kind != "party"
            if line.page != run[0].page or keyed or len(line.text) > MAX_COLUMN_CELL:
                break
            column.append(line)
        for kind in VALUE_KINDS:
            labels = [hit for hit in hits if _column_kind(hit) == kind]
            values = _column_values(kind, column)
            if labels and len(values) >= len(labels):
                candidates.extend(
                    Candidate(hit.role, value, hit.strength * LABEL_COLUMN_FACTOR, end, "column")
                    for hit, value in zip(labels, values, strict=False)
                )
        index = end
    return candidates


def totals_rows(document: TextDocument) -> list[Candidate]:
    """Net, tax and total from rows whose amounts add up: "24.99 5.00 29.99"."""
    candidates: list[Candidate] = []
    for line in document.lines:
        money = [amount.value for amount in line.money]
        if len(money) < 3 or line.table_header or line.index in document.item_lines:
            continue
        labelled = any(hit.kind == "amount" for hit in line.hits)
        strength = 0.7 if labelled else 0.5
        net, tax, total = money[-3:]
        if total != 0 and net + tax == total and abs(tax) < abs(net):
            candidates.extend(
                Candidate(role, value, strength, line.index, "phrase")
                for role, value in (("net", net), ("tax", tax), ("total", total))
            )
    return candidates
