"""Extraction picks the right path per document and refuses unusable files with a reason."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from temporalio.exceptions import ApplicationError

from activities.documents import MAX_PDF_BYTES
from activities.extraction.ocr import ocr_pdf_pages
from activities.extraction.pipeline import (
    extract_document,
    text_is_usable,
    without_trailing_junk,
)
from tests.activities.extraction.samples import (
    UBL_INVOICE,
    encrypted_pdf,
    scanned_invoice_pdf,
    scanned_invoice_png,
    sideways_photo_jpeg,
)
from tests.activities.pdf_samples import blank_pdf, text_pdf
from tests.corpus import CORPUS

FACTUR_X = CORPUS / "zugferd" / "XML-Rechnung_FX_EN16931_Rabatte.pdf"
INVOICE_LINES = ["ACME Supplies Ltd", "Invoice INV-2026-0042", "Total due: 1,234.50 EUR"]


def test_an_embedded_e_invoice_wins_over_the_page_text() -> None:
    extracted = extract_document(FACTUR_X.read_bytes())
    assert (extracted.method, extracted.pages) == ("embedded_xml", 3)
    assert extracted.fields.total_amount == Decimal("215.07")
    assert [line.description for line in extracted.fields.line_items][:2] == [
        "Kunstrasen grün 3m breit",
        "Schweinesteak",
    ]


def test_the_same_pdf_without_its_xml_is_read_from_its_text_layer() -> None:
    extracted = extract_document((CORPUS / "zugferd-text" / FACTUR_X.name).read_bytes())
    assert (extracted.method, extracted.pages) == ("text", 3)
    assert not any("OCR" in warning for warning in extracted.warnings)


def test_a_text_pdf_is_read_without_ocr() -> None:
    extracted = extract_document(text_pdf(INVOICE_LINES))
    assert (extracted.method, extracted.pages, extracted.warnings) == ("text", 1, [])


def test_an_image_only_pdf_goes_through_ocr_and_its_total_is_found() -> None:
    extracted = extract_document(scanned_invoice_pdf())
    assert (extracted.method, extracted.pages) == ("ocr", 1)
    assert "read by OCR: page 1" in extracted.warnings
    assert extracted.fields.total_amount == Decimal("1234.50")


def test_ocr_reads_the_text_of_a_scanned_page(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_invoice_pdf())
    [page] = ocr_pdf_pages(path, [1])
    assert page.error is None
    assert "NW-2026-118" in page.text
    assert "1,234.50" in page.text


def test_a_png_scan_is_read_by_ocr() -> None:
    extracted = extract_document(scanned_invoice_png())
    assert (extracted.method, extracted.pages) == ("ocr", 1)
    assert extracted.fields.total_amount == Decimal("1234.50")


def test_a_sideways_phone_photo_is_turned_upright_before_ocr() -> None:
    extracted = extract_document(sideways_photo_jpeg())
    assert extracted.method == "ocr"
    assert extracted.fields.total_amount == Decimal("1234.50")


def test_a_bare_e_invoice_xml_file_is_read() -> None:
    extracted = extract_document(UBL_INVOICE)
    assert (extracted.method, extracted.fields.invoice_number) == ("embedded_xml", "UBL-2026-7")


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        (b"PK\x03\x04 a zip file", "NotAPdf", "not a PDF"),
        (bytes(range(256)) * 4, "NotAPdf", "not a PDF"),
        (b"<html><body>an invoice?</body></html>", "NotAPdf", "not an e-invoice"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> garbage", "CorruptPdf", "damaged"),
        (text_pdf(INVOICE_LINES)[:200], "CorruptPdf", "damaged"),
        (encrypted_pdf(), "EncryptedPdf", "encrypted"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "CorruptImage", "damaged"),
    ],
    ids=["zip", "binary", "html", "garbage", "truncated", "encrypted", "broken-png"],
)
def test_unusable_files_fail_for_good_with_a_reason(data: bytes, reason: str, words: str) -> None:
    with pytest.raises(ApplicationError, match=words) as raised:
        extract_document(data)
    assert (raised.value.type, raised.value.non_retryable) == (reason, True)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(ApplicationError, match="more than the 50 MB allowed") as raised:
        extract_document(b"%PDF-1.4\n" + b"0" * MAX_PDF_BYTES)
    assert raised.value.type == "FileTooLarge"


def test_a_page_without_text_falls_back_to_ocr_with_a_warning() -> None:
    extracted = extract_document(blank_pdf())
    assert (extracted.method, extracted.pages) == ("ocr", 1)
    assert "read by OCR: page 1" in extracted.warnings


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("Invoice INV-2026-0042\nTotal due: 1,234.50 EUR", True),
        ("Rechnung Nr. 471102 vom 05.06.2018 Gesamtbetrag 215,07 €", True),
        ("Page 1", False),
        ("(cid:12)(cid:15)(cid:3)(cid:44) " * 20 + "Total 12.00", False),
        ("\ue001\ue002\ue003\ue004 " * 30, False),
        ("---- .... ____ ==== ||||" * 5, False),
    ],
    ids=["english", "german", "too-short", "unmapped-glyphs", "private-use", "punctuation"],
)
def test_a_text_layer_is_used_only_when_it_reads_as_text(text: str, usable: bool) -> None:
    assert text_is_usable(text) is usable


def test_an_image_bomb_is_refused_as_too_large_before_it_is_decoded() -> None:
    buffer = io.BytesIO()
    Image.new("1", (20_000, 10_000)).save(buffer, "PNG")
    with pytest.raises(ApplicationError, match="more than 80000000 pixels") as raised:
        extract_document(buffer.getvalue())
    assert (raised.value.type, raised.value.non_retryable) == ("ImageTooLarge", True)


def test_a_damaged_image_names_no_python_object_in_its_reason() -> None:
    with pytest.raises(ApplicationError, match="the image is damaged") as raised:
        extract_document(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert raised.value.type == "CorruptImage"
    assert "object at 0x" not in str(raised.value)


def test_junk_after_the_last_eof_is_not_read() -> None:
    invoice = text_pdf(["Invoice Number: INV-77", "Total: 99.00 EUR"])
    padded = invoice + b"\x00junk" * 200_000
    assert without_trailing_junk(padded) == invoice.rstrip(b"\r\n") + b"\n"
    assert extract_document(padded).fields.invoice_number == "INV-77"
    assert without_trailing_junk(invoice) == invoice
