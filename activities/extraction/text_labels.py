"""Field labels of invoices in English, German, French and Dutch, found word by word.

A label is a phrase of normalised words (no case, no accents, `ß` as `ss`), so "Rechnungs-Nr.",
"RECHNUNGSNR" and an OCR'd "Rechnungs Nr" are the same label, and a phrase written without
spaces ("RechnungssummeohneUSt.") or with a split first letter ("F actuurnummer") still matches.
Each label has a role (the field it introduces, or a known other field), a strength, and whether
its value may stand on the next line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from activities.extraction.text_vocabulary import LABELS, ROLE_KINDS, WEAK, ValueKind

_TOKEN = re.compile(r"\w+|[#°º%]")

_DOCUMENT_WORD = (
    r"\b\w*(?:rechnung|gutschrift|korrektur|invoice|facture|factuur|credit\s+note|avoir)\w*"
)
_NUMBER_WORD = r"(?:nr|no|n°|nº|#|nummer|number|numéro|numero)\b\.?"
_INVOICE_NUMBER_PHRASE = re.compile(
    rf"{_DOCUMENT_WORD}(?P<between>(?:\s+(?:\([^)\n]{{0,40}}\)|[^\s\d()]+)){{0,4}}?)\s*{_NUMBER_WORD}",
    re.IGNORECASE,
)
_NOT_THE_INVOICE = re.compile(
    r"bestell|order|liefer|auftrag|kunde|customer|vertrag|contract|commande|account|client",
    re.IGNORECASE,
)
_PHRASES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    ("due_date", 0.9, re.compile(r"\b(?:zahlbar|payable)\b[^\n]{0,50}?bis(?:\s*zum)?", re.I)),
    ("due_date", 0.9, re.compile(r"\büberweisen\s+sie\b[^\n]{0,40}?\bbis(?:\s*zum)?", re.I)),
    ("due_date", 0.6, re.compile(r"\bwird\s+am(?=\s+\d[^\n]{0,30}\bkonto)", re.I)),
    (
        "due_date",
        0.6,
        re.compile(r"\b(?:will\s+be\s+debited|sera\s+prélevée?)\b[^\n]{0,30}?\b(?:on|le)\b", re.I),
    ),
)
"""Labels with free words inside ("zahlbar innerhalb 30 Tagen netto bis"), as patterns."""


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """One label phrase: its normalised words, role and strength."""

    role: str
    words: tuple[str, ...]
    strength: float
    next_line: bool
    line_start: bool


@dataclass(frozen=True, slots=True)
class LabelHit:
    """A label found in a line: its role and strength and where it stands."""

    role: str
    strength: float
    start: int
    end: int
    next_line: bool = True

    @property
    def kind(self) -> ValueKind:
        """The kind of value the label introduces."""
        return ROLE_KINDS[self.role]


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a line, normalised, with its span in the line."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=65536)
def normalise_word(word: str) -> str:
    """A word without case or accents, `ß` as `ss` and `º` as `°`."""
    folded = word.casefold().replace("ß", "ss").replace("º", "°")
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def tokenize(line: str) -> list[Token]:
    """The normalised words of a line with their spans."""
    return [
        Token(normalise_word(match.group()), match.start(), match.end())
        for match in _TOKEN.finditer(line)
    ]


def _phrase_words(phrase: str) -> tuple[str, ...]:
    """A label phrase as normalised words."""
    return tuple(token.text for token in tokenize(phrase))


def _build_index() -> tuple[dict[str, list[LabelSpec]], dict[str, LabelSpec]]:
    """Label specs by first word (longest first) and by the phrase written without spaces."""
    by_first: dict[str, list[LabelSpec]] = {}
    glued: dict[str, LabelSpec] = {}
    for role, phrases in LABELS.items():
        for phrase, strength in phrases:
            bare = phrase.lstrip("!^")
            words = _phrase_words(bare)
            capped = min(strength, WEAK.get(bare, 1.0))
            spec = LabelSpec(role, words, capped, "!" not in phrase, "^" in phrase)
            by_first.setdefault(words[0], []).append(spec)
            joined = "".join(words)
            if len(words) > 1 and len(joined) >= 8:
                glued.setdefault(joined, spec)
    for specs in by_first.values():
        specs.sort(key=lambda spec: (-len(spec.words), -spec.strength))
    return by_first, glued


_BY_FIRST, _GLUED = _build_index()


def _match_at(words: list[str], index: int) -> LabelSpec | None:
    """The longest label whose words start at `index`."""
    for spec in _BY_FIRST.get(words[index], ()):
        size = len(spec.words)
        if tuple(words[index : index + size]) == spec.words:
            return spec
    return _GLUED.get(words[index])


def find_label_hits(tokens: list[Token]) -> list[LabelHit]:
    """The labels of a line, left to right, each the longest phrase at its position."""
    words = [token.text for token in tokens]
    hits: list[LabelHit] = []
    index = 0
    while index < len(words):
        spec, used = _match_at(words, index), 0
        if spec is not None and spec.line_start and index > 0:
            spec = None
        if spec is not None:
            used = len(spec.words) if spec.words[0] == words[index] else 1
        elif len(words[index]) == 1 and words[index].isalpha() and index + 1 < len(words):
            split = [words[index] + words[index + 1], *words[index + 2 :]]
            spec = _match_at(split, 0)
            if spec is not None:
                used = (len(spec.words) if spec.words[0] == split[0] else 1) + 1
        if spec is None:
            index += 1
            continue
        last = tokens[index + used - 1]
        hits.append(
            LabelHit(spec.role, spec.strength, tokens[index].start, last.end, spec.next_line)
        )
        index += used
    return hits


def _phrase_hits(line: str) -> list[LabelHit]:
    """Labels written as phrases with free words inside them."""
    hits: list[LabelHit] = []
    for match in _INVOICE_NUMBER_PHRASE.finditer(line):
        if not _NOT_THE_INVOICE.search(match.group("between")):
            hits.append(LabelHit("invoice_number", 0.95, match.start(), match.end()))
    if line.startswith("#") and len(line) > 2:
        hits.append(LabelHit("invoice_number", 0.4, 0, 1, next_line=False))
    for role, strength, pattern in _PHRASES:
        hits.extend(
            LabelHit(role, strength, match.start(), match.end()) for match in pattern.finditer(line)
        )
    return hits


def line_label_hits(line: str, tokens: list[Token]) -> list[LabelHit]:
    """All labels of a line in order: phrases first, then words outside them."""
    phrases = _phrase_hits(line)
    words = [
        hit
        for hit in find_label_hits(tokens)
        if not any(hit.start < other.end and other.start < hit.end for other in phrases)
    ]
    return sorted([*phrases, *words], key=lambda hit: hit.start)
