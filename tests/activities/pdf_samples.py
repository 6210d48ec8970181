"""Small PDFs built byte by byte for document tests (no tools, no network)."""

from __future__ import annotations

from starter.sample_invoices import assemble_pdf, text_pdf

__all__ = ["blank_pdf", "text_pdf"]


def blank_pdf() -> bytes:
    """A one-page PDF with no text layer (as a scan would be)."""
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
