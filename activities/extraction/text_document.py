"""Invoice text as lines, each with its words, labels, dates and amounts, read once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from activities.extraction.text_amounts import Amount, find_amounts, infer_decimal_comma
from activities.extraction.text_dates import (
    DateOrder,
    FoundDate,
    find_dates,
    infer_date_order,
    mask_dates,
)
from activities.extraction.text_labels import LabelHit, Token, line_label_hits, tokenize

_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")
CENT = Decimal("0.01")
_DOLLAR_ORDER = re.compile(r"\$|\bUSD\b")

DESCRIPTION_WORDS = frozenset(
    {
        "beschreibung", "bezeichnung", "artikelbeschreibung", "artikel", "produkt", "product",
        "description", "designation", "libelle", "omschrijving", "item", "items", "leistung",
        "article", "articles", "service", "services", "artikelbezeichnung", "title",
        "positionsbezeichnung", "produit", "dienst",
    }
)  # fmt: skip
QUANTITY_WORDS = frozenset(
    {
        "menge", "anzahl", "qty", "quantity", "quantite", "qte", "aantal", "hoeveelheid",
        "nombre", "stuck", "units", "hours", "stunden",
    }
)  # fmt: skip
PRICE_WORDS = frozenset(
    {
        "preis", "einzelpreis", "nettopreis", "price", "prijs", "prix", "rate", "pu", "tarif",
        "amount", "betrag", "bedrag", "montant", "summe", "total", "gesamtbetrag", "nettobetrag",
        "zeilenbetrag", "gesamt", "vk", "unitaire", "positionsbetrag", "entgelt", "totaal",
    }
)  # fmt: skip


@dataclass
class Line:
    """One non-empty line of the text and what was found in it."""

    index: int
    page: int
    text: str
    tokens: list[Token]
    hits: list[LabelHit]
    dates: list[FoundDate]
    amounts: list[Amount]
    table_header: bool
    codes: list[str] | None = None

    @property
    def money(self) -> list[Amount]:
        """The money amounts of the line (not percentages, not bare integers)."""
        return [amount for amount in self.amounts if amount.is_money]


@dataclass
class TextDocument:
    """The lines of an invoice's text with the number and date style it uses."""

    lines: list[Line]
    pages: int
    decimal_comma: bool
    date_order: DateOrder
    text_amounts: set[Decimal] = field(default_factory=set)
    item_lines: set[int] = field(default_factory=set)

    def next_line(self, line: Line) -> Line | None:
        """The line after `line` on the same page, if any."""
        following = line.index + 1
        if following < len(self.lines) and self.lines[following].page == line.page:
            return self.lines[following]
        return None


def is_table_header(tokens: list[Token]) -> bool:
    """Whether a line heads a table of line items (a description column and a number column)."""
    words = {token.text for token in tokens}
    return bool(words & DESCRIPTION_WORDS) and bool(words & (QUANTITY_WORDS | PRICE_WORDS))


def read_document(text: str) -> TextDocument:
    """Split the text into pages and lines and read each line once."""
    pages = text.split("\f")
    decimal_comma = infer_decimal_comma(text)
    date_order = infer_date_order(text, default="mdy" if _DOLLAR_ORDER.search(text) else "dmy")
    lines: list[Line] = []
    for page_number, page in enumerate(pages):
        for raw in page.splitlines():
            cleaned = _SPACES.sub(" ", raw).strip()
            if not cleaned:
                continue
            tokens = tokenize(cleaned)
            dates = find_dates(cleaned, date_order)
            masked = mask_dates(cleaned, dates) if dates else cleaned
            lines.append(
                Line(
                    index=len(lines),
                    page=page_number,
                    text=cleaned,
                    tokens=tokens,
                    hits=line_label_hits(cleaned, tokens),
                    dates=dates,
                    amounts=find_amounts(masked, decimal_comma),
                    table_header=is_table_header(tokens),
                )
            )
    document = TextDocument(lines, len(pages), decimal_comma, date_order)
    document.text_amounts = {
        abs(amount.value).quantize(CENT) for line in lines for amount in line.money
    }
    return document
