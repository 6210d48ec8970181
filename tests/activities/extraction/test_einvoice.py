"""E-invoices attached to PDFs are read exactly, and hostile XML is refused, never expanded."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pdfplumber
import pytest

from activities.extraction.einvoice import embedded_invoice
from activities.extraction.einvoice_xml import UnreadableEInvoice, invoice_from_xml
from bench.corpus_scoring import fields_as_corpus_dict, line_items_found, load_corpus
from models.invoices import ExtractedInvoice
from tests.activities.extraction.samples import (
    BILLION_LAUGHS,
    UBL_INVOICE,
    pdf_with_attachments,
)
from tests.corpus import CORPUS

ZUGFERD = {document.name: document for document in load_corpus(CORPUS / "zugferd")}


def _read(path: str) -> ExtractedInvoice:
    with pdfplumber.open(path) as pdf:
        invoice, warnings = embedded_invoice(pdf.doc)
    assert invoice is not None, warnings
    return invoice


@pytest.mark.parametrize(
    "name",
    [
        "ZUGFeRDv1_correct_Intarsys_ZUGFeRD_1p0_BASIC_Einfach",
        "ZUGFeRDv1_correct_Mustangproject_MustangGnuaccountingBeispielRE-20140519_499",
        "XML-Rechnung_FX_EN16931_Rabatte",
        "ZUGFeRDv2_correct_intarsys_EXTENDED_zugferd_2p0_EXTENDED_Fremdwaehrung",
    ],
    ids=["zugferd-1.0", "zugferd-draft", "factur-x", "foreign-currency"],
)
def test_corpus_e_invoices_are_read_exactly(name: str) -> None:
    document = ZUGFERD[name]
    invoice = _read(str(document.pdf))
    got = fields_as_corpus_dict(invoice)
    assert {key: got[key] for key in document.expected} == pytest.approx(document.expected)
    found, scored = line_items_found(document.line_items, got["line_items"])
    assert found == scored
    assert len(got["line_items"]) == len(document.line_items)
    assert invoice.method == "embedded_xml"
    assert set(invoice.confidence) >= set(document.expected)
    assert set(invoice.confidence.values()) == {1.0}


def test_ubl_invoices_are_read() -> None:
    fields = invoice_from_xml(UBL_INVOICE).fields
    assert (fields.invoice_number, fields.invoice_date, fields.due_date) == (
        "UBL-2026-7",
        date(2026, 2, 1),
        date(2026, 3, 3),
    )
    assert (fields.supplier_name, fields.supplier_tax_id, fields.buyer_name) == (
        "Seller SE",
        "DE999999999",
        "Buyer BV",
    )
    assert (fields.total_amount, fields.tax_amount, fields.subtotal) == (
        Decimal("119.00"),
        Decimal("19.00"),
        Decimal("100.00"),
    )
    assert (fields.currency, fields.po_number) == ("EUR", "PO-88")
    [line] = fields.line_items
    assert (line.description, line.quantity, line.unit_price, line.line_total, line.tax_rate) == (
        "Paper & toner",
        Decimal(4),
        Decimal("25.00"),
        Decimal("100.00"),
        Decimal(19),
    )


def test_ubl_credit_notes_are_read() -> None:
    credit_note = (
        UBL_INVOICE.replace(b"Invoice-2", b"CreditNote-2")
        .replace(b"<Invoice ", b"<CreditNote ")
        .replace(b"</Invoice>", b"</CreditNote>")
        .replace(b"InvoiceLine>", b"CreditNoteLine>")
        .replace(b"InvoicedQuantity", b"CreditedQuantity")
    )
    fields = invoice_from_xml(credit_note).fields
    assert (fields.invoice_number, fields.total_amount) == ("UBL-2026-7", Decimal("119.00"))
    assert [line.quantity for line in fields.line_items] == [Decimal(4)]


def test_entity_declarations_are_refused_not_expanded() -> None:
    with pytest.raises(UnreadableEInvoice, match="DTD or entities"):
        invoice_from_xml(BILLION_LAUGHS)


def test_the_invoice_xml_is_chosen_among_attachments_and_bad_ones_are_reported() -> None:
    pdf = pdf_with_attachments(
        ["Rechnung"],
        {
            "notes.xml": b"<notes><note>not an invoice</note></notes>",
            "hostile.xml": BILLION_LAUGHS,
            "readme.txt": b"plain text",
            "factur-x.xml": UBL_INVOICE,
        },
    )
    with pdfplumber.open(io.BytesIO(pdf)) as opened:
        invoice, warnings = embedded_invoice(opened.doc)
    assert invoice is not None
    assert invoice.fields.invoice_number == "UBL-2026-7"

    without = pdf_with_attachments(["Rechnung"], {"hostile.xml": BILLION_LAUGHS})
    with pdfplumber.open(io.BytesIO(without)) as opened:
        invoice, warnings = embedded_invoice(opened.doc)
    assert invoice is None
    assert warnings == [
        "the attachment hostile.xml is not a usable e-invoice: "
        "the XML declares a DTD or entities, which an e-invoice never needs"
    ]
