"""Hostile and broken invoice files for the AP invoice run, each built in the test in moments:
a scanned (image-only) copy of a demo invoice, an invoice padded with junk to a given size, and a
decompression bomb that inflates past the extraction's memory limit."""

from __future__ import annotations

import io
import subprocess
import tempfile
import zlib
from pathlib import Path

from PIL import Image

from activities.extraction.ocr import RENDER_DPI
from starter.sample_invoices import assemble_pdf

MEGABYTE = 2**20
_ADLER_MODULUS = 65521


def scanned_copy(pdf: bytes, dpi: int = RENDER_DPI) -> bytes:
    """The PDF's first page as a scanner would send it: `pdftoppm` renders it to a grayscale
    PNG and Pillow wraps the picture into a PDF without a text layer."""
    with tempfile.TemporaryDirectory(prefix="hostile-scan-") as folder:
        source, stem = Path(folder) / "invoice.pdf", Path(folder) / "page"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile", str(source), str(stem)],
            check=True,
            capture_output=True,
        )
        buffer = io.BytesIO()
        with Image.open(stem.with_suffix(".png")) as page:
            page.save(buffer, "PDF", resolution=dpi)
    return buffer.getvalue()


def padded(pdf: bytes, size: int) -> bytes:
    """The PDF followed by a comment of junk up to `size` bytes."""
    return pdf + b"%" + b"x" * (size - len(pdf) - 1)


def write_padded(path: Path, pdf: bytes, size: int) -> None:
    """Write the PDF followed by a comment of junk up to `size` bytes, a megabyte at a time (the
    whole file is never held in memory). Readers find the PDF; the file is `size` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    junk = b"x" * MEGABYTE
    with path.open("wb") as stream:
        stream.write(pdf + b"%")
        left = size - len(pdf) - 1
        while left > 0:
            stream.write(junk[: min(left, MEGABYTE)])
            left -= MEGABYTE


def inflating_pdf(megabytes: int) -> bytes:
    """A one-page PDF of about a thousandth of `megabytes` MB whose content stream inflates to
    `megabytes` MB of spaces: each megabyte is deflated once and the identical block repeated
    (a full flush resets the compressor), so building a gigabyte bomb takes milliseconds."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(b" " * MEGABYTE) + packer.flush(zlib.Z_FULL_FLUSH)
    inflated = megabytes * MEGABYTE
    packed = b"\x78\xda" + block * megabytes + packer.flush() + _adler32_of_spaces(inflated)
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + b"\nendstream",
        ]
    )


def _adler32_of_spaces(count: int) -> bytes:
    """zlib's checksum of `count` spaces, computed rather than run over a gigabyte."""
    space = ord(" ")
    low = (1 + count * space) % _ADLER_MODULUS
    high = (count + space * count * (count + 1) // 2) % _ADLER_MODULUS
    return ((high << 16) | low).to_bytes(4, "big")
