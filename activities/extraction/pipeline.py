"""One document in, its invoice fields out: the embedded e-invoice if there is one, else the text
layer page by page, with OCR for the pages that have no usable text (and for PNG/JPEG images)."""

from __future__ import annotations

import io
import logging
import re
import tempfile
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.psparser import PSException
from pdfplumber.utils.exceptions import PdfminerException
from PIL import Image, ImageOps, UnidentifiedImageError
from temporalio.exceptions import ApplicationError

from activities.documents import MAX_PDF_BYTES, MIN_TEXT_CHARACTERS_PER_PAGE
from activities.extraction.einvoice import embedded_invoice
from activities.extraction.einvoice_xml import UnreadableEInvoice, invoice_from_xml
from activities.extraction.ocr import PageText, ocr_image, ocr_pdf_pages
from activities.extraction.pdf_text import PdfTextError, page_layers
from activities.extraction.text_fields import fields_from_text
from activities.file_types import JPEG, PDF, PNG, TEXT, sniff
from models.invoices import DocumentKind, ExtractedInvoice, ExtractionMethod

logger = logging.getLogger(__name__)

MAX_PAGES = 100
"""Pages read of a longer document (an invoice's fields are on its first pages)."""
MAX_OCR_PAGES = 20
MAX_IMAGE_PIXELS = 80_000_000
"""About an A4 page at 900 dpi: larger images are refused before anything decodes them."""
SCAN_TEXT_CHARACTERS = 200
"""A page mostly covered by an image with less text than this is read by OCR (a scan)."""
_EXIF_ORIENTATION = 0x0112
_EOF_MARKER = b"%%EOF"
TRAILING_BYTES_KEPT = 1024
"""A few bytes after `%%EOF` (line ends, padding) are left as they are."""
_UTF8_BOM = b"\xef\xbb\xbf"
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")
_GARBAGE_CATEGORIES = frozenset({"Co", "Cc", "Cs", "Cn"})
_PDF_ERRORS = (
    PdfminerException,
    PSException,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    RecursionError,
    zlib.error,
)
"""What pdfminer raises on a damaged PDF (it has no single error type)."""


def extract_document(data: bytes, kind: DocumentKind = "invoice") -> ExtractedInvoice:
    """The fields of a PDF, PNG or JPEG document, or of an e-invoice XML file."""
    if len(data) > MAX_PDF_BYTES:
        raise file_too_large(len(data))
    file_kind = sniff(data)
    logger.debug("extracting a %s as %s", file_kind, kind)
    if file_kind is PDF:
        return _extract_pdf(data)
    if file_kind in (PNG, JPEG):
        return _extract_image(data)
    if file_kind is TEXT and data.lstrip().removeprefix(_UTF8_BOM).lstrip()[:1] == b"<":
        try:
            return invoice_from_xml(data)
        except UnreadableEInvoice as error:
            raise _refusal(f"the XML file is not an e-invoice: {error}", "NotAPdf") from error
    raise _refusal("the file is not a PDF, a PNG or JPEG image, or an e-invoice XML", "NotAPdf")


def file_too_large(size: int) -> ApplicationError:
    """The refusal of a file over MAX_PDF_BYTES."""
    return _refusal(
        f"the file is {size / 2**20:.1f} MB, more than the {MAX_PDF_BYTES // 2**20} MB allowed",
        "FileTooLarge",
    )


def text_is_usable(text: str) -> bool:
    """Whether a page's text layer reads as text: enough letters or digits, little garbage
    (glyphs without a Unicode mapping, private-use or control characters)."""
    unmapped = len(_UNMAPPED_GLYPH.findall(text))
    visible = [c for c in _UNMAPPED_GLYPH.sub("", text) if not c.isspace()]
    total = len(visible) + unmapped
    garbage = unmapped + sum(
        c == "\ufffd" or unicodedata.category(c) in _GARBAGE_CATEGORIES for c in visible
    )
    readable = sum(c.isalnum() for c in visible)
    return (
        readable >= MIN_TEXT_CHARACTERS_PER_PAGE
        and garbage <= 0.1 * total
        and readable >= 0.5 * total
    )


def without_trailing_junk(data: bytes) -> bytes:
    """The PDF up to its last `%%EOF`: bytes after it are not part of the document, and a long
    tail makes pdfminer's search for the trailer quadratic."""
    end = data.rfind(_EOF_MARKER)
    if end == -1 or len(data) - end <= TRAILING_BYTES_KEPT:
        return data
    return data[: end + len(_EOF_MARKER)] + b"\n"


def _extract_pdf(data: bytes) -> ExtractedInvoice:
    data = without_trailing_junk(data)
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            embedded, warnings = embedded_invoice(pdf.doc)
            page_count = len(pdf.pages)
            if embedded is not None:
                embedded.pages = page_count
                return embedded
            texts = _page_texts(data, pdf.pages)
    except _PDF_ERRORS as error:
        raise _pdf_refusal(error) from error
    if page_count > MAX_PAGES:
        warnings.append(f"only the first {MAX_PAGES} of {page_count} pages were read")
    scans = [number for number, text in enumerate(texts, start=1) if text is None]
    if len(scans) > MAX_OCR_PAGES:
        warnings.append(f"only {MAX_OCR_PAGES} of {len(scans)} image-only pages were read")
    read = {page.page: page for page in _ocr_pdf(data, scans[:MAX_OCR_PAGES])}
    if read:
        numbers = ", ".join(str(number) for number in read)
        warnings.append(f"read by OCR: page{'s' if len(read) > 1 else ''} {numbers}")
        warnings.extend(page.error for page in read.values() if page.error)
    pages = [
        text if text is not None else read[number].text if number in read else ""
        for number, text in enumerate(texts, start=1)
    ]
    return _fields(pages, "ocr" if read else "text", page_count, warnings)


def _pdf_refusal(error: BaseException) -> BaseException:
    """A damaged or encrypted PDF fails for good, with the reason; running out of memory is not
    the document's fault alone, so a MemoryError stays one (the sandbox reports it)."""
    cause = error.args[0] if isinstance(error, PdfminerException) and error.args else error
    if isinstance(cause, MemoryError):
        return cause
    if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
        return _refusal("the PDF is encrypted with a password", "EncryptedPdf")
    return _refusal(f"the PDF is damaged: {cause}", "CorruptPdf")


def _page_texts(data: bytes, pages: list[Any]) -> list[str | None]:
    """Each page's text layer (None where OCR should read the page instead), through PDFium;
    through pdfplumber when PDFium cannot read the document."""
    try:
        layers = page_layers(data, MAX_PAGES)
    except PdfTextError as error:
        logger.info("reading the text layer with pdfplumber: %s", error)
        return [_plumber_page_text(page) for page in pages[:MAX_PAGES]]
    return [_usable(layer.text, layer.image_cover) for layer in layers]


def _usable(text: str, image_cover: float) -> str | None:
    scanned = image_cover > 0.5 and len(text.strip()) < SCAN_TEXT_CHARACTERS
    return text if text_is_usable(text) and not scanned else None


def _plumber_page_text(page: Any) -> str | None:
    text: str = page.extract_text() or ""
    cover = _image_cover(page)
    page.close()
    return _usable(text, cover)


def _image_cover(page: Any) -> float:
    """The largest share of the page one image covers."""
    area = float(page.width * page.height) or 1.0
    return max(
        (float(image["width"] * image["height"]) / area for image in page.images), default=0.0
    )


def _ocr_pdf(data: bytes, pages: list[int]) -> list[PageText]:
    if not pages:
        return []
    with tempfile.TemporaryDirectory(prefix="baton-extract-") as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(data)
        return ocr_pdf_pages(path, pages)


def _extract_image(data: bytes) -> ExtractedInvoice:
    with tempfile.TemporaryDirectory(prefix="baton-extract-") as folder:
        path = Path(folder) / "image"
        try:
            _write_upright(data, path)
        except Image.DecompressionBombError as error:
            raise _refusal(
                f"the image has more than {MAX_IMAGE_PIXELS} pixels", "ImageTooLarge"
            ) from error
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise _refusal(
                f"the image is damaged or not a PNG or JPEG ({type(error).__name__})",
                "CorruptImage",
            ) from error
        page = ocr_image(path)
    return _fields([page.text], "ocr", 1, [page.error] if page.error else [])


def _write_upright(data: bytes, path: Path) -> None:
    """The image as tesseract should read it: refused if huge, turned as its EXIF says."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise _refusal(
                f"the image is {width} x {height} pixels, more than {MAX_IMAGE_PIXELS} in all",
                "ImageTooLarge",
            )
        if image.getexif().get(_EXIF_ORIENTATION, 1) == 1:
            path.write_bytes(data)
            return
        upright = ImageOps.exif_transpose(image)
        upright.save(path, "PNG")


def _fields(
    pages: list[str], method: ExtractionMethod, page_count: int, warnings: list[str]
) -> ExtractedInvoice:
    extracted = fields_from_text("\n".join(pages))
    extracted.method = method
    extracted.pages = page_count
    extracted.warnings[:0] = warnings
    return extracted


def _refusal(message: str, reason: str) -> ApplicationError:
    return ApplicationError(message, type=reason, non_retryable=True)
