"""Who sends the invoice and who receives it, from general cues that vote: labelled blocks
("Verkäufer", "Bill to"), the sender line above the address window and the name under it, the
first names on the page, names with a legal form, the account holder, the website's domain
and the footer's company line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from activities.extraction.text_document import TextDocument
from activities.extraction.text_names import (
    LEGAL_FORM,
    POSTCODE,
    SEPARATORS,
    clean_name,
    contains,
    legal_names,
    name_key,
)
from activities.extraction.text_party_blocks import PartyBlocks

TOP_LINES = 12
TOP_NAMES = 3
MAX_TOP_WORDS = 6
SENDER_LINES = 25
FOOTER_LINES = 10
WINDOW_LINES = 2
LEGAL_VOTES = 2
_NOT_SUPPLIER = frozenset({"buyer", "delivery", "payee"})
_SALUTATION = re.compile(
    r"^(?:herrn?|frau|firma|mr\.?|mrs\.?|ms\.?|messrs\.?|monsieur|madame|mme|m\.|dhr\.?|mevr\.?)$",
    re.IGNORECASE,
)
_TITLE_WORDS = re.compile(
    r"\b(?:tax\s+invoice|invoice|rechnung|facture|factuur|payment\s+receipt|receipt|credit\s+note"
    r"|gutschrift|avoir|kopie|copy|duplicate|original|retail\s+invoices?/?\s*bill)\b\.?"
    r"(?:\s+(?:from|von|de|van)\b)?",
    re.IGNORECASE,
)
_NOT_A_NAME_LINE = re.compile(r"\(c\)|©|copyright|stylesheet|page\s+\d|seite\s+\d", re.I)
_HOLDER = re.compile(
    r"\b(?:kontoinhaber|konto-?inhaber|kontoname|titulaire\s+du\s+compte|account\s+holder"
    r"|account\s+name|rekeninghouder|ten\s+name\s+van|beneficiary|begünstigter"
    r"|payable\s+to|in\s+fav(?:o|ou)r\s+of)\b\s*[:.]?\s*",
    re.IGNORECASE,
)
_REGISTRY = re.compile(
    r"siège|capital|\brcs\b|\bhrb\b|\bhra\b|registergericht|amtsgericht|\bkvk\b|siret"
    r"|geschäftsführ|registered\s+office|\bcin\b|handelsregister|vorstand",
    re.IGNORECASE,
)
_DOMAIN = re.compile(r"(?:www\.|https?://(?:www\.)?|@)([a-z0-9][a-z0-9-]{2,})\.[a-z]{2,}", re.I)
_GENERIC_DOMAINS = frozenset(
    {"example", "gmail", "yahoo", "hotmail", "outlook", "gmx", "web", "localhost", "icloud"}
)
_VAT_LINE = re.compile(r"ust|mwst|vat|tva|btw|uid|iva|tax", re.IGNORECASE)
_VAT_ID = re.compile(
    r"\b(AT|BE|BG|CH|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|NO|PL|PT|RO|SE|SI"
    r"|SK|XI)\s?([0-9A-Z]{0,3}(?:[ .]?\d){7,12}(?:B\d{2}|[A-Z])?)\b"
)
_CUSTOMER_WORDS = re.compile(
    r"client|customer|kunde|käufer|\buw\b|\byour\b|\bihre?\b|acheteur|buyer|klant", re.I
)


@dataclass(frozen=True)
class Parties:
    """The supplier's and the buyer's names, the supplier's VAT id, and confidences."""

    supplier: str | None = None
    buyer: str | None = None
    supplier_tax_id: str | None = None
    confidence: dict[str, float] = field(default_factory=dict)


@dataclass
class _Vote:
    """One name's votes: their sum, the strongest single vote and how it was written there."""

    total: float
    strongest: float
    display: str
    line: int


@dataclass
class _Votes:
    """Names with their votes, keyed by the normalised name."""

    names: dict[str, _Vote] = field(default_factory=dict)

    def add(self, name: str | None, score: float, line: int) -> None:
        """Count one cue's vote for a name."""
        key = name_key(name) if name else ""
        if name is None or len(key) < 2:
            return
        vote = self.names.get(key)
        if vote is None:
            self.names[key] = _Vote(score, score, name, line)
            return
        vote.total += score
        vote.line = min(vote.line, line)
        if score > vote.strongest:
            vote.strongest, vote.display = score, name

    def best(self, exclude: str | None = None) -> tuple[str, float] | None:
        """The name with the most votes (names that contain each other support each other)."""
        ranked: list[tuple[float, int, str]] = []
        for key, vote in self.names.items():
            if key == exclude:
                continue
            support = sum(
                other.total / 2
                for other_key, other in self.names.items()
                if other_key != key and contains(key, other_key)
            )
            ranked.append((vote.total + support, -vote.line, vote.display))
        if not ranked:
            return None
        score, _, display = max(ranked)
        return display, score


def _sender_line(document: TextDocument) -> tuple[str, int] | None:
    """The sender's one-line address above the address window: "Name - Street 1 - 12345 City"."""
    for line in document.lines[:SENDER_LINES]:
        if line.page != 0:
            break
        parts = [part for part in SEPARATORS.split(line.text) if part.strip()]
        if len(parts) < 2 or ":" in parts[0] or any(c.isdigit() for c in parts[0]):
            continue
        if any(POSTCODE.search(part) for part in parts[1:]):
            name = clean_name(parts[0])
            if name:
                return name, line.index
    return None


def _window_name(reader: PartyBlocks, after: int) -> tuple[str, int] | None:
    """The name right under the sender line (the first line of the address window)."""
    for line in reader.document.lines[after + 1 : after + 1 + WINDOW_LINES]:
        if line.index in reader.openers:
            return None
        if not _SALUTATION.match(line.text):
            name = clean_name(line.text, line)
            return (name, line.index) if name else None
    return None


def _top_names(reader: PartyBlocks) -> list[tuple[str, int]]:
    """The first few name lines of the first page (titles like "INVOICE" taken off)."""
    names: list[tuple[str, int]] = []
    for line in reader.document.lines[:TOP_LINES]:
        if line.page != 0 or len(names) == TOP_NAMES:
            break
        if line.index in reader.regions or line.dates or line.money or ":" in line.text:
            continue
        if line.table_header or _NOT_A_NAME_LINE.search(line.text):
            continue
        if any(hit.kind != "party" and hit.next_line for hit in line.hits):
            continue
        text = _TITLE_WORDS.sub(" ", line.text)
        if len(text.split()) > MAX_TOP_WORDS and not LEGAL_FORM.search(text):
            continue
        name = clean_name(text)
        if name:
            names.append((name, line.index))
    return names


def _holder_names(document: TextDocument) -> list[tuple[str, int]]:
    """The holder of the bank account to pay to (usually the supplier)."""
    names: list[tuple[str, int]] = []
    for line in document.lines:
        match = _HOLDER.search(line.text)
        if match is None:
            continue
        name = clean_name(line.text[match.end() :])
        following = document.next_line(line)
        if name is None and following is not None and match.end() >= len(line.text) - 1:
            name = clean_name(following.text, following)
        if name:
            names.append((name, line.index))
    return names


def _footer_names(document: TextDocument) -> list[tuple[str, int]]:
    """Short name lines beside the company registry line of the footer."""
    lines = document.lines[-FOOTER_LINES:]
    names: list[tuple[str, int]] = []
    for position, line in enumerate(lines):
        neighbours = lines[max(0, position - 1) : position + 2]
        short = len(line.text.split()) <= 4 and not _REGISTRY.search(line.text)
        if short and any(_REGISTRY.search(neighbour.text) for neighbour in neighbours):
            name = clean_name(line.text, line)
            if name:
                names.append((name, line.index))
    return names


def _domains(document: TextDocument) -> set[str]:
    """The second-level names of the websites and mail addresses in the text."""
    found: set[str] = set()
    for line in document.lines:
        for match in _DOMAIN.finditer(line.text):
            label = match.group(1).casefold().replace("-", "")
            if label not in _GENERIC_DOMAINS:
                found.add(label)
    return found


def _supplier_votes(reader: PartyBlocks) -> _Votes:
    """Every cue's vote for the supplier's name."""
    document, votes = reader.document, _Votes()
    for role, name, index in reader.blocks:
        if role == "seller":
            votes.add(name, 3.0, index)
    sender = _sender_line(document)
    if sender is not None:
        votes.add(sender[0], 2.5, sender[1])
    for rank, (name, index) in enumerate(_top_names(reader)):
        votes.add(name, 1.5 - 0.3 * rank + (0.5 if LEGAL_FORM.search(name) else 0.0), index)
    counted: dict[str, int] = {}
    for line in document.lines:
        if reader.regions.get(line.index) in _NOT_SUPPLIER:
            continue
        for name in legal_names(line.text):
            key = name_key(name)
            counted[key] = counted.get(key, 0) + 1
            if counted[key] <= LEGAL_VOTES:
                votes.add(name, 1.0, line.index)
    for name, index in _holder_names(document):
        votes.add(name, 1.5, index)
    for name, index in _footer_names(document):
        votes.add(name, 1.0, index)
    domains = [domain for domain in _domains(document) if len(domain) >= 4]
    for key, vote in votes.names.items():
        letters = key.replace(" ", "")
        if len(letters) >= 4 and any(letters in d or d in letters for d in domains):
            vote.total += 1.5
    return votes


def _buyer_votes(reader: PartyBlocks) -> _Votes:
    """Every cue's vote for the buyer's name."""
    votes = _Votes()
    for role, name, index in reader.blocks:
        if role == "buyer":
            votes.add(name, 3.0, index)
        elif role == "delivery":
            votes.add(name, 1.5, index)
    sender = _sender_line(reader.document)
    if sender is not None:
        window = _window_name(reader, sender[1])
        if window is not None:
            votes.add(window[0], 2.0, window[1])
    for name, index in _addressed_names(reader.document):
        votes.add(name, 2.0, index)
    return votes


def _addressed_names(document: TextDocument) -> list[tuple[str, int]]:
    """Names under a salutation line of the first page ("Herrn" / "Peter Schmidt")."""
    names: list[tuple[str, int]] = []
    for line in document.lines[:SENDER_LINES]:
        following = document.next_line(line)
        if line.page == 0 and following is not None and _SALUTATION.match(line.text):
            name = clean_name(following.text, following)
            if name:
                names.append((name, following.index))
    return names


def supplier_vat_id(document: TextDocument, regions: dict[int, str]) -> str | None:
    """The first VAT id on the invoice that is not the buyer's."""
    for line in document.lines:
        if regions.get(line.index) in _NOT_SUPPLIER or not _VAT_LINE.search(line.text):
            continue
        for match in _VAT_ID.finditer(line.text):
            if not _CUSTOMER_WORDS.search(line.text[: match.start()]):
                return match.group(1) + re.sub(r"[ .]", "", match.group(2))
    return None


def read_parties(document: TextDocument) -> Parties:
    """The supplier's and the buyer's names and the supplier's VAT id."""
    reader = PartyBlocks(document)
    supplier = _supplier_votes(reader).best()
    buyer = _buyer_votes(reader).best(exclude=name_key(supplier[0]) if supplier else None)
    confidence: dict[str, float] = {}
    if supplier is not None:
        confidence["supplier_name"] = round(min(0.95, 0.35 + supplier[1] / 8), 2)
    if buyer is not None:
        confidence["buyer_name"] = round(min(0.95, 0.4 + buyer[1] / 6), 2)
    return Parties(
        supplier=supplier[0] if supplier else None,
        buyer=buyer[0] if buyer else None,
        supplier_tax_id=supplier_vat_id(document, reader.regions),
        confidence=confidence,
    )
