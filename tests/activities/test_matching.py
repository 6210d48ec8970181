"""2-way and 3-way matching of an invoice with its purchase order and goods receipt."""

from __future__ import annotations

from decimal import Decimal

import pytest

from activities.matching import format_amount, match_invoice, pair_lines
from models.invoices import (
    GoodsReceipt,
    InvoiceFields,
    LineItem,
    MatchMethod,
    MatchResult,
    MatchTolerances,
    PurchaseOrder,
)

D = Decimal
TOLERANCES = MatchTolerances()


def line(description: str, quantity: str, price: str, code: str | None = None) -> LineItem:
    total = (D(quantity) * D(price)).quantize(D("0.01"))
    return LineItem(
        description=description,
        item_code=code,
        quantity=D(quantity),
        unit_price=D(price),
        line_total=total,
    )


def purchase_order(**changes: object) -> PurchaseOrder:
    po = PurchaseOrder(
        number="4500012345",
        supplier_name="Fleischerei Müller GmbH",
        currency="EUR",
        total_amount=D("226.00"),
        department="Kantine",
        lines=[
            line("Schweinesteak natur", "10", "5.50"),
            line("Rinderhack 1 kg", "20", "7.20"),
            line("Bratwurst grob", "30", "0.90"),
        ],
    )
    return po.model_copy(update=changes)


def invoice(*lines: LineItem, **changes: object) -> InvoiceFields:
    items = list(lines) or [
        line("Schweinesteak, natur", "10", "5.50"),
        line("Rinderhack 1kg", "20", "7.20"),
        line("Bratwurst (grob)", "30", "0.90"),
    ]
    subtotal = sum((item.line_total or D(0) for item in items), D(0))
    tax = (subtotal * D("0.07")).quantize(D("0.01"))
    fields = InvoiceFields(
        invoice_number="RE-2024-0815",
        supplier_name="Fleischerei Müller",
        currency="EUR",
        po_number="PO 4500012345",
        subtotal=subtotal,
        tax_amount=tax,
        total_amount=subtotal + tax,
        line_items=items,
    )
    return fields.model_copy(update=changes)


def receipt(*lines: LineItem) -> GoodsReceipt:
    return GoodsReceipt(number="WE-778", po_number="4500012345", lines=list(lines))


def messages(result: MatchResult) -> list[str]:
    return [finding.message for finding in result.findings]


def test_a_clean_two_way_match_has_no_findings() -> None:
    result = match_invoice(invoice(), purchase_order(), None, "2way", TOLERANCES)

    assert result == MatchResult(method="2way", matched=True, findings=[])


def test_a_unit_price_out_of_tolerance_names_both_prices_and_the_tolerance() -> None:
    billed = invoice(
        line("Schweinesteak", "10", "6.10"),
        line("Rinderhack 1kg", "20", "7.20"),
        line("Bratwurst grob", "30", "0.90"),
    )

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert not result.matched
    assert messages(result) == [
        "line 'Schweinesteak': unit price 6.10 is 10.9% above the PO's 5.50 (tolerance 1%)",
        "invoice net amount 232.00 is 2.7% above PO 4500012345's net total of 226.00 "
        "(tolerance 1%)",
    ]
    price = result.findings[0]
    assert (price.kind, price.field, price.expected, price.actual) == (
        "match",
        "line_items[0].unit_price",
        "5.50",
        "6.10",
    )


def test_a_price_within_tolerance_matches_and_one_just_beyond_shows_enough_decimals() -> None:
    within = invoice(line("Schweinesteak natur", "10", "5.55"))
    beyond = invoice(line("Schweinesteak natur", "10", "5.556"))

    assert match_invoice(within, purchase_order(), None, "2way", TOLERANCES).matched
    result = match_invoice(beyond, purchase_order(), None, "2way", TOLERANCES)
    assert "unit price 5.556 is 1.02% above the PO's 5.50 (tolerance 1%)" in messages(result)[0]


def test_a_lower_price_beyond_tolerance_is_a_finding_too() -> None:
    billed = invoice(line("Bratwurst grob", "30", "0.80"))

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert messages(result) == [
        "line 'Bratwurst grob': unit price 0.80 is 11.1% below the PO's 0.90 (tolerance 1%)",
        "invoice net amount 24.00 is 11.1% below 27.00, the invoiced quantities at "
        "PO 4500012345's prices (tolerance 1%)",
    ]


def test_billing_more_than_ordered_is_a_finding() -> None:
    billed = invoice(line("Rinderhack 1 kg", "25", "7.20"))

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert messages(result)[0] == (
        "line 'Rinderhack 1 kg': quantity 25 is 5 more than the 20 ordered on PO 4500012345 "
        "(tolerance 0)"
    )


def test_a_partial_invoice_matches_against_the_invoiced_part() -> None:
    billed = invoice(
        line("Schweinesteak natur", "10", "5.50"), line("Bratwurst grob", "15", "0.90")
    )

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert result.matched, messages(result)


def test_an_invoice_line_that_was_not_ordered_is_a_finding() -> None:
    billed = invoice(line("Schweinesteak natur", "10", "5.50"), line("Frachtpauschale", "1", "25"))

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert messages(result) == [
        "line 'Frachtpauschale' (1 x 25.00) is not on PO 4500012345; check whether it was ordered",
        "invoice net amount 80.00 is 45.5% above 55.00, the invoiced quantities at "
        "PO 4500012345's prices (tolerance 1%)",
    ]


def test_when_nothing_pairs_the_clerk_sees_the_po_lines() -> None:
    billed = invoice(line("Druckerpapier A4, 500 Blatt", "5", "4.99"))

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert messages(result) == [
        "line 'Druckerpapier A4, 500 Blatt' (5 x 4.99) is not on PO 4500012345; "
        "check whether it was ordered",
        "no invoice line matches a line of PO 4500012345 ('Schweinesteak natur', "
        "'Rinderhack 1 kg', 'Bratwurst grob'); is it the right PO?",
        "invoice net amount 24.95 is 89.0% below PO 4500012345's net total of 226.00 "
        "(tolerance 1%)",
    ]


def test_a_header_only_invoice_is_compared_on_its_total() -> None:
    header_only = InvoiceFields(currency="EUR", subtotal=D("226.00"), total_amount=D("241.82"))

    result = match_invoice(header_only, purchase_order(), None, "2way", TOLERANCES)

    assert messages(result) == [
        "the invoice lists no lines to compare with the 3 lines of PO 4500012345 "
        "('Schweinesteak natur', 'Rinderhack 1 kg', 'Bratwurst grob')"
    ]


def test_a_gross_po_total_is_compared_with_the_invoice_total() -> None:
    po = purchase_order(
        total_amount=D("241.82"),
        lines=[item.model_copy(update={"tax_rate": D("7")}) for item in purchase_order().lines],
    )

    assert match_invoice(invoice(), po, None, "2way", TOLERANCES).matched
    result = match_invoice(invoice(total_amount=D("250.00")), po, None, "2way", TOLERANCES)
    assert messages(result) == [
        "invoice gross amount 250.00 is 3.4% above PO 4500012345's gross total of 241.82 "
        "(tolerance 1%)"
    ]


def test_billed_beyond_received_in_a_three_way_match() -> None:
    grn = receipt(
        line("Schweinesteak natur", "8", "0"),
        line("Rinderhack 1 kg", "20", "0"),
        line("Bratwurst grob", "30", "0"),
    )

    result = match_invoice(invoice(), purchase_order(), grn, "3way", TOLERANCES)

    assert messages(result) == [
        "line 'Schweinesteak, natur': billed quantity 10 exceeds the 8 received on goods "
        "receipt WE-778 by 2 (tolerance 0)"
    ]
    assert (result.findings[0].expected, result.findings[0].actual) == ("8", "10")
    lenient = MatchTolerances(quantity=D("2"))
    assert match_invoice(invoice(), purchase_order(), grn, "3way", lenient).matched


def test_a_line_not_received_and_a_receipt_for_another_po_are_findings() -> None:
    grn = GoodsReceipt(
        number="WE-779", po_number="4500099999", lines=[line("Rinderhack 1 kg", "20", "0")]
    )
    billed = invoice(line("Rinderhack 1 kg", "20", "7.20"), line("Bratwurst grob", "30", "0.90"))

    result = match_invoice(billed, purchase_order(), grn, "3way", TOLERANCES)

    assert messages(result) == [
        "goods receipt WE-779 is for PO 4500099999, not PO 4500012345",
        "line 'Bratwurst grob' is not on goods receipt WE-779; check it was delivered",
    ]


@pytest.mark.parametrize(
    ("method", "po", "grn", "kinds"),
    [
        ("none", None, None, []),
        ("2way", None, None, ["missing_po"]),
        ("3way", None, None, ["missing_po", "missing_grn"]),
        ("3way", purchase_order(), None, ["missing_grn"]),
    ],
)
def test_missing_documents(
    method: MatchMethod, po: PurchaseOrder | None, grn: GoodsReceipt | None, kinds: list[str]
) -> None:
    result = match_invoice(invoice(), po, grn, method, TOLERANCES)

    assert [finding.kind for finding in result.findings] == kinds
    assert result.matched is (not kinds)
    if "missing_po" in kinds:
        assert "PO 4500012345" in result.findings[0].message


def test_a_currency_mismatch_is_a_finding_and_prices_are_not_compared() -> None:
    billed = invoice(line("Schweinesteak natur", "10", "6.40"), currency="CHF")

    result = match_invoice(billed, purchase_order(), None, "2way", TOLERANCES)

    assert messages(result) == [
        "the invoice is in CHF but PO 4500012345 is in EUR; prices and totals were not compared"
    ]


def test_the_po_must_be_the_one_quoted_and_from_the_invoice_supplier() -> None:
    po = purchase_order(number="4500077777", supplier_name="Metzgerei Schulze KG")

    result = match_invoice(
        invoice(), po, None, "2way", TOLERANCES, supplier_names=["Fleischerei Müller GmbH"]
    )

    assert messages(result) == [
        "the invoice quotes PO 'PO 4500012345', but it is matched against PO 4500077777",
        "PO 4500077777 was placed with 'Metzgerei Schulze KG', not with the invoice's supplier "
        "'Fleischerei Müller GmbH'",
    ]


def test_lines_pair_by_item_code_before_description() -> None:
    billed = [
        line("Steak vom Schwein", "10", "5.50", code="ART-100"),
        line("Bratwurst grob", "30", "0.90", code="ART-300"),
    ]
    ordered = [
        line("Bratwurst grob", "30", "0.90", code="art300"),
        line("Schweinesteak natur", "10", "5.50", code="ART 100"),
        line("Steak vom Schwein", "10", "5.50", code="ART-999"),
    ]

    assert pair_lines(billed, ordered) == [(0, 1), (1, 0)]


@pytest.mark.parametrize(
    ("billed", "ordered", "pairs"),
    [
        ("Schweinesteak, natur 1kg", "Schweinesteak natur", True),
        ("SCHWEINESTEAK NATUR", "Schweinesteak natur", True),
        ("Kaffee Crema 1000g", "Kaffee Crema, ganze Bohne 1000g", True),
        ("Schraube M8 verzinkt", "Schraube M10 verzinkt", False),
        ("Rinderfilet 1 kg", "Schweinesteak 1 kg", False),
        ("", "Schweinesteak natur", False),
    ],
)
def test_lines_pair_by_description_similarity(billed: str, ordered: str, pairs: bool) -> None:
    found = pair_lines([LineItem(description=billed)], [LineItem(description=ordered)])

    assert (found == [(0, 0)]) is pairs


def test_each_po_line_pairs_once_with_its_best_invoice_line() -> None:
    billed = [LineItem(description="Bratwurst"), LineItem(description="Bratwurst grob")]
    ordered = [LineItem(description="Bratwurst grob"), LineItem(description="Bratwurst fein")]

    assert pair_lines(billed, ordered) == [(0, 1), (1, 0)]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("5.5", "5.50"),
        ("100", "100.00"),
        ("0.125", "0.125"),
        ("-87.7400", "-87.74"),
        ("1E+3", "1000.00"),
    ],
)
def test_amounts_show_at_least_cents(value: str, shown: str) -> None:
    assert format_amount(D(value)) == shown
