"""The invoice extraction benchmark: accuracy on the invoice corpus, and speed of each path.

Run `python -m bench.extraction [--corpus ../shared/invoice-corpus] [--ocr-pages 8]`. It prints
per-field accuracy per corpus folder (and on rasterised copies read by OCR), line-item recall,
ms per page on the text path next to pdfplumber's `extract_text()` alone, ms per page on the OCR
path next to plain single-threaded tesseract on the same images, and the sandbox's overhead.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain, zip_longest
from pathlib import Path

import pdfplumber
from PIL import Image
from temporalio.exceptions import ApplicationError

from activities.extraction.ocr import RENDER_DPI, read_text, single_threaded_tesseract
from activities.extraction.pipeline import extract_document
from activities.extraction.sandbox import ExtractionLimits, extract_in_sandbox, start_sandbox
from bench.corpus_scoring import (
    CorpusDocument,
    fields_as_corpus_dict,
    line_items_found,
    load_corpus,
    score_fields,
)
from bench.floor import percentile
from models.invoices import HEADER_FIELDS, ExtractedInvoice

log = logging.getLogger("bench.extraction")

FOLDERS = ("invoice2data", "zugferd", "zugferd-text")
TEXT_PATH_FOLDERS = ("invoice2data", "zugferd-text")
OCR_COLUMN = "ocr (rasterised)"
DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "invoice-corpus"
SANDBOX_RUNS = 20


@dataclass
class Accuracy:
    """Right and scored counts per field, and the line items found of those scored."""

    right: Counter[str] = field(default_factory=Counter)
    scored: Counter[str] = field(default_factory=Counter)
    items_found: int = 0
    items_scored: int = 0

    def add(self, document: CorpusDocument, extracted: ExtractedInvoice | None) -> None:
        """Score one document's extraction (None: it failed, so every field is wrong)."""
        got = fields_as_corpus_dict(extracted) if extracted else {"line_items": []}
        for name, right in score_fields(document.expected, document.visible, got).items():
            self.scored[name] += 1
            self.right[name] += right
        found, scored = line_items_found(document.line_items, got["line_items"])
        self.items_found += found
        self.items_scored += scored

    def cell(self, name: str | None = None) -> str:
        """`right/scored` of one field, or of all fields with the percentage."""
        if name is not None:
            return f"{self.right[name]}/{self.scored[name]}" if self.scored[name] else "-"
        return _share(sum(self.right.values()), sum(self.scored.values()))

    def items_cell(self) -> str:
        """`found/scored` line items with the percentage."""
        return _share(self.items_found, self.items_scored)


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} {100 * part / whole:.1f}%" if whole else "-"


@dataclass
class Timings:
    """Milliseconds per page: over all pages, and one sample per document (time over pages)."""

    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0
    pages: int = 0

    def add(self, seconds: float, pages: int) -> None:
        """Record one document."""
        self.samples.append(1000 * seconds / max(pages, 1))
        self.seconds += seconds
        self.pages += pages

    def merged(self, other: Timings) -> Timings:
        """Both sets of documents as one."""
        return Timings(
            self.samples + other.samples, self.seconds + other.seconds, self.pages + other.pages
        )

    def row(self, label: str) -> str:
        """The label with the mean over all pages, and p95 and max over the documents."""
        if not self.samples:
            return f"  {label:<50} {'-':>8}"
        mean = 1000 * self.seconds / max(self.pages, 1)
        p95, top = percentile(self.samples, 95), max(self.samples)
        return f"  {label:<50} {mean:8.1f} {p95:8.1f} {top:8.1f}"


def extract_and_score(documents: Sequence[CorpusDocument], accuracy: Accuracy) -> Timings:
    """Extract each document in this process, score it, and time it per page."""
    timings = Timings()
    for document in documents:
        data = document.pdf.read_bytes()
        started = time.perf_counter()
        try:
            extracted: ExtractedInvoice | None = extract_document(data)
        except ApplicationError as error:
            log.warning("%s could not be read: %s", document.name, error)
            extracted = None
        elapsed = time.perf_counter() - started
        accuracy.add(document, extracted)
        if extracted is not None:
            timings.add(elapsed, extracted.pages)
    return timings


def pdfplumber_alone(documents: Sequence[CorpusDocument]) -> Timings:
    """The text baseline: pdfplumber opening each document and `extract_text()` of its pages."""
    timings = Timings()
    for document in documents:
        started = time.perf_counter()
        with pdfplumber.open(document.pdf) as pdf:
            for page in pdf.pages:
                page.extract_text()
            pages = len(pdf.pages)
        timings.add(time.perf_counter() - started, pages)
    return timings


@dataclass(frozen=True)
class Rasterised:
    """An image-only copy of a corpus document: its page images and the PDF wrapping them."""

    document: CorpusDocument
    pdf: Path
    images: list[Path]


def rasterise(document: CorpusDocument, folder: Path) -> Rasterised:
    """Pages rendered by `pdftoppm -r 200 -png`, wrapped by Pillow into an image-only PDF."""
    prefix = folder / document.name
    subprocess.run(
        ["pdftoppm", "-r", str(RENDER_DPI), "-png", str(document.pdf), str(prefix)],
        check=True,
        capture_output=True,
    )
    images = sorted(
        folder.glob(f"{document.name}-*.png"), key=lambda path: int(path.stem.rsplit("-", 1)[1])
    )
    opened = [Image.open(path) for path in images]
    pdf = folder / f"{document.name}.scan.pdf"
    opened[0].save(pdf, "PDF", save_all=True, append_images=opened[1:], resolution=RENDER_DPI)
    for image in opened:
        image.close()
    return Rasterised(document, pdf, images)


def scanned_sample(
    folders: dict[str, list[CorpusDocument]], max_pages: int
) -> list[CorpusDocument]:
    """Whole documents taken in turn from the text-path folders, up to `max_pages` in all."""
    chosen: list[CorpusDocument] = []
    pages = 0
    lists = [folders[name] for name in TEXT_PATH_FOLDERS]
    for document in chain.from_iterable(zip_longest(*lists)):
        if document is None:
            continue
        with pdfplumber.open(document.pdf) as pdf:
            count = len(pdf.pages)
        if pages + count <= max_pages:
            chosen.append(document)
            pages += count
    return chosen


def measure_ocr(documents: Sequence[CorpusDocument], accuracy: Accuracy) -> tuple[Timings, Timings]:
    """OCR path on rasterised copies, and plain single-threaded tesseract on the same images."""
    pipeline, plain = Timings(), Timings()
    single_threaded_tesseract()
    with tempfile.TemporaryDirectory(prefix="bench-extraction-") as folder:
        copies = [rasterise(document, Path(folder)) for document in documents]
        pipeline = extract_and_score([replace(c.document, pdf=c.pdf) for c in copies], accuracy)
        for copy in copies:
            for image in copy.images:
                plain.add(timed(partial(read_text, image)), 1)
    return pipeline, plain


def timed(work: Callable[[], object]) -> float:
    """Seconds one call of `work` took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def sandbox_overhead(document: CorpusDocument) -> list[str]:
    """Zygote start, and one sandboxed extraction against the same in this process."""
    data = document.pdf.read_bytes()
    limits = ExtractionLimits()
    start = timed(start_sandbox)
    inline: list[float] = []
    boxed: list[float] = []
    for _ in range(SANDBOX_RUNS):  # alternating, so that other load on the machine hits both
        inline.append(timed(lambda: extract_document(data)))
        boxed.append(timed(lambda: extract_in_sandbox(data, "invoice", limits)))
    inline_ms, boxed_ms = 1000 * percentile(inline, 50), 1000 * percentile(boxed, 50)
    return [
        f"sandbox ({document.name}, {SANDBOX_RUNS} runs, p50)",
        f"  zygote start (once per worker)       {1000 * start:8.1f} ms",
        f"  in this process                      {inline_ms:8.1f} ms",
        f"  in the sandbox                       {boxed_ms:8.1f} ms",
        f"  overhead per extraction              {boxed_ms - inline_ms:8.1f} ms",
    ]


def accuracy_table(columns: dict[str, Accuracy]) -> list[str]:
    """Per-field right/scored per column, all fields, and line items found."""
    names = list(columns)
    width = 17
    lines = ["field accuracy (right/scored)".ljust(24) + "".join(f"{n:>{width}}" for n in names)]
    for name in HEADER_FIELDS:
        cells = "".join(f"{columns[column].cell(name):>{width}}" for column in names)
        lines.append(f"  {name:<22}{cells}")
    lines.append(f"  {'all fields':<22}" + "".join(f"{columns[n].cell():>{width}}" for n in names))
    lines.append(
        f"  {'line items found':<22}"
        + "".join(f"{columns[n].items_cell():>{width}}" for n in names)
    )
    return lines


def _heading(title: str) -> str:
    return f"{title:<52} {'mean':>8} {'p95':>8} {'max':>8}"


def run(corpus: Path, ocr_pages: int) -> str:
    """Everything the benchmark measures, as the lines it prints."""
    load = os.getloadavg()[0]
    folders = {name: load_corpus(corpus / name) for name in FOLDERS}
    text_documents = [doc for name in TEXT_PATH_FOLDERS for doc in folders[name]]
    extract_document(text_documents[0].pdf.read_bytes())  # warm-up: lazy imports and caches
    columns = {name: Accuracy() for name in FOLDERS}
    timings = {name: extract_and_score(folders[name], columns[name]) for name in FOLDERS}
    text_path = timings[TEXT_PATH_FOLDERS[0]].merged(timings[TEXT_PATH_FOLDERS[1]])
    baseline = pdfplumber_alone(text_documents)
    columns[OCR_COLUMN] = Accuracy()
    scans = scanned_sample(folders, ocr_pages)
    log.info("OCR path: %s documents rasterised at %s dpi", len(scans), RENDER_DPI)
    ocr, plain = measure_ocr(scans, columns[OCR_COLUMN])
    sandbox = sandbox_overhead(min(text_documents, key=lambda doc: doc.pdf.stat().st_size))
    return "\n".join(
        [
            f"invoice extraction on {corpus.resolve()}",
            f"{os.cpu_count()} cores; load average {load:.2f} at the start, "
            f"{os.getloadavg()[0]:.2f} at the end",
            *accuracy_table(columns),
            "",
            _heading("ms per page: mean of all pages; p95, max of documents"),
            text_path.row(f"text path, extract_document ({text_path.pages} pages)"),
            baseline.row("pdfplumber extract_text() alone, same pages"),
            timings["zugferd"].row(f"embedded XML path ({timings['zugferd'].pages} pages)"),
            "",
            _heading(f"OCR, ms per page on {os.cpu_count()} cores"),
            ocr.row(f"OCR path, extract_document ({ocr.pages} pages)"),
            plain.row("plain tesseract, one thread, same images"),
            "",
            *sandbox,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--ocr-pages", type=int, default=8, help="pages rasterised for OCR")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    if not (options.corpus / "zugferd").is_dir():
        log.error("no invoice corpus at %s (use --corpus)", options.corpus)
        return 2
    sys.stdout.write(run(options.corpus, options.ocr_pages) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
