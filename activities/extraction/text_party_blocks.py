"""Labelled party blocks: a label such as "Verkäufer", "Bill to" or "Rechnungsempfänger" that
heads the lines of a party's name and address, the name in such a block, and which lines each
block covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from activities.extraction.text_dates import find_dates
from activities.extraction.text_document import Line, TextDocument
from activities.extraction.text_labels import normalise_word
from activities.extraction.text_names import LEGAL_FORM, clean_name
from activities.extraction.text_values import read_code

BLOCK_LINES = 8
PARTY_ROLES = frozenset({"seller", "buyer", "delivery", "payee"})
_WEAK_LABELS = frozenset(
    {"customer", "client", "kunde", "klant", "from", "buyer", "to", "aan", "an"}
)
_KEY_VALUE = re.compile(r"^[^:]{1,30}:\s*\S")
_NAME_LINE = re.compile(r"^(?:name|nom|naam)\s*:\s*", re.IGNORECASE)


@dataclass
class PartyBlocks:
    """The party blocks of a document: which lines open a block (role, end of the label), which
    role each covered line belongs to, and each block's name (role, name, line)."""

    document: TextDocument
    openers: dict[int, tuple[str, int]] = field(default_factory=dict)
    regions: dict[int, str] = field(default_factory=dict)
    blocks: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for line in self.document.lines:
            opened = _party_label(line)
            if opened is not None:
                self.openers[line.index] = opened
        for index, (role, end) in self.openers.items():
            self._read_block(self.document.lines[index], role, end)

    def _block_lines(self, label: Line) -> list[Line]:
        """The lines of the block a label opens (up to the next block or page)."""
        lines: list[Line] = []
        for line in self.document.lines[label.index + 1 : label.index + 1 + BLOCK_LINES]:
            if line.page != label.page or line.index in self.openers or line.table_header:
                break
            lines.append(line)
        return lines

    def _read_block(self, label: Line, role: str, end: int) -> None:
        """Record the block's name and the lines it covers."""
        members = self._block_lines(label)
        columns = sum(hit.role in PARTY_ROLES for hit in label.hits) > 1
        for line in [label, *members]:
            self.regions.setdefault(line.index, role)
        rest = label.text[end:]
        named = clean_name(rest, label, end) if rest.strip(" :") else None
        if named and named[0].isupper():
            self.blocks.append((role, named, label.index))
            return
        first: tuple[str, int] | None = None
        for line in members:
            if line.money:
                break
            if _NAME_LINE.match(line.text):
                named = clean_name(_NAME_LINE.sub("", line.text))
                if named:
                    self.blocks.append((role, named, line.index))
                    return
            keyed = bool(line.hits) and line.hits[0].start == 0
            if first is None and not keyed and not _KEY_VALUE.match(line.text):
                text = _left_column(line.text) if columns else line.text
                named = clean_name(text, line)
                first = (named, line.index) if named else None
        if first is not None:
            self.blocks.append((role, *first))


def _left_column(text: str) -> str:
    """The left one of two names printed side by side ("Fabrikam Inc Fabrikam Warehouse")."""
    words = text.split()
    for position in range(1, len(words)):
        if words[position] == words[0]:
            return " ".join(words[:position])
    legal = LEGAL_FORM.search(text)
    if legal is not None and legal.end() < len(text):
        return text[: legal.end()]
    return text


def _has_value(text: str) -> bool:
    """Whether a piece of a line holds an id or a date."""
    return read_code(text) is not None or bool(find_dates(text))


def _opens_block(label: Line, label_end: int, weak: bool) -> bool:
    """Whether a party label heads a block of lines rather than labelling a value or opening a
    sentence ("Customer: 2", "Customer VAT Number ...", "Facture à régler par virement")."""
    rest = label.text[label_end:].strip()
    colon = rest.startswith(":")
    rest = rest.lstrip(": ").strip()
    if not rest:
        return True
    if weak and not colon:
        return False
    code = read_code(rest)
    if code is not None and rest.split()[0].strip(":,#") == code[0]:
        return False
    following = [hit for hit in label.hits if hit.start >= label_end]
    if following and following[0].start - label_end <= 2:
        return following[0].role in PARTY_ROLES or _has_value(label.text[following[0].end :])
    return rest[0].isupper() and clean_name(rest) is not None


def _party_label(line: Line) -> tuple[str, int] | None:
    """The role of the party block a line opens with its label, and where the label ends."""
    if not line.hits or line.hits[0].start > 1 or line.hits[0].role not in PARTY_ROLES:
        return None
    end = line.hits[0].end
    for hit in line.hits[1:]:
        if hit.role in PARTY_ROLES and hit.start - end <= 2:
            end = hit.end
    weak = normalise_word(line.text[line.hits[0].start : end]) in _WEAK_LABELS
    return (line.hits[0].role, end) if _opens_block(line, end, weak) else None
