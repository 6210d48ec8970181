"""First facts about a PDF: pages, text layer, and clear refusals of what is not a usable PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.documents import MAX_PDF_BYTES, DocumentActivities, pdf_facts
from activities.storage import LocalObjectStore
from models.documents import StoredDocument
from tests.activities.pdf_samples import blank_pdf, text_pdf

INVOICE_LINES = ["ACME Supplies Ltd", "Invoice INV-2026-0042", "Total due: 1,234.50 EUR"]


def test_a_text_pdf_has_a_text_layer() -> None:
    facts = pdf_facts(text_pdf(INVOICE_LINES))
    assert facts.pages == 1
    assert facts.has_text_layer
    assert facts.text_characters >= len("".join(INVOICE_LINES)) - 5


def test_a_scan_like_pdf_has_no_text_layer() -> None:
    facts = pdf_facts(blank_pdf())
    assert (facts.pages, facts.has_text_layer) == (1, False)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04 this is a zip file", "NotAPdf"),
        (b"", "NotAPdf"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> garbage", "CorruptPdf"),
        (text_pdf(INVOICE_LINES)[:120], "CorruptPdf"),
    ],
    ids=["zip", "empty", "garbage", "truncated"],
)
def test_unusable_files_fail_for_good_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ApplicationError) as raised:
        pdf_facts(data)
    assert raised.value.type == reason
    assert raised.value.non_retryable


async def test_inspect_pdf_reads_from_storage_and_refuses_huge_files(tmp_path: Path) -> None:
    store = LocalObjectStore(
        tmp_path, public_url="http://baton.test", secret_key="k" * 32, link_ttl_seconds=60
    )
    activities = DocumentActivities(store)
    await store.put("acme/ap/run-1/invoice.pdf", text_pdf(INVOICE_LINES), "application/pdf")
    facts = await activities.inspect_pdf(StoredDocument(key="acme/ap/run-1/invoice.pdf"))
    assert facts.has_text_layer

    await store.put(
        "acme/ap/run-1/huge.pdf", b"%PDF-1.4\n" + b"0" * MAX_PDF_BYTES, "application/pdf"
    )
    with pytest.raises(ApplicationError) as raised:
        await activities.inspect_pdf(StoredDocument(key="acme/ap/run-1/huge.pdf"))
    assert raised.value.type == "FileTooLarge"
