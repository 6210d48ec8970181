"""Line items from the table under a header row ("Beschreibung Menge Preis Betrag"): each row's
numbers are read from the right (total, tax rate, price, quantity with its unit) and checked
against each other (quantity x price = total); a total printed on the line below is found too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from activities.extraction.text_amounts import currency_code, parse_number
from activities.extraction.text_dates import mask_dates
from activities.extraction.text_document import Line, TextDocument
from models.invoices import LineItem

LOOKAHEAD = 3
MAX_RATE = Decimal("30")
_END_ROLES = frozenset({"total", "net", "linesum", "tax", "amount_due"})
_NUMBER = re.compile(r"^[-\u2212]?(?:\d{1,3}(?:[.,'\u2019]\d{3})+|\d+)(?:[.,]\d{1,4})?-?$")
_QUANTITY_UNIT = re.compile(r"^(\d+(?:[.,]\d+)?)([A-Za-zÄÖÜäöü][\w().²³/]{0,9})$")
_UNIT = re.compile(r"^[A-Za-zµ][A-Za-z²³]{0,2}\.?$")
UNITS = frozenset(
    {
        "stk", "stuck", "st", "pcs", "pc", "pce", "piece", "pieces", "unit", "units", "unit(s)",
        "liter", "liter(s)", "litre", "litres", "ltr", "kg", "g", "m", "m²", "m2", "m³", "std",
        "h", "hrs", "hours", "hour", "kwh", "km", "ea", "each", "pkg", "set", "sets", "karton",
        "rolle", "psch", "pauschal", "tag", "tage", "day", "days", "month", "months", "monat",
        "night", "nights", "box", "boxes", "paar", "pair", "stunden", "stunde", "mal", "x",
        "lfm", "qm", "cm", "mm", "ml", "l", "t", "lb", "lbs", "oz", "ft", "sqm", "user", "users",
    }
)  # fmt: skip
_CURRENCY_AFFIX = re.compile(r"^(?:[€$£₹]|US\$|Rs\.?)|[€$£₹]$")
_CODE_WORD = re.compile(r"^(?:\[[^\]]+\]|\*[^*]+\*|(?=[^a-z]*\d)[A-Z0-9][A-Z0-9_\-./]{2,})$")
_LEADING_QUANTITY = re.compile(r"^\d+[.,]\d+$")
_LEADING_NUMBER = re.compile(r"^\d{1,4}(?:[.,]\d{1,3})?$")
_POSITION_CODE = re.compile(r"^(\d{1,3})([A-Z0-9]*[A-Z][A-Z0-9]*\d[A-Z0-9]*)$")
_SECTION_END = re.compile(
    r"^(?:\w*steuer\w*aufschl|zu-? und abschl|belegsummen|zahlungsbedingungen|payment terms"
    r"|conditions de paiement|summary|zusammenfassung|récapitulatif|tax summary|vat summary)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _Cell:
    """A number at the end of a row: its value, decimals, and whether it is a percentage."""

    value: Decimal
    decimals: int
    percent: bool = False
    unit: str | None = None
    text: str = ""
    money: bool = False

    @property
    def amount(self) -> bool:
        """Whether the cell reads as money (decimals or a currency sign), not a percentage."""
        return not self.percent and (self.decimals >= 2 or self.money)


@dataclass(frozen=True, slots=True)
class _Row:
    """A row split into its description words and its trailing numbers."""

    words: list[str]
    cells: list[_Cell]


def _number(word: str, decimal_comma: bool) -> tuple[Decimal, int] | None:
    """A word as a number (currency signs around it allowed)."""
    bare = _CURRENCY_AFFIX.sub("", word)
    if not _NUMBER.match(bare):
        return None
    negative = bare[0] in "-\u2212" or bare.endswith("-")
    parsed = parse_number(bare.strip("-\u2212"), decimal_comma)
    if parsed is None:
        return None
    return (-parsed[0] if negative else parsed[0]), parsed[1]


def _is_unit(word: str) -> bool:
    """Whether a word is a unit of measure ("Stk.", "kg", "Unit(s)", "KWH")."""
    return _UNIT.match(word) is not None or word.casefold().rstrip(".") in UNITS


def _split_row(text: str, decimal_comma: bool) -> _Row:
    """The row's description words and the numbers that end it (read right to left)."""
    words = text.split()
    cells: list[_Cell] = []
    index = len(words) - 1
    currency_after = False
    while index >= 0:
        word = words[index]
        if currency_code(word) is not None:
            index -= 1
            currency_after = True
            if cells and not cells[0].percent:
                cells[0] = replace(cells[0], money=True)
            continue
        if word == "%" and index > 0:
            number = _number(words[index - 1], decimal_comma)
            if number is None:
                break
            cells.insert(0, _Cell(number[0], number[1], percent=True, text=f"{words[index - 1]} %"))
            index -= 2
            continue
        number = _number(word.rstrip("%"), decimal_comma)
        if number is not None:
            percent = word.endswith("%")
            money = not percent and (currency_after or bool(_CURRENCY_AFFIX.search(word)))
            cells.insert(0, _Cell(number[0], number[1], percent, text=word, money=money))
            index -= 1
            currency_after = False
            continue
        currency_after = False
        glued = _QUANTITY_UNIT.match(word)
        if glued is not None and _is_unit(glued.group(2)):
            parsed = parse_number(glued.group(1), decimal_comma)
            if parsed is not None and cells:
                cells.insert(0, _Cell(parsed[0], parsed[1], unit=glued.group(2), text=word))
                index -= 1
                continue
        if cells and index > 0 and _is_unit(word):
            before = _number(words[index - 1], decimal_comma)
            if before is not None:
                text = f"{words[index - 1]} {word}"
                cells.insert(0, _Cell(before[0], before[1], unit=word, text=text))
                index -= 2
                continue
        break
    return _Row(words[: index + 1], cells)


def _close(left: Decimal, right: Decimal) -> bool:
    """Whether two amounts agree to a cent (or half a percent for large ones)."""
    return abs(left - right) <= max(Decimal("0.011"), abs(right) * Decimal("0.005"))


def _leading_quantities(words: list[str], decimal_comma: bool) -> list[_Cell]:
    """Numbers opening the row ("1,00 Design", "1 1 Small Business"): possible quantities."""
    leading: list[_Cell] = []
    for word in words[:2]:
        number = _number(word, decimal_comma) if _LEADING_NUMBER.match(word) else None
        if number is None:
            break
        leading.append(_Cell(number[0], number[1], text=word))
    return leading


def _quantity_price(
    numbers: list[_Cell], leading: list[_Cell], total: Decimal
) -> tuple[_Cell, _Cell, bool] | None:
    """The (quantity, unit price) whose product is the total, or a likely pair that is not
    (a discount or tax between them); and whether the product matched."""
    for quantity in [*reversed(leading), *numbers]:
        for price in numbers:
            if price is quantity or price.unit is not None or not price.amount:
                continue
            if _close(quantity.value * price.value, total):
                return quantity, price, True
    counted = [cell for cell in numbers if cell.unit is not None or not cell.amount]
    priced = [cell for cell in numbers if cell.amount and cell.unit is None]
    if counted and priced:
        return counted[0], priced[0], False
    return None


def _description(words: list[str]) -> tuple[str, str | None]:
    """The description, with a leading position number, quantity or item code taken off."""
    code: str | None = None
    rest = list(words)
    for _ in range(3):
        if len(rest) < 2:
            break
        first = rest[0]
        glued = _POSITION_CODE.match(first)
        if (first.isdigit() and len(first) <= 3) or _LEADING_QUANTITY.match(first):
            rest.pop(0)
        elif _CODE_WORD.match(first):
            code = first.strip("[]*")
            rest.pop(0)
        elif glued is not None:
            code = glued.group(2)
            rest.pop(0)
        else:
            break
    return " ".join(rest).strip(" :-\u2013"), code


def _is_row_start(row: _Row) -> bool:
    """Whether a split line looks like an item row of its own (a description and numbers)."""
    letters = sum(character.isalpha() for character in " ".join(row.words))
    return len(row.cells) >= 2 and any(cell.decimals >= 2 for cell in row.cells) and letters >= 2


def _ends_table(line: Line) -> bool:
    """Whether a line closes the item table (a totals label with an amount, a new section)."""
    if _SECTION_END.match(line.text):
        return True
    first = line.hits[0] if line.hits else None
    return first is not None and first.start <= 1 and first.role in _END_ROLES and bool(line.money)


def _total_below(document: TextDocument, line: Line) -> tuple[Decimal, int] | None:
    """A line total printed at the end of one of the next lines, and that line's index."""
    below = line
    for _ in range(LOOKAHEAD):
        following = document.next_line(below)
        if following is None or following.table_header or _ends_table(following):
            return None
        row = _split_row(following.text, document.decimal_comma)
        if _is_row_start(row) and any(cell.percent for cell in row.cells):
            return None
        last = row.cells[-1] if row.cells else None
        if last is not None and last.decimals >= 2 and not last.percent:
            return last.value, following.index
        below = following
    return None


def _take_rate(cells: list[_Cell]) -> Decimal | None:
    """The tax rate of a row: its last percentage, or a small whole number after the total."""
    last = cells[-1] if cells else None
    rate: Decimal | None = None
    if (
        last is not None
        and len(cells) >= 3
        and last.decimals == 0
        and not last.money
        and last.unit is None
        and 0 <= last.value <= MAX_RATE
        and cells[-2].amount
    ):
        rate = cells.pop().value
    percents = [cell.value for cell in cells if cell.percent]
    return percents[-1] if percents else rate


def _item(document: TextDocument, line: Line) -> LineItem | None:
    """The line item a row holds, if it holds one (its lines join `document.item_lines`)."""
    masked = mask_dates(line.text, line.dates) if line.dates else line.text
    row = _split_row(masked, document.decimal_comma)
    counted = any(cell.amount or cell.unit is not None for cell in row.cells)
    if not _is_row_start(row) and not (counted and any(cell.percent for cell in row.cells)):
        return None
    cells = list(row.cells)
    rate = _take_rate(cells)
    total: Decimal | None = None
    if cells and cells[-1].amount:
        total = cells.pop().value
    else:
        below = _total_below(document, line)
        if below is not None:
            total = below[0]
            document.item_lines.update(range(line.index, below[1] + 1))
    if total is None:
        return None
    numbers = [cell for cell in cells if not cell.percent]
    pair = _quantity_price(numbers, _leading_quantities(row.words, document.decimal_comma), total)
    words = list(row.words)
    if pair is not None and pair[2]:
        for cell in cells:
            if cell in pair[:2] or cell.percent or not words:
                break
            words.extend(cell.text.split())
    description, code = _description(words)
    if not description:
        following = document.next_line(line)
        if following is not None and not following.money and not following.hits:
            description = _description(following.text.split())[0]
    if sum(character.isalpha() for character in description) < 2:
        return None
    return LineItem(
        description=description,
        item_code=code,
        quantity=pair[0].value if pair else None,
        unit_price=pair[1].value if pair else None,
        line_total=total,
        tax_rate=rate,
        confidence=0.85 if pair is not None and pair[2] else 0.6,
    )


def read_line_items(document: TextDocument) -> list[LineItem]:
    """The line items of every item table in the document (a table may go on over a page)."""
    items: list[LineItem] = []
    in_table = False
    for line in document.lines:
        if line.table_header:
            in_table = True
            continue
        if not in_table:
            continue
        if _ends_table(line):
            in_table = False
            continue
        if line.index in document.item_lines:
            continue
        item = _item(document, line)
        if item is not None:
            items.append(item)
            document.item_lines.add(line.index)
    return items
