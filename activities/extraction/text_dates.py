"""Dates in invoice text: numeric (DD.MM.YYYY, DD/MM/YYYY, MM/DD/YYYY, YYYY-MM-DD) and with
month names in English, German, French and Dutch ("5. Juni 2018", "June 5, 2018", "31-Dec-2017").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

DateOrder = Literal["dmy", "mdy"]

MONTHS: dict[str, int] = {
    **dict.fromkeys(("january", "januar", "jänner", "janvier", "januari", "jan", "janv"), 1),
    **dict.fromkeys(("february", "februar", "février", "fevrier", "februari", "feb", "fév"), 2),
    **dict.fromkeys(("févr", "fevr", "febr"), 2),
    **dict.fromkeys(("march", "märz", "maerz", "marz", "mars", "maart", "mar", "mär", "mrt"), 3),
    **dict.fromkeys(("april", "avril", "apr", "avr"), 4),
    **dict.fromkeys(("may", "mai", "mei"), 5),
    **dict.fromkeys(("june", "juni", "juin", "jun"), 6),
    **dict.fromkeys(("july", "juli", "juillet", "jul", "juil"), 7),
    **dict.fromkeys(("august", "août", "aout", "augustus", "aug"), 8),
    **dict.fromkeys(("september", "septembre", "sep", "sept"), 9),
    **dict.fromkeys(("october", "oktober", "octobre", "oct", "okt"), 10),
    **dict.fromkeys(("november", "novembre", "nov"), 11),
    **dict.fromkeys(("december", "dezember", "décembre", "decembre", "dec", "dez", "déc"), 12),
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))

_NUMERIC = re.compile(
    r"(?<![\d.,/-])(?P<a>\d{1,2})(?P<sep>[./-])\s?(?P<b>\d{1,2})(?P=sep)\s?(?P<y>\d{4}|\d{2})"
    r"(?!\d|[./]\d)"
)
_ISO = re.compile(
    r"(?<![\d.,/-])(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)"
)
_DAY_MONTH = re.compile(
    rf"(?<!\d)(?P<d>\d{{1,2}})(?:\.|er|st|nd|rd|th)?[\s./-]*(?:de\s+)?(?P<m>{_MONTH})\b\.?"
    rf"[\s,./-]*(?:de\s+)?(?P<y>\d{{4}}|\d{{2}}(?!\d))(?!\d)",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    rf"\b(?P<m>{_MONTH})\b\.?\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(?P<y>\d{{4}})(?!\d)",
    re.IGNORECASE,
)
_SLASHED = re.compile(r"(?<![\d.,/-])(\d{1,2})[/-](\d{1,2})[/-](?:\d{4}|\d{2})(?![\d])")
_DIGIT = re.compile(r"\d")
_MIN_YEAR, _MAX_YEAR = 1990, 2099


@dataclass(frozen=True, slots=True)
class FoundDate:
    """A date found in a line and where."""

    value: date
    start: int
    end: int


def _year(text: str) -> int:
    """A year from 2 or 4 digits (2-digit years are 20xx)."""
    year = int(text)
    return year + 2000 if year < 100 else year


def _make(year: int, month: int, day: int) -> date | None:
    """A valid date in the years invoices are written, or None."""
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def infer_date_order(text: str, default: DateOrder = "dmy") -> DateOrder:
    """Whether slashed/dashed numeric dates in the text are day-first or month-first."""
    for first, second in _SLASHED.findall(text):
        if int(first) > 12 >= int(second):
            return "dmy"
        if int(second) > 12 >= int(first):
            return "mdy"
    return default


def _numeric(match: re.Match[str], order: DateOrder) -> date | None:
    """A numeric date; dotted ones are always day-first, slashed ones follow `order`."""
    first, second, year = int(match["a"]), int(match["b"]), _year(match["y"])
    if match["sep"] == "." or order == "dmy":
        return _make(year, second, first) or _make(year, first, second)
    return _make(year, first, second) or _make(year, second, first)


def _overlaps(found: list[FoundDate], start: int, end: int) -> bool:
    """Whether a span overlaps one of the dates already found."""
    return any(start < other.end and other.start < end for other in found)


def find_dates(line: str, order: DateOrder = "dmy") -> list[FoundDate]:
    """Every date in a line, in order of position."""
    if _DIGIT.search(line) is None:
        return []
    found: list[FoundDate] = []
    for match in _ISO.finditer(line):
        value = _make(int(match["y"]), int(match["m"]), int(match["d"]))
        if value is not None:
            found.append(FoundDate(value, match.start(), match.end()))
    for match in _NUMERIC.finditer(line):
        value = _numeric(match, order)
        if value is not None and not _overlaps(found, match.start(), match.end()):
            found.append(FoundDate(value, match.start(), match.end()))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(line):
            month = MONTHS[match["m"].casefold()]
            value = _make(_year(match["y"]), month, int(match["d"]))
            if value is not None and not _overlaps(found, match.start(), match.end()):
                found.append(FoundDate(value, match.start(), match.end()))
    return sorted(found, key=lambda item: item.start)


def mask_dates(line: str, dates: list[FoundDate]) -> str:
    """The line with its dates blanked out, so their digits are not read as amounts."""
    for found in dates:
        line = line[: found.start] + " " * (found.end - found.start) + line[found.end :]
    return line
