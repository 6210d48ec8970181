"""The verification rules of an invoice, and the name and domain forms they compare."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from activities.text_normalise import email_domain, normalise_domain, normalise_name, same_party
from activities.verification import DEFAULT_REQUIRED_FIELDS, verify_invoice_facts
from models.invoices import (
    ExtractedInvoice,
    Finding,
    GoodsReceipt,
    InvoiceFields,
    LineItem,
    MatchMethod,
    PurchaseOrder,
    Supplier,
    Verification,
    VerifyRequest,
)

D = Decimal
BUYER_NAMES = ["Baton Kantinen GmbH", "Kantine am Park"]
SUPPLIER = Supplier(
    id=7,
    org="baton",
    name="Fleischerei Müller GmbH",
    aliases=["Müller Fleischwaren"],
    email_domains=["lieferant.de", "Müller-Fleisch.de"],
    department="Einkauf",
)
PO = PurchaseOrder(
    number="4500012345",
    supplier_name="Fleischerei Müller GmbH",
    currency="EUR",
    total_amount=D("82.00"),
    department="Kantine",
    lines=[
        LineItem(description="Schweinesteak natur", quantity=D(10), unit_price=D("5.50")),
        LineItem(description="Bratwurst grob", quantity=D(30), unit_price=D("0.90")),
    ],
)


def fields(**changes: object) -> InvoiceFields:
    invoice = InvoiceFields(
        invoice_number="RE-2024-0815",
        invoice_date=date(2024, 11, 4),
        supplier_name="Fleischerei Müller GmbH",
        buyer_name="Baton Kantinen GmbH",
        currency="EUR",
        po_number="4500012345",
        subtotal=D("82.00"),
        tax_amount=D("5.74"),
        total_amount=D("87.74"),
        line_items=[
            LineItem(
                description="Schweinesteak natur",
                quantity=D(10),
                unit_price=D("5.50"),
                line_total=D("55.00"),
            ),
            LineItem(
                description="Bratwurst grob",
                quantity=D(30),
                unit_price=D("0.90"),
                line_total=D("27.00"),
            ),
        ],
    )
    return invoice.model_copy(update=changes)


def request(
    invoice: InvoiceFields | None = None,
    confidence: dict[str, float] | None = None,
    **changes: object,
) -> VerifyRequest:
    read = invoice or fields()
    sure = {name: 0.97 for name in DEFAULT_REQUIRED_FIELDS} | (confidence or {})
    base = VerifyRequest(
        org="baton",
        transaction_id="tx-1",
        invoice=ExtractedInvoice(fields=read, confidence=sure),
        purchase_order=PO,
        sender="Buchhaltung Müller <rechnung@lieferant.de>",
    )
    return base.model_copy(update=changes)


def verify(
    verify_request: VerifyRequest,
    supplier: Supplier | None = SUPPLIER,
    buyer_names: list[str] | None = None,
) -> Verification:
    names = BUYER_NAMES if buyer_names is None else buyer_names
    return verify_invoice_facts(verify_request, supplier, names)


def only(verification: Verification) -> Finding:
    assert len(verification.findings) == 1, verification.findings
    return verification.findings[0]


def test_a_clean_invoice_has_no_findings_and_goes_to_the_po_department() -> None:
    verification = verify(request())

    assert verification.clean, verification.findings
    assert verification.supplier == SUPPLIER
    assert verification.department == "Kantine"
    assert verification.match is not None and verification.match.matched


def test_without_a_po_department_the_supplier_department_owns_the_invoice() -> None:
    verification = verify(request(purchase_order=None, match_method="none"))

    assert verification.clean
    assert verification.department == "Einkauf"


def test_a_field_read_with_low_confidence_is_named_with_its_value() -> None:
    finding = only(verify(request(confidence={"invoice_number": 0.55})))

    assert (finding.kind, finding.field, finding.actual) == (
        "low_confidence",
        "invoice_number",
        "RE-2024-0815",
    )
    assert finding.message == (
        "the invoice number 'RE-2024-0815' was read with 55% confidence (minimum 80%); "
        "check it against the document"
    )


def test_a_missing_required_field_is_a_finding() -> None:
    verification = verify(request(fields(invoice_date=None)))

    assert [(f.kind, f.field) for f in verification.findings] == [("missing_field", "invoice_date")]
    assert "invoice date was not found" in verification.findings[0].message


def test_required_fields_come_from_the_org() -> None:
    read = request(fields(po_number=None), purchase_order=None, match_method="none")

    assert verify(read).clean
    assert verify_invoice_facts(read, SUPPLIER, BUYER_NAMES, required_fields=None).clean
    required = [*DEFAULT_REQUIRED_FIELDS, "po_number"]
    verification = verify_invoice_facts(read, SUPPLIER, BUYER_NAMES, required_fields=required)
    assert [(f.kind, f.field) for f in verification.findings] == [("missing_field", "po_number")]
    with pytest.raises(ValueError, match="line_items"):
        verify_invoice_facts(read, SUPPLIER, BUYER_NAMES, required_fields=["line_items"])


def test_an_unknown_supplier_is_a_finding_and_routes_by_po() -> None:
    verification = verify(request(), supplier=None)

    finding = only(verification)
    assert finding.kind == "unknown_supplier"
    assert finding.message == (
        "supplier 'Fleischerei Müller GmbH' is not among baton's suppliers; "
        "add it or assign a known supplier"
    )
    assert verification.department == "Kantine"


@pytest.mark.parametrize(
    "sender",
    [
        "rechnung@lieferant.de",
        "Buchhaltung <Rechnung@MAIL.Lieferant.DE>",
        "ar@eu.mail.lieferant.de",
        "kasse@müller-fleisch.de",
        "kasse@xn--mller-fleisch-wob.de",
    ],
)
def test_a_sender_at_a_supplier_domain_or_subdomain_is_accepted(sender: str) -> None:
    assert verify(request(sender=sender)).clean


@pytest.mark.parametrize(
    ("sender", "domain"),
    [
        ("rechnung@lieferant-de.com", "lieferant-de.com"),
        ("rechnung@evil-lieferant.de", "evil-lieferant.de"),
        ("rechnung@lieferant.de.example.com", "lieferant.de.example.com"),
        ('"rechnung@lieferant.de" <billing@attacker.example>', "attacker.example"),
    ],
)
def test_a_look_alike_sender_domain_is_refused(sender: str, domain: str) -> None:
    finding = only(verify(request(sender=sender)))

    assert (finding.kind, finding.actual) == ("sender_domain", domain)
    assert finding.message == (
        f"the mail came from {domain}, which is not a domain of supplier Fleischerei Müller GmbH "
        "(lieferant.de, xn--mller-fleisch-wob.de); confirm the invoice is genuine before paying"
    )


def test_a_sender_is_not_checked_without_supplier_domains() -> None:
    supplier = SUPPLIER.model_copy(update={"email_domains": []})

    assert verify(request(sender="someone@gmail.com"), supplier=supplier).clean


@pytest.mark.parametrize(
    "buyer",
    ["BATON KANTINEN G.m.b.H.", "Baton Kantinen", "Kantine am Park Betriebs-GmbH"],
)
def test_a_buyer_alias_is_accepted(buyer: str) -> None:
    assert verify(request(fields(buyer_name=buyer))).clean


def test_an_invoice_addressed_to_someone_else_is_a_finding() -> None:
    finding = only(verify(request(fields(buyer_name="Kantinenservice Nord AG"))))

    assert finding.kind == "buyer_name"
    assert finding.message == (
        "the invoice is addressed to 'Kantinenservice Nord AG', which is not one of this "
        "organisation's names (Baton Kantinen GmbH; Kantine am Park)"
    )


def test_lines_that_do_not_add_up_to_the_subtotal_are_a_finding() -> None:
    read = fields(subtotal=D("92.00"), total_amount=D("97.74"))

    verification = verify(request(read, purchase_order=None, match_method="none"))

    finding = only(verification)
    assert (finding.kind, finding.expected, finding.actual) == ("arithmetic", "82.00", "92.00")
    assert finding.message == (
        "the 2 lines add up to 82.00 but the subtotal is 92.00 (difference 10.00); "
        "check for a misread or missing line"
    )


def test_rounding_of_a_cent_a_line_is_accepted() -> None:
    read = fields(subtotal=D("82.02"), total_amount=D("87.76"))

    assert verify(request(read, purchase_order=None, match_method="none")).clean


def test_a_credit_note_adds_up_with_negative_amounts() -> None:
    credit = fields(
        subtotal=D("-82.00"),
        tax_amount=D("-5.74"),
        total_amount=D("-87.74"),
        line_items=[
            LineItem(description="Gutschrift Schweinesteak", line_total=D("-55.00")),
            LineItem(description="Gutschrift Bratwurst", line_total=D("-27.00")),
        ],
    )

    assert verify(request(credit, purchase_order=None, match_method="none")).clean
    wrong = credit.model_copy(update={"total_amount": D("-77.74")})
    finding = only(verify(request(wrong, purchase_order=None, match_method="none")))
    assert finding.message == (
        "subtotal -82.00 plus tax -5.74 is -87.74, but the invoice total is -77.74 "
        "(difference 10.00)"
    )


def test_arithmetic_is_skipped_where_amounts_were_not_read() -> None:
    read = fields(tax_amount=None, line_items=[LineItem(description="Fleisch")])

    assert verify(request(read, purchase_order=None, match_method="none")).clean


@pytest.mark.parametrize(
    ("supplier_method", "method", "kinds"),
    [
        (None, "3way", ["missing_grn"]),
        ("none", "3way", []),
        ("3way", "2way", ["missing_grn"]),
    ],
)
def test_the_supplier_match_method_overrides_the_request(
    supplier_method: MatchMethod | None, method: MatchMethod, kinds: list[str]
) -> None:
    supplier = SUPPLIER.model_copy(update={"match_method": supplier_method})

    verification = verify(request(match_method=method), supplier=supplier)

    assert verification.match is not None
    assert verification.match.method == (supplier_method or method)
    assert [finding.kind for finding in verification.findings] == kinds


def test_match_findings_are_findings_of_the_verification() -> None:
    grn = GoodsReceipt(
        number="WE-778",
        po_number="4500012345",
        lines=[
            LineItem(description="Schweinesteak natur", quantity=D(8)),
            LineItem(description="Bratwurst grob", quantity=D(30)),
        ],
    )

    verification = verify(request(goods_receipt=grn, match_method="3way"))

    finding = only(verification)
    assert verification.match is not None and verification.match.findings == [finding]
    assert "billed quantity 10 exceeds the 8 received on goods receipt WE-778" in finding.message


def test_a_supplier_alias_on_the_po_is_the_same_supplier() -> None:
    po = PO.model_copy(update={"supplier_name": "Müller Fleischwaren"})

    assert verify(request(fields(supplier_name="Fleischerei Mueller"), purchase_order=po)).clean


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Fleischerei Müller GmbH & Co. KG", "fleischerei mueller"),
        ("ACME Inc.", "acme"),
        ("Société Générale S.A.R.L.", "societe generale"),
        ("Van Dijk B.V.", "van dijk"),
        ("GmbH", "gmbh"),
    ],
)
def test_names_lose_case_accents_punctuation_and_legal_forms(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Acme Ltd", "ACME Limited", True),
        ("Acme", "Acme Foods Inc", True),
        ("Acme", "Acmes Foods", False),
        ("", "Acme", False),
    ],
)
def test_same_party(first: str, second: str, same: bool) -> None:
    assert same_party(first, second) is same


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("Ann Smith <Ann@Example.DE>", "example.de"),
        ('"Smith, Ann" <ann@mail.example.de>', "mail.example.de"),
        ("ann@Müller.de", "xn--mller-kva.de"),
        ("ann@example.de.", "example.de"),
        ("not an address", None),
        ("ann@", None),
        ("ann@exam_ple.de", None),
        ("ann@-example.de", None),
    ],
)
def test_email_domain(address: str, domain: str | None) -> None:
    assert email_domain(address) == domain


def test_supplier_domains_are_normalised_like_senders() -> None:
    assert normalise_domain("@Lieferant.DE") == "lieferant.de"
    assert normalise_domain("*.müller.de") == "xn--mller-kva.de"
    assert normalise_domain("not a domain") is None
