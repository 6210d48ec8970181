"""OCR of image-only pages: pdftoppm renders each page, one single-threaded tesseract reads it,
and pages run in parallel up to the number of CPUs this process may use."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytesseract

logger = logging.getLogger(__name__)

OCR_LANGUAGES = "eng+deu+fra"
RENDER_DPI = 200
PAGE_SECONDS = 90
"""How long one page may take to render or to read before it is given up."""


@dataclass(frozen=True)
class PageText:
    """What OCR read on one page (1-based), or why it could not."""

    page: int
    text: str
    error: str | None = None


def ocr_workers(pages: int) -> int:
    """How many pages to read at once: one tesseract per CPU this process may run on."""
    return max(1, min(pages, len(os.sched_getaffinity(0))))


def ocr_pdf_pages(pdf_path: Path, pages: Sequence[int]) -> list[PageText]:
    """The OCR text of the given 1-based pages of a PDF file, in the order asked."""
    if not pages:
        return []
    single_threaded_tesseract()
    with (
        tempfile.TemporaryDirectory(prefix="baton-ocr-") as folder,
        ThreadPoolExecutor(ocr_workers(len(pages)), thread_name_prefix="ocr") as pool,
    ):
        return list(pool.map(lambda page: _read_pdf_page(pdf_path, page, Path(folder)), pages))


def ocr_image(image_path: Path) -> PageText:
    """The OCR text of one image file (PNG, JPEG, PGM...)."""
    single_threaded_tesseract()
    return _read_image(image_path, page=1)


def render_page(pdf_path: Path, page: int, folder: Path) -> Path:
    """One page of the PDF as a grayscale PGM image at RENDER_DPI; CalledProcessError if not."""
    stem = folder / f"page-{page}"
    subprocess.run(
        [
            "pdftoppm",
            *("-r", str(RENDER_DPI), "-gray", "-singlefile"),
            *("-f", str(page), "-l", str(page)),
            str(pdf_path),
            str(stem),
        ],
        check=True,
        capture_output=True,
        timeout=PAGE_SECONDS,
    )
    return stem.with_suffix(".pgm")


def read_text(image_path: Path) -> str:
    """Tesseract's text of one image in OCR_LANGUAGES (TesseractError or RuntimeError if not)."""
    text: str = pytesseract.image_to_string(
        str(image_path), lang=OCR_LANGUAGES, timeout=PAGE_SECONDS
    )
    return text


def single_threaded_tesseract() -> None:
    """Keep each tesseract on one thread: pages run in parallel, and OpenMP on top is slower."""
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _read_pdf_page(pdf_path: Path, page: int, folder: Path) -> PageText:
    try:
        image = render_page(pdf_path, page, folder)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        logger.warning("page %s could not be rendered: %s", page, error)
        return PageText(page, "", f"page {page} could not be rendered for OCR")
    try:
        return _read_image(image, page)
    finally:
        image.unlink(missing_ok=True)


def _read_image(image_path: Path, page: int) -> PageText:
    try:
        return PageText(page, read_text(image_path))
    except (pytesseract.TesseractError, RuntimeError) as error:
        logger.warning("OCR failed on page %s: %s", page, error)
        return PageText(page, "", f"OCR could not read page {page}: {error}")
