"""Which PDF attachment of a mail is the invoice, which the purchase order (PO) and which the
goods receipt (GRN): by file name, then by the first page's text, then by position.

Names are matched by whole words in English, German and French (`PO-4711.pdf` is a PO,
`report.pdf` is not). The first page is read with poppler's `pdftotext` only for PDFs whose names
say nothing, when the mail has more than one PDF; a PDF that cannot be read counts as unknown.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from activities.text_normalise import normalise_text
from models.mail import AttachmentKind, ClassifiedDocument, MailAttachment

logger = logging.getLogger(__name__)

PDFTOTEXT_TIMEOUT_SECONDS = 5.0
_MAX_TEXT_CHARS = 20_000

_NAME_KEYWORDS: dict[AttachmentKind, tuple[str, ...]] = {
    "invoice": ("invoice", "invoices", "rechnung", "rechnungen", "facture", "factures", "bill"),
    "po": ("po", "purchase order", "purchaseorder", "bestellung", "bon de commande"),
    "grn": (
        "grn",
        "goods receipt",
        "goodsreceipt",
        "goods received",
        "delivery note",
        "deliverynote",
        "lieferschein",
        "wareneingang",
        "bon de livraison",
    ),
}
_TEXT_KEYWORDS: dict[AttachmentKind, tuple[str, ...]] = {
    "invoice": ("invoice", "rechnung", "facture"),
    "po": ("purchase order", "bestellung", "bon de commande"),
    "grn": (
        "goods receipt",
        "goods received",
        "delivery note",
        "lieferschein",
        "wareneingang",
        "bon de livraison",
    ),
}
_REFERENCE = re.compile(
    r"\s*[-.:]?\s*(?:n°|#|(?:no|nr|number|nummer|num|numéro|numero|date|datum|ref"
    r"|address|adresse|to)\b)"
)
"""What follows a document's name when a page only refers to it ("Purchase order no. 4711" on
an invoice, "Invoice address" on a PO)."""
_KIND_NAMES: dict[AttachmentKind, str] = {
    "invoice": "an invoice",
    "po": "a purchase order",
    "grn": "a goods receipt",
}


class NoInvoiceAttachment(ValueError):
    """None of the mail's PDFs can be the invoice; `found` lists what they are."""

    def __init__(self, found: list[ClassifiedDocument]) -> None:
        self.found = found
        super().__init__(describe_no_invoice(found))


def describe_no_invoice(found: list[ClassifiedDocument]) -> str:
    """In words: the mail has no PDF that can be the invoice, and what its PDFs are."""
    if not found:
        return "the mail has no PDF that can be the invoice"
    listed = ", ".join(f"{document.filename} is {_KIND_NAMES[document.kind]}" for document in found)
    return f"no PDF attachment is the invoice: {listed}"


async def classify_attachments(
    attachments: Sequence[tuple[MailAttachment, bytes]],
    *,
    time_limit: float = PDFTOTEXT_TIMEOUT_SECONDS,
) -> list[ClassifiedDocument]:
    """Exactly one invoice, at most one PO and one GRN among the mail's readable PDFs (indexes
    are positions in `attachments`); `NoInvoiceAttachment` when no PDF can be the invoice."""
    pdfs = [
        (index, attachment, data)
        for index, (attachment, data) in enumerate(attachments)
        if attachment.is_pdf and not attachment.oversized
    ]
    kinds: dict[int, AttachmentKind | None] = {
        index: kind_from_name(attachment.filename) for index, attachment, _ in pdfs
    }
    unknown = [(index, data) for index, _, data in pdfs if kinds[index] is None]
    if len(pdfs) > 1 and unknown:
        texts = await asyncio.gather(
            *(first_page_text(data, time_limit=time_limit) for _, data in unknown)
        )
        for (index, _), text in zip(unknown, texts, strict=True):
            kinds[index] = kind_from_text(text) if text else None
    return _assign(pdfs, kinds)


def _assign(
    pdfs: list[tuple[int, MailAttachment, bytes]], kinds: dict[int, AttachmentKind | None]
) -> list[ClassifiedDocument]:
    """One document per kind: the first named invoice (else the first unknown PDF), PO and GRN."""
    chosen: dict[AttachmentKind, ClassifiedDocument] = {}
    invoice = next((index for index, _, _ in pdfs if kinds[index] == "invoice"), None)
    if invoice is None:
        invoice = next((index for index, _, _ in pdfs if kinds[index] is None), None)
    for index, attachment, _ in pdfs:
        kind: AttachmentKind | None = "invoice" if index == invoice else kinds[index]
        if kind is None or kind in chosen or (kind == "invoice" and index != invoice):
            logger.info("attachment %s is not used: %s", attachment.filename, kind or "unknown")
            continue
        chosen[kind] = ClassifiedDocument(index=index, filename=attachment.filename, kind=kind)
    documents = sorted(chosen.values(), key=lambda document: document.index)
    if "invoice" not in chosen:
        raise NoInvoiceAttachment(documents)
    return documents


def kind_from_name(filename: str) -> AttachmentKind | None:
    """What a file name says the document is (an invoice wins over a PO or GRN it mentions)."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    words = f" {' '.join(re.findall(r'[a-z]+', normalise_text(stem)))} "
    for kind, keywords in _NAME_KEYWORDS.items():
        if any(f" {keyword} " in words for keyword in keywords):
            return kind
    return None


def kind_from_text(text: str) -> AttachmentKind | None:
    """What a first page says the document is: its earliest document name used as a title;
    failing that, its earliest one followed by a number, date or address label
    ("Rechnung Nr. 7")."""
    folded = text[:_MAX_TEXT_CHARS].casefold()
    best: tuple[bool, int, AttachmentKind] | None = None
    for kind, keywords in _TEXT_KEYWORDS.items():
        for keyword in keywords:
            pattern = r"\b" + r"\s+".join(map(re.escape, keyword.split())) + r"\b"
            for match in re.finditer(pattern, folded):
                reference = _REFERENCE.match(folded, match.end()) is not None
                candidate = (reference, match.start(), kind)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
                if not reference:
                    break
    return best[2] if best else None


async def first_page_text(
    data: bytes, *, time_limit: float = PDFTOTEXT_TIMEOUT_SECONDS
) -> str | None:
    """The first page's text by `pdftotext -l 1 -layout`; None when it fails or takes too long."""
    try:
        process = await asyncio.create_subprocess_exec(
            "pdftotext",
            "-l",
            "1",
            "-layout",
            "-",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        logger.warning("pdftotext could not be started", exc_info=True)
        return None
    try:
        output, _ = await asyncio.wait_for(process.communicate(data), time_limit)
    except TimeoutError:
        logger.warning("pdftotext took longer than %s s; the PDF counts as unknown", time_limit)
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0:
        logger.info("pdftotext failed with exit code %s", process.returncode)
        return None
    return output.decode("utf-8", "replace")
