"""Sample invoice PDFs with a text layer, to try the AP process with the demo data.

`python -m starter.sample_invoices [FOLDER]` writes a few invoices from the demo suppliers to the
folder (default `data/samples`): one that matches its purchase order and is approved on its own,
one whose prices differ from the order, and one above the approval threshold.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")


def assemble_pdf(objects: list[bytes]) -> bytes:
    """A PDF file of the given objects (numbered from 1, the first is the catalog)."""
    body = b"%PDF-1.4\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref_at = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return body


def _escape(line: str) -> bytes:
    text = line.encode("latin-1", errors="replace")
    return text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds the lines (Helvetica, 10 pt)."""
    commands = (
        b"BT /F1 10 Tf 56 780 Td 13 TL "
        + b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines)
        + b" ET"
    )
    return assemble_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(commands) + commands + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        ]
    )


@dataclass(frozen=True)
class SampleLine:
    """One line of a sample invoice."""

    description: str
    quantity: Decimal
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        """Quantity times unit price, to the cent."""
        return (self.quantity * self.unit_price).quantize(CENT)


@dataclass(frozen=True)
class SampleInvoice:
    """An invoice as a supplier would print it."""

    number: str
    supplier: str
    supplier_address: str
    supplier_vat_id: str
    buyer: str
    po_number: str | None
    lines: list[SampleLine]
    issued: date = field(default_factory=date.today)
    tax_rate: Decimal = Decimal(19)
    currency: str = "EUR"

    @property
    def subtotal(self) -> Decimal:
        """The sum of the lines."""
        return sum((line.total for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        """VAT on the subtotal, to the cent."""
        return (self.subtotal * self.tax_rate / 100).quantize(CENT)

    @property
    def total(self) -> Decimal:
        """Subtotal plus VAT."""
        return self.subtotal + self.tax

    def text_lines(self) -> list[str]:
        """The printed page, line by line."""
        money = self.currency
        out = [
            self.supplier,
            self.supplier_address,
            f"VAT ID: {self.supplier_vat_id}",
            "",
            "Bill to:",
            self.buyer,
            "",
            "INVOICE",
            f"Invoice Number: {self.number}",
            f"Invoice Date: {self.issued.isoformat()}",
            f"Due Date: {(self.issued + timedelta(days=30)).isoformat()}",
        ]
        if self.po_number:
            out.append(f"PO Number: {self.po_number}")
        out += ["", "Description    Quantity    Unit price    Amount"]
        out += [
            f"{line.description}    {line.quantity}    {line.unit_price:.2f}    {line.total:.2f}"
            for line in self.lines
        ]
        out += [
            "",
            f"Subtotal    {self.subtotal:.2f} {money}",
            f"VAT {self.tax_rate}%    {self.tax:.2f} {money}",
            f"Total    {self.total:.2f} {money}",
        ]
        return out

    def pdf(self) -> bytes:
        """The invoice as a one-page text PDF."""
        return text_pdf(self.text_lines())


DEMO_SUPPLIER = "Lieferant GmbH"
DEMO_SUPPLIER_ADDRESS = "Lieferantenstrasse 20, 80333 Muenchen, Germany"
DEMO_SUPPLIER_VAT_ID = "DE123456789"
DEMO_BUYER = "Acme"


def sample_invoice(
    number: str,
    po_number: str | None,
    lines: list[SampleLine],
    *,
    issued: date | None = None,
) -> SampleInvoice:
    """A demo supplier's invoice to acme."""
    return SampleInvoice(
        number=number,
        supplier=DEMO_SUPPLIER,
        supplier_address=DEMO_SUPPLIER_ADDRESS,
        supplier_vat_id=DEMO_SUPPLIER_VAT_ID,
        buyer=DEMO_BUYER,
        po_number=po_number,
        lines=lines,
        issued=issued or date.today(),
    )


CHAIRS = SampleLine("Office chair ErgoPlus", Decimal(2), Decimal("189.00"))
LAMPS = SampleLine("Desk lamp LED", Decimal(4), Decimal("24.50"))
DESKS = SampleLine("Standing desk Pro", Decimal(10), Decimal("640.00"))


def demo_samples(suffix: str = "") -> dict[str, SampleInvoice]:
    """Invoices against the demo purchase orders PO-1001 and PO-1002 of acme."""
    dearer_lamps = SampleLine(LAMPS.description, LAMPS.quantity, Decimal("27.90"))
    return {
        "matched-under-threshold": sample_invoice(f"LG-1001{suffix}", "PO-1001", [CHAIRS, LAMPS]),
        "price-differs-from-po": sample_invoice(
            f"LG-1002{suffix}", "PO-1001", [CHAIRS, dearer_lamps]
        ),
        "above-threshold": sample_invoice(f"LG-1003{suffix}", "PO-1002", [DESKS]),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the sample invoices to a folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="data/samples", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.folder.mkdir(parents=True, exist_ok=True)
    for name, invoice in demo_samples().items():
        path = args.folder / f"{name}.pdf"
        path.write_bytes(invoice.pdf())
        sys.stdout.write(f"{path}: invoice {invoice.number}, total {invoice.total} EUR\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
