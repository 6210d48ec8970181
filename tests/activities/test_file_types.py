"""File kinds come from the content, never from the name."""

from __future__ import annotations

import io
import zipfile

import pytest

from activities.file_types import DOCX, GIF, JPEG, PDF, PNG, TEXT, WEBP, XLSX, sniff, stored_name


def office(*parts: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in ("[Content_Types].xml", *parts):
            archive.writestr(part, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n...", PDF),
        (b"\x89PNG\r\n\x1a\n rest", PNG),
        (b"\xff\xd8\xff\xe0 rest", JPEG),
        (b"GIF89a rest", GIF),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", WEBP),
        (office("word/document.xml"), DOCX),
        (office("xl/workbook.xml"), XLSX),
        ("Grüße, invoice 42\r\n".encode(), TEXT),
    ],
)
def test_allowed_kinds_are_recognised(data: bytes, kind: object) -> None:
    assert sniff(data) == kind


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03 executable",
        b"PK\x03\x04 not really a zip",
        office("other.xml"),
        b"\x00\x01",
    ],
    ids=["exe", "broken-zip", "plain-zip", "binary"],
)
def test_other_content_is_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_the_stored_name_follows_the_content() -> None:
    assert stored_name("scan.pdf", PNG) == "scan.pdf.png"
    assert stored_name("Rechnung 7.PDF", PDF) == "Rechnung 7.PDF"
    assert stored_name(None, PDF) == "attachment.pdf"
