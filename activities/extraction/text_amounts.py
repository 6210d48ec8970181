"""Amounts and currencies in invoice text: 1.234,56 / 1,234.56 / 1 234,56, signs, symbols, codes."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_GROUPED = r"[1-9]\d{0,2}(?:(?P<group>[.,'\u2019])\d{3})(?:(?P=group)\d{3})*(?:[.,]\d{1,4})?"
_SPACED = r"[1-9]\d{0,2}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,4})?"
_PLAIN = r"\d+(?:[.,]\d{1,4})?"
_SIGN = r"(?P<sign>(?:(?<=[\s€$£(:=])|^)[-\u2212\u2013]\s?)?"
_TAIL = r"(?!\w|[.,]\d)"
_NUMBER = re.compile(rf"{_SIGN}(?<![\w.,/])(?P<number>{_GROUPED}|{_PLAIN}){_TAIL}")
_NUMBER_SPACED = re.compile(rf"{_SIGN}(?<![\w.,/])(?P<number>{_SPACED}|{_GROUPED}|{_PLAIN}){_TAIL}")
_PERCENT_AFTER = re.compile(r"\s?%")
_DECIMAL_STYLE = re.compile(r"(?<![\d.,])\d{1,3}(?:[.,' ]\d{3})*([.,])\d{2}(?![\d.,])")
_TRAILING_MINUS = re.compile(r"-(?!\d)")

CURRENCY_SYMBOLS: dict[str, str] = {
    "€": "EUR",
    "$": "USD",
    "US$": "USD",
    "£": "GBP",
    "₹": "INR",
    "¥": "JPY",
}
ISO_CURRENCIES = frozenset(
    {
        "EUR", "USD", "GBP", "CHF", "INR", "JPY", "CNY", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF",
        "RON", "BGN", "CAD", "AUD", "NZD", "SGD", "HKD", "ZAR", "AED", "SAR", "TRY", "BRL", "MXN",
    }
)  # fmt: skip
_CURRENCY_NAMES: dict[str, str] = {
    "euro": "EUR",
    "euros": "EUR",
    "us dollars": "USD",
    "us dollar": "USD",
    "dollars": "USD",
    "pounds sterling": "GBP",
    "pound sterling": "GBP",
    "rupees": "INR",
    "swiss francs": "CHF",
}
_CURRENCY_TOKEN = re.compile(
    r"(?-i:(?<![A-Za-z])(?:" + "|".join(sorted(ISO_CURRENCIES)) + r")(?![A-Za-z]))"
    r"|US\$|[€$£₹¥]"
    r"|(?<![A-Za-z])Rs\.?(?=\s?[-\d])"
    r"|\b(?:" + "|".join(sorted(_CURRENCY_NAMES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_CURRENCY_NEAR = 3


@dataclass(frozen=True, slots=True)
class Amount:
    """A number found in a line: its value and what surrounds it."""

    value: Decimal
    start: int
    end: int
    decimals: int
    percent: bool
    currency: str | None

    @property
    def is_money(self) -> bool:
        """A money amount: not a percentage, and with decimals or a currency beside it."""
        return not self.percent and (self.decimals > 0 or self.currency is not None)


def infer_decimal_comma(text: str) -> bool:
    """Whether the text writes decimals with a comma (1.234,56) rather than a point."""
    styles = Counter(match.group(1) for match in _DECIMAL_STYLE.finditer(text))
    return styles[","] > styles["."]


def parse_number(text: str, decimal_comma: bool) -> tuple[Decimal, int] | None:
    """A number as written (no sign) and how many decimals it has; None if it is not one."""
    digits = text.replace("\u00a0", " ").replace("\u202f", " ").replace(" ", "")
    digits = digits.replace("'", "").replace("\u2019", "")
    last_comma, last_point = digits.rfind(","), digits.rfind(".")
    decimals = 0
    if last_comma >= 0 and last_point >= 0:
        separator = "," if last_comma > last_point else "."
    elif last_comma >= 0 or last_point >= 0:
        separator = "," if last_comma >= 0 else "."
        fraction = digits.rsplit(separator, 1)[1]
        several = digits.count(separator) > 1
        leading_zero = digits.startswith(("0,", "0."))
        if several or (
            len(fraction) == 3 and not leading_zero and (separator == ",") != decimal_comma
        ):
            separator = ""
    else:
        separator = ""
    if separator:
        whole, fraction = digits.rsplit(separator, 1)
        whole = whole.replace(",", "").replace(".", "")
        decimals = len(fraction)
        digits = f"{whole}.{fraction}"
    else:
        digits = digits.replace(",", "").replace(".", "")
    try:
        return Decimal(digits), decimals
    except InvalidOperation:
        return None


def currency_code(token: str) -> str | None:
    """The ISO code of a currency symbol, code or name, or None."""
    cleaned = token.strip()
    upper = cleaned.upper()
    if upper in ISO_CURRENCIES:
        return upper
    if cleaned in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[cleaned]
    if cleaned.rstrip(".").capitalize() == "Rs":
        return "INR"
    return _CURRENCY_NAMES.get(cleaned.casefold())


def find_currencies(text: str) -> list[tuple[str, int, int]]:
    """Every currency code, symbol or name in the text: (ISO code, start, end)."""
    found: list[tuple[str, int, int]] = []
    for match in _CURRENCY_TOKEN.finditer(text):
        code = currency_code(match.group())
        if code is not None:
            found.append((code, match.start(), match.end()))
    return found


def _currency_beside(currencies: list[tuple[str, int, int]], start: int, end: int) -> str | None:
    """The currency written just before or just after a number's span, if any."""
    for code, found_start, found_end in currencies:
        if 0 <= start - found_end <= _CURRENCY_NEAR or 0 <= found_start - end <= _CURRENCY_NEAR:
            return code
    return None


def _spaced_spans(line: str) -> list[tuple[int, int]]:
    """Numbers grouped with spaces ("1 234,56") that open a run of numbers, not continue one."""
    spans: list[tuple[int, int]] = []
    for match in _NUMBER_SPACED.finditer(line):
        number = match.group("number")
        if " " not in number and "\u00a0" not in number and "\u202f" not in number:
            continue
        before = line[: match.start("number")].rstrip(" -\u2212\u2013")
        if not before or not (before[-1].isdigit() or before[-1] in ".,%"):
            spans.append((match.start(), match.end()))
    return spans


def _amount(
    line: str, match: re.Match[str], decimal_comma: bool, currencies: list[tuple[str, int, int]]
) -> Amount | None:
    """The amount a number match stands for."""
    parsed = parse_number(match.group("number"), decimal_comma)
    if parsed is None:
        return None
    value, decimals = parsed
    end = match.end()
    negative = bool(match.group("sign")) or bool(_TRAILING_MINUS.match(line, end))
    percent = bool(_PERCENT_AFTER.match(line, end))
    return Amount(
        value=-value if negative else value,
        start=match.start(),
        end=end,
        decimals=decimals,
        percent=percent,
        currency=None if percent else _currency_beside(currencies, match.start(), end),
    )


def find_amounts(line: str, decimal_comma: bool, *, spaced_groups: bool = False) -> list[Amount]:
    """The numbers of a line in order, with sign, decimals, percent sign and nearby currency.

    With `spaced_groups`, a number grouped by spaces ("1 234,56") is read as one when it opens
    a run of numbers; in a row of numbers ("850,00 19 163,16") the spaces separate numbers.
    """
    currencies = find_currencies(line)
    spans = _spaced_spans(line) if spaced_groups else []
    amounts: list[Amount] = []
    for start, end in spans:
        match = _NUMBER_SPACED.match(line, start, end)
        amount = _amount(line, match, decimal_comma, currencies) if match else None
        if amount is not None:
            amounts.append(amount)
    for match in _NUMBER.finditer(line):
        if any(start < match.end() and match.start() < end for start, end in spans):
            continue
        amount = _amount(line, match, decimal_comma, currencies)
        if amount is not None:
            amounts.append(amount)
    return sorted(amounts, key=lambda amount: amount.start)
