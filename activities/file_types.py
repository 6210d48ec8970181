"""What a file is, judged by its content (magic bytes), never by its name or declared type."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from activities.storage import safe_filename


@dataclass(frozen=True)
class FileKind:
    """An allowed type of file: its media type and the name extensions it goes by."""

    content_type: str
    extensions: tuple[str, ...]


PDF = FileKind("application/pdf", ("pdf",))
PNG = FileKind("image/png", ("png",))
JPEG = FileKind("image/jpeg", ("jpg", "jpeg"))
GIF = FileKind("image/gif", ("gif",))
WEBP = FileKind("image/webp", ("webp",))
TEXT = FileKind("text/plain", ("txt", "text", "csv", "log", "md"))
DOCX = FileKind(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ("docx",)
)
XLSX = FileKind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",))
_CONTROL_BYTES = bytes([*range(9), 11, *range(14, 32), 127])
"""Bytes plain text never holds (tab, line feed, form feed and carriage return are fine)."""


def sniff(data: bytes) -> FileKind | None:
    """The allowed kind the content shows by its first bytes (never by its name), if any."""
    head = data[:16]
    if data[:1024].lstrip()[:5] == b"%PDF-":
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"PK\x03\x04":
        return _office_document(data)
    return TEXT if _is_text(data) else None


def _office_document(data: bytes) -> FileKind | None:
    """DOCX or XLSX by the parts the zip lists (nothing is decompressed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return DOCX
    return XLSX if "xl/workbook.xml" in names else None


def _is_text(data: bytes) -> bool:
    if len(data.translate(None, _CONTROL_BYTES)) != len(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def stored_name(filename: str | None, kind: FileKind) -> str:
    """A safe name for the upload whose extension matches its content (added if it does not)."""
    name = safe_filename(filename or "", default="attachment")
    stem, dot, extension = name.rpartition(".")
    if dot and stem and extension.lower() in kind.extensions:
        return name
    return safe_filename(f"{name}.{kind.extensions[0]}")
