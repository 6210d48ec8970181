"""Documents built in the test for extraction: attachments, encryption, scans, hostile streams."""

from __future__ import annotations

import io
import zlib

from PIL import Image, ImageDraw, ImageFont

SCANNED_INVOICE_LINES = [
    "Nordwind Papier GmbH",
    "INVOICE",
    "Invoice number: NW-2026-118",
    "Invoice date: 2026-03-14",
    "Subtotal: 1,037.39 EUR",
    "VAT 19%: 197.11 EUR",
    "Total: 1,234.50 EUR",
]


UBL_INVOICE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>UBL-2026-7</cbc:ID>
  <cbc:IssueDate>2026-02-01</cbc:IssueDate>
  <cbc:DueDate>2026-03-03</cbc:DueDate>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:OrderReference><cbc:ID>PO-88</cbc:ID></cac:OrderReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyTaxScheme><cbc:CompanyID>DE999999999</cbc:CompanyID></cac:PartyTaxScheme>
    <cac:PartyLegalEntity>
      <cbc:RegistrationName>Seller SE</cbc:RegistrationName>
    </cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyName><cbc:Name>Buyer BV</cbc:Name></cac:PartyName>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">19.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">119.00</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">119.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:InvoicedQuantity unitCode="C62">4</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Paper &amp; toner</cbc:Name>
      <cac:ClassifiedTaxCategory><cbc:Percent>19</cbc:Percent></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">25.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol2;</Invoice>"""


def assemble(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF of the numbered objects (1 is the catalog), with extra trailer entries."""
    body = b"%PDF-1.7\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref_at = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer,
        xref_at,
    )
    return body


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _page_objects(contents: bytes, names: bytes = b"") -> list[bytes]:
    """Catalog, pages, page, contents and font: objects 1 to 5."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R %s>>" % names,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        _stream(contents),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def _text_commands(lines: list[str]) -> bytes:
    shown = b" ".join(b"(" + line.encode("latin-1") + b") Tj T*" for line in lines)
    return b"BT /F1 12 Tf 72 720 Td 14 TL " + shown + b" ET"


def pdf_with_attachments(lines: list[str], files: dict[str, bytes]) -> bytes:
    """A one-page text PDF carrying the files in its EmbeddedFiles name tree (objects 6...)."""
    objects = _page_objects(_text_commands(lines), b"/Names << /EmbeddedFiles 6 0 R >> ")
    entries = [b"(%s) %d 0 R" % (name.encode("latin-1"), 7 + 2 * i) for i, name in enumerate(files)]
    objects.append(b"<< /Names [" + b" ".join(entries) + b"] >>")
    for name, data in files.items():
        packed = zlib.compress(data)
        objects.append(
            b"<< /Type /Filespec /F (%s) /EF << /F %d 0 R >> >>"
            % (name.encode("latin-1"), len(objects) + 2)
        )
        objects.append(_stream(packed, b"/Type /EmbeddedFile /Filter /FlateDecode "))
    return assemble(objects)


def encrypted_pdf() -> bytes:
    """A PDF encrypted with a user password (RC4, revision 2): it cannot be opened without it."""
    objects = _page_objects(_text_commands(["Invoice 1"]))
    objects.append(
        b"<< /Filter /Standard /V 1 /R 2 /P -4 /O <%s> /U <%s> >>" % (b"11" * 32, b"22" * 32)
    )
    return assemble(objects, b"/Encrypt 6 0 R /ID [<%s> <%s>] " % (b"ab" * 16, b"ab" * 16))


def bomb_pdf(megabytes: int) -> bytes:
    """A PDF whose page content inflates from a few hundred kB to `megabytes` MB of spaces."""
    packer = zlib.compressobj(1)
    chunk = b" " * 2**20
    packed = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    objects = _page_objects(b"")
    objects[3] = _stream(packed, b"/Filter /FlateDecode ")
    return assemble(objects)


def busy_pdf(operators: int) -> bytes:
    """A PDF whose one page shows `operators` one-letter texts: slow to read, not big."""
    objects = _page_objects(b"")
    shown = b"BT /F1 1 Tf 0 0 Td (x) Tj ET " * operators
    objects[3] = _stream(zlib.compress(shown), b"/Filter /FlateDecode ")
    return assemble(objects)


def scanned_invoice_png(lines: list[str] = SCANNED_INVOICE_LINES) -> bytes:
    """A grayscale page image of the lines, as a scanner at 150 dpi would give it."""
    image = Image.new("L", (1240, 900), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    for index, line in enumerate(lines):
        draw.text((90, 80 + 100 * index), line, fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def sideways_photo_jpeg() -> bytes:
    """The scan as a phone stores a sideways photo: turned, with EXIF saying how to show it."""
    turned = Image.open(io.BytesIO(scanned_invoice_png())).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
    buffer = io.BytesIO()
    turned.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def scanned_invoice_pdf(pages: int = 1) -> bytes:
    """The scanned page (repeated) as an image-only PDF: no text layer."""
    page = Image.open(io.BytesIO(scanned_invoice_png()))
    buffer = io.BytesIO()
    page.save(buffer, "PDF", resolution=150, save_all=True, append_images=[page] * (pages - 1))
    return buffer.getvalue()
