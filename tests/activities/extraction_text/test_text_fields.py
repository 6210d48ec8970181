"""Invoice fields from plain text: invoices in four languages and three number styles, an OCR'd
page, the building blocks (amounts, dates, labels), and the corpus's text layers."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pdfplumber
import pytest

from activities.extraction.text_amounts import find_amounts, parse_number
from activities.extraction.text_dates import DateOrder, find_dates
from activities.extraction.text_fields import fields_from_text
from bench.corpus_scoring import fields_as_corpus_dict, line_items_found, load_corpus, score_fields
from tests.corpus import CORPUS

US_INVOICE = """Acme Widgets Inc.
1200 Industrial Parkway
Springfield, IL 62704
Phone (217) 555-0100  www.acmewidgets.com
INVOICE
Invoice #: INV-10042
Invoice Date: 03/05/2024
Due Date: 04/04/2024
P.O. Number: PO-7781
Bill To:
Globex Corporation
Attn: Accounts Payable
500 Market Street
Chicago, IL 60601
Description Qty Unit Price Amount
Widget A (blue) 10 $12.50 $125.00
Widget B 25 $50.00 $1,250.00
Subtotal $1,375.00
Sales Tax (8%) $110.00
Total Due $1,485.00
Thank you for your business!"""

GERMAN_INVOICE = """Muster Software GmbH · Hauptstraße 5 · 10115 Berlin
Beispiel AG
z. Hd. Herrn Max Meier
Ringstraße 7
80331 München
RECHNUNG
Rechnungs-Nr.: 2024-0815
Rechnungsdatum: 12. Februar 2024
Kundennummer: 10077
Ihre Bestellung: 4500012345 vom 01.02.2024
Pos. Bezeichnung Menge Einzelpreis Gesamt
1 Beratung Projektstart 8 Std. 120,00 960,00
2 Lizenz Pro (Jahr) 2 1.250,00 2.500,00
Nettobetrag 3.460,00 €
zzgl. 19 % MwSt. 657,40 €
Gesamtbetrag 4.117,40 €
Zahlbar bis 13.03.2024 ohne Abzug.
Muster Software GmbH · Geschäftsführer: Erika Muster · Amtsgericht Berlin HRB 12345
USt-IdNr.: DE811234567 · IBAN: DE12 1001 0010 1234 5678 90"""

FRENCH_INVOICE = """Atelier Martin SARL - 12 rue de la Paix - 75002 Paris
Tél : 01 23 45 67 89 - contact@ateliermartin.fr
FACTURE
Facture N° F-2024-117
Date : 5 juin 2024
Échéance : 5 juillet 2024
Bon de commande : BC-2024-33
Client :
Société Dupont SAS
8 avenue Victor Hugo
69002 Lyon
Désignation Quantité Prix unitaire HT Montant HT
Table chêne massif 1 900,00 € 900,00 €
Chaise assortie 4 75,00 € 300,00 €
Total HT 1 200,00 €
TVA 20 % 240,00 €
Total TTC 1 440,00 €
N° TVA intracommunautaire : FR12345678901 - SIRET 123 456 789 00012"""

DUTCH_INVOICE = """De Vries Techniek B.V.
Industrieweg 12
3542 AD Utrecht
Factuuradres:
Jansen Bouw B.V.
Kerkstraat 1
1017 GA Amsterdam
Factuurnummer: 2024-501
Factuurdatum: 31-01-2024
Vervaldatum: 14-02-2024
Uw referentie: INK-8890
Omschrijving Aantal Prijs Bedrag
Onderhoud installatie 4 150,00 600,00
Vervangen pomp 1 400,00 400,00
Subtotaal € 1.000,00
BTW 21% € 210,00
Totaal € 1.210,00
BTW-nummer: NL123456789B01"""

BRITISH_INVOICE = """Northwind Traders Ltd
Unit 4, Riverside Park
Leeds LS1 4AP
United Kingdom
VAT Reg No: GB 123 4567 89
TAX INVOICE
Invoice No.
UK-5531
Date
31-Dec-2017
Customer
Contoso Retail plc
Item Description Quantity Price Total
Cables, network (box) 3 £20.00 £60.00
Router 1 £140.00 £140.00
Net Total £200.00
VAT 20% £40.00
Total (inc VAT) £240.00"""

OCR_INVOICE = """Nordlicht Elektro GmbH - Am Hafen 3 - 20457 Hamburg

Bauhaus Partner KG
Lagerweg 9

22041 Hamburg

RECHNUNG

Rechnungsnummer
Rechnungsdatum
Kundennummer

RE-2023-0042
14.11.2023
K-5531

Pos Beschreibung Menge Einzelpreis Betrag
1 Kabelkanal 40x60 12 Stk 8,50 102,00

2 Montage 3 Std 65,00 195,00

Summe netto 297,00
MwSt. 19% 56,43
Gesamtbetrag 353,43 EUR

Zahlbar bis 28.11.2023 | IBAN DE44 2005 0550 1234 5678 90
\x0c"""

TWO_COLUMN_INVOICE = """Bright Ideas Ltd Invoice No: BI-2231
14 Baker Street Date: 12/03/2023
London W1U 3BW Due: 11/04/2023
Bill To Ship To
Fabrikam Inc Fabrikam Warehouse
1 Main Road 22 Dock Lane
Description Qty Rate Amount
Consulting services March 10 80.00 800.00
Travel expenses 1 200.00 200.00
Subtotal 1,000.00
VAT @ 20% 200.00
Total GBP 1,200.00
Company registered in England No. 0123456 VAT No. GB 987 6543 21"""

ADDRESSED_INVOICE = """Herrn
Peter Schmidt
Gartenweg 3
50667 Köln
Rechnung Nr. 2023/117 vom 3. März 2023
Leistungszeitraum 01.02.2023 - 28.02.2023
Menge Beschreibung Einzelpreis Betrag
12 Gartenpflege (Std.) 45,00 540,00
1 Entsorgung Grünschnitt 60,00 60,00
Betrag netto 600,00 €
USt 19% 114,00 €
Rechnungsbetrag 714,00 €
Fällig am 17.03.2023
Grün & Garten Meyer e.K. | Inh. Jan Meyer | Lindenstr. 8 | 50667 Köln
Steuernummer 215/5012/3456 | USt-IdNr. DE278123456"""

COLUMNS_INVOICE = """Bakkerij Van Dam
Dorpsstraat 12, 2611 AB Delft
Factuur
Aan: Hotel De Oude Haven
Factuurnummer Factuurdatum Vervaldatum
2023-0099 15-03-2023 14-04-2023
Omschrijving Aantal Prijs Totaal
Broodjes assorti 200 2,50 500,00
Taarten 10 35,00 350,00
Totaal excl. BTW € 850,00
BTW 9% € 76,50
Totaal incl. BTW € 926,50
KvK 12345678 BTW NL001234567B01 IBAN NL91ABNA0417164300"""

MERGED_COLUMNS_INVOICE = """Elektro Wagner GmbH
Industriestr. 4
70565 Stuttgart Rechnungsnummer: 2024-1187
Tel. 0711 123456 Datum: 08.04.2024
Kunden-Nr.: 4711
Firma
Schreinerei Holzmann
Werkstraße 2
71032 Böblingen
Pos Artikel Bezeichnung Menge Einheit Preis Gesamt
1 A-100 Steckdose weiß 20 Stk 4,20 84,00
2 L-55 Leitung NYM 3x1,5 100 m 0,89 89,00
3 Arbeitszeit Elektriker 6,5 Std 58,00 377,00
Summe netto 550,00
MwSt 7% auf 0,00 0,00
MwSt 19% auf 550,00 104,50
Endbetrag EUR 654,50
Zahlungsziel: 14 Tage netto (22.04.2024)"""

CREDIT_NOTE = """Handelsrechnung Korrektur (384) Nr. RK-77 vom 16.09.2018
Währung: EUR
Verkäufer
Name: Beispiel Handel GmbH
Käufer
Name: Kunde Nord GmbH
Pos Beschreibung Nettopreis Menge Steuersatz Nettobetrag
1 Zitronensäure 100ml 1,0000 -5 Stk 19 %
4123456000014 -5,00
Positionssumme -5,00
Steuerbetrag -0,95
Bruttosumme -5,95"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            US_INVOICE,
            {
                "invoice_number": "INV-10042",
                "invoice_date": date(2024, 3, 5),
                "due_date": date(2024, 4, 4),
                "po_number": "PO-7781",
                "supplier_name": "Acme Widgets Inc.",
                "buyer_name": "Globex Corporation",
                "currency": "USD",
                "total_amount": Decimal("1485.00"),
                "tax_amount": Decimal("110.00"),
                "subtotal": Decimal("1375.00"),
            },
        ),
        (
            GERMAN_INVOICE,
            {
                "invoice_number": "2024-0815",
                "invoice_date": date(2024, 2, 12),
                "due_date": date(2024, 3, 13),
                "po_number": "4500012345",
                "supplier_name": "Muster Software GmbH",
                "supplier_tax_id": "DE811234567",
                "buyer_name": "Beispiel AG",
                "currency": "EUR",
                "total_amount": Decimal("4117.40"),
                "tax_amount": Decimal("657.40"),
                "subtotal": Decimal("3460.00"),
            },
        ),
        (
            FRENCH_INVOICE,
            {
                "invoice_number": "F-2024-117",
                "invoice_date": date(2024, 6, 5),
                "due_date": date(2024, 7, 5),
                "po_number": "BC-2024-33",
                "supplier_name": "Atelier Martin SARL",
                "supplier_tax_id": "FR12345678901",
                "buyer_name": "Société Dupont SAS",
                "total_amount": Decimal("1440.00"),
                "tax_amount": Decimal("240.00"),
                "subtotal": Decimal("1200.00"),
            },
        ),
        (
            DUTCH_INVOICE,
            {
                "invoice_number": "2024-501",
                "invoice_date": date(2024, 1, 31),
                "due_date": date(2024, 2, 14),
                "supplier_name": "De Vries Techniek B.V.",
                "supplier_tax_id": "NL123456789B01",
                "buyer_name": "Jansen Bouw B.V.",
                "total_amount": Decimal("1210.00"),
                "tax_amount": Decimal("210.00"),
                "subtotal": Decimal("1000.00"),
            },
        ),
        (
            BRITISH_INVOICE,
            {
                "invoice_number": "UK-5531",
                "invoice_date": date(2017, 12, 31),
                "supplier_name": "Northwind Traders Ltd",
                "supplier_tax_id": "GB123456789",
                "buyer_name": "Contoso Retail plc",
                "currency": "GBP",
                "total_amount": Decimal("240.00"),
                "tax_amount": Decimal("40.00"),
                "subtotal": Decimal("200.00"),
            },
        ),
        (
            OCR_INVOICE,
            {
                "invoice_number": "RE-2023-0042",
                "invoice_date": date(2023, 11, 14),
                "due_date": date(2023, 11, 28),
                "supplier_name": "Nordlicht Elektro GmbH",
                "buyer_name": "Bauhaus Partner KG",
                "currency": "EUR",
                "total_amount": Decimal("353.43"),
                "tax_amount": Decimal("56.43"),
                "subtotal": Decimal("297.00"),
            },
        ),
        (
            TWO_COLUMN_INVOICE,
            {
                "invoice_number": "BI-2231",
                "invoice_date": date(2023, 3, 12),
                "due_date": date(2023, 4, 11),
                "supplier_name": "Bright Ideas Ltd",
                "supplier_tax_id": "GB987654321",
                "buyer_name": "Fabrikam Inc",
                "currency": "GBP",
                "total_amount": Decimal("1200.00"),
                "tax_amount": Decimal("200.00"),
                "subtotal": Decimal("1000.00"),
            },
        ),
        (
            ADDRESSED_INVOICE,
            {
                "invoice_number": "2023/117",
                "invoice_date": date(2023, 3, 3),
                "due_date": date(2023, 3, 17),
                "supplier_name": "Grün & Garten Meyer e.K.",
                "supplier_tax_id": "DE278123456",
                "buyer_name": "Peter Schmidt",
                "total_amount": Decimal("714.00"),
                "tax_amount": Decimal("114.00"),
                "subtotal": Decimal("600.00"),
            },
        ),
        (
            COLUMNS_INVOICE,
            {
                "invoice_number": "2023-0099",
                "invoice_date": date(2023, 3, 15),
                "due_date": date(2023, 4, 14),
                "supplier_name": "Bakkerij Van Dam",
                "buyer_name": "Hotel De Oude Haven",
                "total_amount": Decimal("926.50"),
                "tax_amount": Decimal("76.50"),
                "subtotal": Decimal("850.00"),
            },
        ),
        (
            MERGED_COLUMNS_INVOICE,
            {
                "invoice_number": "2024-1187",
                "invoice_date": date(2024, 4, 8),
                "due_date": date(2024, 4, 22),
                "supplier_name": "Elektro Wagner GmbH",
                "buyer_name": "Schreinerei Holzmann",
                "total_amount": Decimal("654.50"),
                "tax_amount": Decimal("104.50"),
                "subtotal": Decimal("550.00"),
            },
        ),
    ],
    ids=[
        "en-us",
        "de",
        "fr",
        "nl",
        "en-gb",
        "de-ocr",
        "en-two-columns",
        "de-salutation",
        "nl-header-row",
        "de-merged-columns",
    ],
)
def test_the_header_fields_a_clerk_would_type_in(text: str, expected: dict[str, object]) -> None:
    extracted = fields_from_text(text)
    got = {name: getattr(extracted.fields, name) for name in expected}
    assert got == expected
    assert extracted.method == "text"
    assert set(extracted.confidence) <= set(type(extracted.fields).model_fields)
    assert all(
        0 < extracted.confidence[name] <= 1 for name in expected if name in extracted.confidence
    )


def test_line_items_with_quantity_unit_price_and_total() -> None:
    items = fields_from_text(GERMAN_INVOICE).fields.line_items
    assert [
        (item.description, item.quantity, item.unit_price, item.line_total) for item in items
    ] == [
        ("Beratung Projektstart", Decimal("8"), Decimal("120.00"), Decimal("960.00")),
        ("Lizenz Pro (Jahr)", Decimal("2"), Decimal("1250.00"), Decimal("2500.00")),
    ]
    french = fields_from_text(FRENCH_INVOICE).fields.line_items
    assert [(item.description, item.line_total) for item in french] == [
        ("Table chêne massif", Decimal("900.00")),
        ("Chaise assortie", Decimal("300.00")),
    ]


def test_a_credit_note_with_the_line_total_on_the_line_below() -> None:
    fields = fields_from_text(CREDIT_NOTE).fields
    assert (fields.invoice_number, fields.invoice_date) == ("RK-77", date(2018, 9, 16))
    assert (fields.supplier_name, fields.buyer_name) == ("Beispiel Handel GmbH", "Kunde Nord GmbH")
    assert (fields.total_amount, fields.tax_amount, fields.subtotal) == (
        Decimal("-5.95"),
        Decimal("-0.95"),
        Decimal("-5.00"),
    )
    (item,) = fields.line_items
    assert (item.description, item.line_total, item.tax_rate) == (
        "Zitronensäure 100ml",
        Decimal("-5.00"),
        Decimal("19"),
    )


def test_values_under_a_row_of_labels_go_column_by_column() -> None:
    text = (
        "Northwind Traders Ltd\nInvoice INV/2023/03/0008\n"
        "Invoice Date: Due Date: Reference:\n03/20/2023 04/04/2023 CUSTREF123\n"
        "Subtotal $ 100.00\nSubtotal $ 162.90\nSubtotal $ 262.90\nTax 15% on $ 112.90 $ 16.94\n"
        "Total $ 279.84"
    )
    fields = fields_from_text(text).fields
    assert (fields.invoice_number, fields.invoice_date, fields.due_date) == (
        "INV/2023/03/0008",
        date(2023, 3, 20),
        date(2023, 4, 4),
    )
    assert (fields.subtotal, fields.tax_amount, fields.total_amount) == (
        Decimal("262.90"),
        Decimal("16.94"),
        Decimal("279.84"),
    )


def test_an_empty_text_finds_nothing() -> None:
    extracted = fields_from_text("")
    assert extracted.confidence == {}
    assert extracted.fields.line_items == []


@pytest.mark.parametrize(
    ("text", "decimal_comma", "value"),
    [
        ("1.234,56", True, "1234.56"),
        ("1,234.56", False, "1234.56"),
        ("3,3333", True, "3.3333"),
        ("0.025", True, "0.025"),
        ("1.000", True, "1000"),
        ("2.321,00", True, "2321.00"),
    ],
)
def test_numbers_in_each_style(text: str, decimal_comma: bool, value: str) -> None:
    parsed = parse_number(text, decimal_comma)
    assert parsed is not None and parsed[0] == Decimal(value)


def test_amounts_keep_their_sign_currency_and_spaces() -> None:
    amounts = find_amounts("Total TTC 1 234,56 € dont TVA 20 % -5,00", True, spaced_groups=True)
    assert [(str(a.value), a.currency, a.percent) for a in amounts] == [
        ("1234.56", "EUR", False),
        ("20", None, True),
        ("-5.00", None, False),
    ]
    assert [str(a.value) for a in find_amounts("CHF 1'234.50 Rs 1939", False)] == [
        "1234.50",
        "1939",
    ]


@pytest.mark.parametrize(
    ("text", "order", "value"),
    [
        ("vom 5. Juni 2018", "dmy", date(2018, 6, 5)),
        ("June 5, 2018", "dmy", date(2018, 6, 5)),
        ("le 5 juin 2018", "dmy", date(2018, 6, 5)),
        ("19 april 2014", "dmy", date(2014, 4, 19)),
        ("31-Dec-2017", "dmy", date(2017, 12, 31)),
        ("2018-06-05", "mdy", date(2018, 6, 5)),
        ("05.06.2018", "mdy", date(2018, 6, 5)),
        ("05/06/2018", "dmy", date(2018, 6, 5)),
        ("06/05/2018", "mdy", date(2018, 6, 5)),
        ("Zahlungsziel 21.05.14", "dmy", date(2014, 5, 21)),
    ],
)
def test_dates_in_each_style(text: str, order: DateOrder, value: date) -> None:
    assert [found.value for found in find_dates(text, order)] == [value]


def test_parsing_stays_fast() -> None:
    text = "\n\f\n".join([GERMAN_INVOICE, US_INVOICE, FRENCH_INVOICE])
    fields_from_text(text)
    started = time.perf_counter()
    for _ in range(10):
        fields_from_text(text)
    assert (time.perf_counter() - started) / 30 < 0.02


def _text_layer(pdf: Path) -> str:
    """The PDF's text as the text path reads it: pdfplumber, pages joined by form feeds."""
    with pdfplumber.open(pdf) as document:
        return "\n\f\n".join(page.extract_text() or "" for page in document.pages)


def test_the_corpus_text_layers_score_at_least_90_percent() -> None:
    documents = load_corpus(CORPUS / "zugferd-text")
    assert documents
    right = scored = found = items = 0
    for document in documents:
        got = fields_as_corpus_dict(fields_from_text(_text_layer(document.pdf)))
        scores = score_fields(document.expected, document.visible, got)
        right, scored = right + sum(scores.values()), scored + len(scores)
        document_found, document_items = line_items_found(document.line_items, got["line_items"])
        found, items = found + document_found, items + document_items
    assert right / scored >= 0.9
    assert found / items >= 0.8
