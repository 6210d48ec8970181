"""Invoice, PO and GRN are told apart by name, then by the first page, then by position."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from activities.mail_intake import attachment_kinds
from activities.mail_intake.attachment_kinds import (
    NoInvoiceAttachment,
    classify_attachments,
    first_page_text,
    kind_from_name,
    kind_from_text,
)
from models.mail import AttachmentKind, ClassifiedDocument, MailAttachment
from tests.activities.pdf_samples import blank_pdf, text_pdf

INVOICE = text_pdf(["Lieferant GmbH", "", "INVOICE", "Invoice no. 2024-7", "PO number 4711"])
PURCHASE_ORDER = text_pdf(["ACME AG", "PURCHASE ORDER 4711", "Invoice address: ACME AG"])
DELIVERY_NOTE = text_pdf(["Lieferant GmbH", "Lieferschein", "Bestellung 4711 vom 1.3.2024"])


def attached(name: str, data: bytes, *, oversized: bool = False) -> tuple[MailAttachment, bytes]:
    attachment = MailAttachment(
        filename=name,
        content_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        is_pdf=data.startswith(b"%PDF-"),
        oversized=oversized,
    )
    return attachment, b"" if oversized else data


def kinds(documents: Sequence[ClassifiedDocument]) -> list[tuple[int, str, AttachmentKind]]:
    return [(document.index, document.filename, document.kind) for document in documents]


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("Invoice_2024-001.pdf", "invoice"),
        ("Rechnung 4711.PDF", "invoice"),
        ("facture-12.pdf", "invoice"),
        ("bill.pdf", "invoice"),
        ("Invoice for PO 4711.pdf", "invoice"),
        ("PO-4711.pdf", "po"),
        ("PO4711.pdf", "po"),
        ("Purchase_Order_4711.pdf", "po"),
        ("PurchaseOrder.pdf", "po"),
        ("Bestellung 4711.pdf", "po"),
        ("bon de commande.pdf", "po"),
        ("GRN-88.pdf", "grn"),
        ("goods receipt 88.pdf", "grn"),
        ("Delivery-Note.pdf", "grn"),
        ("Lieferschein_88.pdf", "grn"),
        ("Wareneingang.pdf", "grn"),
        ("bon_de_livraison.pdf", "grn"),
        ("report.pdf", None),
        ("photo.pdf", None),
        ("scan0001.pdf", None),
        ("billing-summary.pdf", None),
        ("Rechnungskopie.pdf", None),
    ],
)
def test_names_say_what_a_document_is(filename: str, kind: AttachmentKind | None) -> None:
    assert kind_from_name(filename) == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Lieferant GmbH\n   INVOICE\nInvoice no. 7\nPurchase order no. 4711", "invoice"),
        ("ACME AG   PURCHASE ORDER\nPO 4711\nInvoice address: ACME AG", "po"),
        ("Lieferant GmbH\nDELIVERY NOTE\nYour purchase order: 4711", "grn"),
        ("Rechnung Nr. 7\nIhre Bestellnummer 4711", "invoice"),
        ("BON DE LIVRAISON\nFacture à suivre", "grn"),
        ("Statement of account", None),
        ("", None),
    ],
)
def test_the_first_page_says_what_a_document_is(text: str, kind: AttachmentKind | None) -> None:
    assert kind_from_text(text) == kind


async def test_unnamed_pdfs_are_told_apart_by_their_first_page() -> None:
    documents = await classify_attachments(
        [
            attached("scan1.pdf", PURCHASE_ORDER),
            attached("scan2.pdf", DELIVERY_NOTE),
            attached("scan3.pdf", INVOICE),
        ]
    )
    assert kinds(documents) == [
        (0, "scan1.pdf", "po"),
        (1, "scan2.pdf", "grn"),
        (2, "scan3.pdf", "invoice"),
    ]


async def test_names_that_decide_skip_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    async def must_not_read(data: bytes, *, time_limit: float = 5.0) -> str | None:
        raise AssertionError("the names already decide")

    monkeypatch.setattr(attachment_kinds, "first_page_text", must_not_read)
    documents = await classify_attachments(
        [attached("PO-4711.pdf", INVOICE), attached("Rechnung-7.pdf", PURCHASE_ORDER)]
    )
    assert kinds(documents) == [(0, "PO-4711.pdf", "po"), (1, "Rechnung-7.pdf", "invoice")]
    [lone] = await classify_attachments([attached("scan.pdf", PURCHASE_ORDER)])
    assert lone.kind == "invoice"


async def test_the_first_pdf_nothing_identifies_is_the_invoice() -> None:
    documents = await classify_attachments(
        [
            attached("Lieferschein.pdf", DELIVERY_NOTE),
            attached("scan-a.pdf", blank_pdf()),
            attached("scan-b.pdf", blank_pdf()),
        ]
    )
    assert kinds(documents) == [(0, "Lieferschein.pdf", "grn"), (1, "scan-a.pdf", "invoice")]


async def test_extra_pdfs_are_ignored_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=attachment_kinds.__name__)
    documents = await classify_attachments(
        [
            attached("invoice-1.pdf", INVOICE),
            attached("invoice-2.pdf", INVOICE),
            attached("PO-1.pdf", PURCHASE_ORDER),
            attached("PO-2.pdf", PURCHASE_ORDER),
        ]
    )
    assert kinds(documents) == [(0, "invoice-1.pdf", "invoice"), (2, "PO-1.pdf", "po")]
    assert "attachment invoice-2.pdf is not used: invoice" in caplog.text
    assert "attachment PO-2.pdf is not used: po" in caplog.text


async def test_non_pdf_and_oversized_attachments_are_not_documents() -> None:
    documents = await classify_attachments(
        [
            attached("invoice.pdf", b"MZ not a pdf"),
            attached("big-invoice.pdf", INVOICE, oversized=True),
            attached("scan.pdf", INVOICE),
        ]
    )
    assert kinds(documents) == [(2, "scan.pdf", "invoice")]


async def test_no_invoice_among_the_pdfs_is_reported() -> None:
    with pytest.raises(NoInvoiceAttachment) as raised:
        await classify_attachments(
            [attached("PO-4711.pdf", PURCHASE_ORDER), attached("scan.pdf", DELIVERY_NOTE)]
        )
    assert str(raised.value) == (
        "no PDF attachment is the invoice: PO-4711.pdf is a purchase order, "
        "scan.pdf is a goods receipt"
    )
    assert [document.kind for document in raised.value.found] == ["po", "grn"]
    with pytest.raises(NoInvoiceAttachment, match="the mail has no PDF that can be the invoice"):
        await classify_attachments([])


async def test_a_broken_pdf_reads_as_unknown() -> None:
    assert await first_page_text(b"%PDF-1.4\nthis is not really a PDF") is None
    documents = await classify_attachments(
        [attached("scan1.pdf", b"%PDF-1.4\nbroken"), attached("scan2.pdf", PURCHASE_ORDER)]
    )
    assert kinds(documents) == [(0, "scan1.pdf", "invoice"), (1, "scan2.pdf", "po")]


async def test_a_hanging_or_missing_pdftotext_reads_as_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hanging = tmp_path / "pdftotext"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert await first_page_text(INVOICE, time_limit=0.2) is None
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert await first_page_text(INVOICE) is None
