"""Reading an invoice upload: one multipart body whose every file part is capped as it arrives.

The body holds `invoice` (required), `po` and `grn` (optional) files and an optional
`transaction_id` field. Each file is judged by its content (PDF, PNG or JPEG), never by its
name; a part over the limit stops the read at once (413) and nothing is stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, status
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from activities.file_types import JPEG, PDF, PNG, FileKind, sniff

INVOICE_PART = "invoice"
PO_PART = "po"
GRN_PART = "grn"
FILE_PARTS = (INVOICE_PART, PO_PART, GRN_PART)
TRANSACTION_FIELD = "transaction_id"
ALLOWED_KINDS = (PDF, PNG, JPEG)
MULTIPART_OVERHEAD = 16 * 1024
"""Bytes the body may carry besides the files (boundaries, part headers, the one field)."""
FIELD_BYTES = 256

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [INVOICE_PART],
                    "properties": {
                        INVOICE_PART: {"type": "string", "format": "binary"},
                        PO_PART: {"type": "string", "format": "binary"},
                        GRN_PART: {"type": "string", "format": "binary"},
                        TRANSACTION_FIELD: {
                            "type": "string",
                            "format": "uuid",
                            "description": "your key for this invoice; a new one when left out",
                        },
                    },
                }
            }
        },
    }
}


@dataclass(frozen=True)
class InvoiceFile:
    """One file of the upload that passed its checks."""

    part: str
    data: bytes
    kind: FileKind

    @property
    def name(self) -> str:
        """The name it is stored under in the working folder: `invoice.pdf`, `po.jpg`, ..."""
        return f"{self.part}.{self.kind.extensions[0]}"


@dataclass(frozen=True)
class InvoiceUpload:
    """The checked upload: the files by part name, and the transaction id if one was sent."""

    files: dict[str, InvoiceFile]
    transaction_id: str | None


class _TooLarge(Exception):
    """The body, or the named file part, went past its cap."""

    def __init__(self, part: str | None = None) -> None:
        super().__init__(part)
        self.part = part


async def _capped(request: Request, cap: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > cap:
            raise _TooLarge
        yield chunk


class _CappedParts(MultiPartParser):
    """Starlette's multipart parser with a cap on each file part, checked as its bytes arrive."""

    def __init__(self, request: Request, limit: int) -> None:
        cap = len(FILE_PARTS) * limit + MULTIPART_OVERHEAD
        super().__init__(
            request.headers,
            _capped(request, cap),
            max_files=len(FILE_PARTS),
            max_fields=1,
            max_part_size=FIELD_BYTES,
        )
        self.limit = limit
        self._part_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._part_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._part_bytes += end - start
        part = self._current_part
        if part.file is not None and self._part_bytes > self.limit:
            raise _TooLarge(part.field_name)
        super().on_part_data(data, start, end)


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _too_large(limit: int, part: str | None) -> HTTPException:
    what = f"The {part!r} file" if part else "The upload"
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"{what} is larger than {limit} bytes per file; nothing was stored",
    )


async def _parse(request: Request, limit: int) -> FormData:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"Send the files as multipart/form-data, the invoice in a part named {INVOICE_PART!r}",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > len(FILE_PARTS) * limit + MULTIPART_OVERHEAD:
        raise _too_large(limit, None)
    try:
        return await _CappedParts(request, limit).parse()
    except _TooLarge as error:
        raise _too_large(limit, error.part) from error
    except MultiPartException as error:
        raise _unprocessable(error.message) from error


def _transaction_id(form: FormData) -> str | None:
    value = form.get(TRANSACTION_FIELD)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _unprocessable(f"{TRANSACTION_FIELD!r} is a form field, not a file")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError as error:
        raise _unprocessable(f"{TRANSACTION_FIELD!r} must be a UUID") from error


async def _checked(part: str, upload: UploadFile) -> InvoiceFile:
    data = await upload.read()
    if not data:
        raise _unprocessable(f"The {part!r} file is empty")
    kind = await asyncio.to_thread(sniff, data)
    if kind not in ALLOWED_KINDS:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"The {part!r} file is not a PDF, PNG or JPEG (judged by its content)",
        )
    return InvoiceFile(part=part, data=data, kind=kind)


async def receive_invoice(request: Request, limit: int) -> InvoiceUpload:
    """The upload's files and transaction id once every part passed its checks."""
    form = await _parse(request, limit)
    try:
        unknown = sorted(set(form.keys()) - {*FILE_PARTS, TRANSACTION_FIELD})
        if unknown:
            raise _unprocessable(f"Unknown parts: {', '.join(unknown)}")
        files: dict[str, InvoiceFile] = {}
        for part in FILE_PARTS:
            values = form.getlist(part)
            if not values:
                continue
            if len(values) > 1:
                raise _unprocessable(f"Send one {part!r} file, not {len(values)}")
            value = values[0]
            if not isinstance(value, UploadFile):
                raise _unprocessable(f"Send {part!r} as a file")
            files[part] = await _checked(part, value)
        if INVOICE_PART not in files:
            raise _unprocessable(f"Send the invoice as a file in a part named {INVOICE_PART!r}")
        return InvoiceUpload(files=files, transaction_id=_transaction_id(form))
    finally:
        await form.close()
