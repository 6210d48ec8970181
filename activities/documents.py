"""Document work for the documents task queue (CPU-heavy; its workers scale on their own)."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfplumber.utils.exceptions import PdfminerException
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.storage import ObjectStore
from models.documents import PdfFacts, StoredDocument

logger = logging.getLogger(__name__)

MIN_TEXT_CHARACTERS_PER_PAGE = 20
MAX_PDF_BYTES = 50 * 1024 * 1024


def pdf_facts(data: bytes) -> PdfFacts:
    """Pages, text layer and attachments of a PDF; a clear non-retryable error if it is none."""
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise ApplicationError("the file is not a PDF", type="NotAPdf", non_retryable=True)
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            characters = sum(len(page.chars) for page in pdf.pages)
            embedded = [str(name) for name in _embedded_file_names(pdf)]
            pages = len(pdf.pages)
    except (PdfminerException, PDFSyntaxError, ValueError, KeyError, TypeError) as error:
        cause = error.args[0] if isinstance(error, PdfminerException) and error.args else error
        if isinstance(cause, PDFPasswordIncorrect):
            raise ApplicationError(
                "the PDF is encrypted", type="EncryptedPdf", non_retryable=True
            ) from error
        raise ApplicationError(
            f"the PDF is damaged: {error}", type="CorruptPdf", non_retryable=True
        ) from error
    return PdfFacts(
        pages=pages,
        text_characters=characters,
        has_text_layer=pages > 0 and characters >= MIN_TEXT_CHARACTERS_PER_PAGE * pages,
        encrypted=False,
        embedded_files=embedded,
    )


def _embedded_file_names(pdf: Any) -> list[str]:
    catalog = pdf.doc.catalog
    names = catalog.get("Names")
    resolve = getattr(names, "resolve", None)
    tree = resolve() if resolve else names
    if not isinstance(tree, dict) or "EmbeddedFiles" not in tree:
        return []
    files = tree["EmbeddedFiles"].resolve().get("Names", [])
    return [
        entry.decode("latin-1") if isinstance(entry, bytes) else str(entry) for entry in files[::2]
    ]


class DocumentActivities:
    """Activities that read documents from storage and look inside them."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @activity.defn(name="inspect_pdf")
    async def inspect_pdf(self, document: StoredDocument) -> PdfFacts:
        """First facts about a stored PDF; parsing runs off the event loop."""
        size = await self._store.size(document.key)
        if size > MAX_PDF_BYTES:
            raise ApplicationError(
                f"the file is {size} bytes, more than {MAX_PDF_BYTES}",
                type="FileTooLarge",
                non_retryable=True,
            )
        data = await self._store.get(document.key)
        return await asyncio.to_thread(pdf_facts, data)
