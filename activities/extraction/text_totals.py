"""Total, net, tax and subtotal chosen together: labels vote, and amounts that add up
(net + tax = total) win over ones that don't.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import product

from activities.extraction.text_values import Candidate

CONSISTENT_BONUS = 0.8
DERIVED_STRENGTH = 0.4
DUE_FACTOR = 0.6
PARTS_STRENGTH = 0.75
REPEAT_BONUS = 0.05
TOP = 6
_ZERO = Decimal("0")


@dataclass(frozen=True)
class Totals:
    """The chosen amounts, each with a confidence."""

    total: Decimal | None = None
    net: Decimal | None = None
    tax: Decimal | None = None
    subtotal: Decimal | None = None
    confidence: dict[str, float] = field(default_factory=dict)


def _votes(candidates: Iterable[Candidate], factor: float = 1.0) -> dict[Decimal, float]:
    """Each value's strength: its best label, plus a little for each repeat."""
    votes: dict[Decimal, float] = {}
    for candidate in candidates:
        if not isinstance(candidate.value, Decimal):
            continue
        strength = candidate.strength * factor
        known = votes.get(candidate.value)
        votes[candidate.value] = strength if known is None else max(known, strength) + REPEAT_BONUS
    return votes


def _merge(*sources: dict[Decimal, float]) -> dict[Decimal, float]:
    """Several vote tables as one, keeping each value's best strength."""
    merged: dict[Decimal, float] = {}
    for source in sources:
        for value, strength in source.items():
            merged[value] = max(merged.get(value, 0.0), strength)
    return merged


def _top(votes: dict[Decimal, float]) -> list[tuple[Decimal | None, float]]:
    """The strongest few values, and 'none of them'."""
    ranked = sorted(votes.items(), key=lambda item: -item[1])[:TOP]
    return [*ranked, (None, 0.0)]


def _tax_parts(candidates: list[Candidate]) -> dict[Decimal, float]:
    """The sum of the per-rate tax lines ("USt. 7% 275,00 19,25"), as one tax vote."""
    parts = {(candidate.line, candidate.value) for candidate in candidates}
    if not parts:
        return {}
    total = sum((value for _, value in parts if isinstance(value, Decimal)), _ZERO)
    return {total: PARTS_STRENGTH}


def _derived_taxes(
    totals: dict[Decimal, float], nets: dict[Decimal, float], printed: set[Decimal]
) -> dict[Decimal, float]:
    """Total minus net, where that difference is printed somewhere on the invoice."""
    derived: dict[Decimal, float] = {}
    for total, _ in _top(totals)[:-1]:
        for net, _ in _top(nets)[:-1]:
            if total is not None and net is not None and abs(total - net) in printed:
                derived[total - net] = DERIVED_STRENGTH
    return derived


def _score(
    total: tuple[Decimal | None, float],
    net: tuple[Decimal | None, float],
    tax: tuple[Decimal | None, float],
) -> tuple[float, bool]:
    """A combination's strength and whether its amounts add up."""
    strength = total[1] + net[1] + tax[1]
    if total[0] is None or net[0] is None or tax[0] is None:
        return strength, False
    if net[0] + tax[0] == total[0]:
        return strength + CONSISTENT_BONUS, True
    return strength, False


def choose_totals(candidates: list[Candidate], printed: set[Decimal]) -> Totals:
    """The total, net, tax and subtotal that the labels and the arithmetic agree on best."""
    by_role: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_role.setdefault(candidate.role, []).append(candidate)
    totals = _merge(
        _votes(by_role.get("total", [])), _votes(by_role.get("amount_due", []), DUE_FACTOR)
    )
    nets = _votes(by_role.get("net", []))
    derived = _derived_taxes(totals, nets, printed)
    taxes = _merge(_votes(by_role.get("tax", [])), _tax_parts(by_role.get("tax_part", [])))
    tax_options = _top(taxes) + [item for item in derived.items() if item[0] not in taxes]
    best = max(
        product(_top(totals), _top(nets), tax_options),
        key=lambda combination: _score(*combination)[0],
    )
    (total, total_strength), (net, net_strength), (tax, tax_strength) = best
    consistent = _score(*best)[1]
    confidence: dict[str, float] = {}
    total, net, tax = _fill_gaps(total, net, tax, printed, confidence)
    for name, value, strength in (
        ("total_amount", total, total_strength),
        ("tax_amount", tax, tax_strength),
    ):
        if value is not None and name not in confidence:
            confidence[name] = _confidence(strength, consistent)
    linesums = _votes(by_role.get("linesum", []))
    subtotal, subtotal_strength = net, net_strength
    if linesums:
        subtotal, subtotal_strength = max(linesums.items(), key=lambda item: item[1])
    if subtotal is not None and "subtotal" not in confidence:
        confidence["subtotal"] = _confidence(subtotal_strength, consistent)
    return Totals(total=total, net=net, tax=tax, subtotal=subtotal, confidence=confidence)


def _fill_gaps(
    total: Decimal | None,
    net: Decimal | None,
    tax: Decimal | None,
    printed: set[Decimal],
    confidence: dict[str, float],
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """The one missing amount of net + tax = total, when the other two are known and it is
    printed on the invoice."""
    if total is not None and net is not None and tax is None:
        gap = total - net
        if gap == 0 or abs(gap) in printed:
            tax = gap
            confidence["tax_amount"] = 0.6
    elif total is not None and tax is not None and net is None:
        gap = total - tax
        if abs(gap) in printed:
            net = gap
            confidence["subtotal"] = 0.6
    elif net is not None and tax is not None and total is None:
        gap = net + tax
        if abs(gap) in printed:
            total = gap
            confidence["total_amount"] = 0.6
    return total, net, tax


def _confidence(strength: float, consistent: bool) -> float:
    """A confidence from a label's strength and whether the amounts add up."""
    return round(min(0.99, 0.45 + 0.4 * min(strength, 1.0) + (0.15 if consistent else 0.0)), 2)
