"""Files attached to a run: upload one while the run is open, and get short-lived links to them.

Only people who may see the run (`open_run`) do either; anyone else, another org's people
included, gets the same 404 as for a run that does not exist. An upload is read with a cap,
judged by its content (magic bytes) rather than its name, stored under `<org>/<process>/<run>/`
first and then recorded by the run's `attach` Update; a refused Update removes the stored file.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from activities.file_types import FileKind, sniff, stored_name
from activities.storage import ObjectStore, StorageError, UnsafeKey, safe_filename, storage_key
from api.deps import AnyMember, SessionDep, SettingsDep, StoreDep, TemporalDep
from api.routes.files import DownloadLink
from api.routes.runs import REFUSALS
from api.run_access import OpenRun, closed, open_run, send_update
from models.approvals import AttachRequest, RunView

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/runs", tags=["runs"])

FILE_FIELD = "file"
MULTIPART_OVERHEAD = 16 * 1024
"""Bytes a one-file multipart body may carry besides the file (boundaries, part headers)."""
KEY_ATTEMPTS = 1000

UPLOAD_REFUSALS: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    413: {"description": "The file is larger than the configured limit; nothing was stored"},
    415: {"description": "Not multipart, or the content is not an allowed type of file"},
}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


_folder_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
"""One lock per run while a number is picked and its file stored (a double-click in this
process can never pick the same key twice); a lock lives while someone holds it."""


class _TooLarge(Exception):
    """The request body went past its cap."""


@dataclass(frozen=True)
class ReceivedFile:
    """An upload that passed its checks: the name to store it under, its bytes and its kind."""

    name: str
    data: bytes
    kind: FileKind


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE, f"The file is larger than {limit} bytes"
    )


def _unsupported(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail)


async def _capped(request: Request, cap: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > cap:
            raise _TooLarge
        yield chunk


async def _read_upload(request: Request, limit: int) -> UploadFile:
    """The one file part of a multipart body, read with a cap (nothing past it is read)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise _unsupported(f"Send the file as multipart/form-data, in a part named {FILE_FIELD!r}")
    cap = limit + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(limit)
    parser = MultiPartParser(request.headers, _capped(request, cap), max_files=1, max_fields=0)
    try:
        form = await parser.parse()
    except _TooLarge as error:
        raise _too_large(limit) from error
    except MultiPartException as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, error.message) from error
    upload = form.get(FILE_FIELD)
    if not isinstance(upload, UploadFile):
        await form.close()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"Send one file in a part named {FILE_FIELD!r}"
        )
    return upload


async def receive_file(request: Request, limit: int) -> ReceivedFile:
    """The uploaded file if it is within the limit, not empty and of an allowed kind."""
    upload = await _read_upload(request, limit)
    try:
        data = await upload.read(limit + 1)
    finally:
        await upload.close()
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "The file is empty")
    kind = await asyncio.to_thread(sniff, data)
    if kind is None:
        raise _unsupported(
            "Only PDF, PNG, JPEG, GIF, WEBP, plain text, DOCX and XLSX files can be attached"
        )
    return ReceivedFile(name=stored_name(upload.filename, kind), data=data, kind=kind)


async def _free_key(store: ObjectStore, run: OpenRun, name: str) -> str:
    """`<org>/<process>/<run>/<n>-<name>` with the next number no stored object uses yet."""
    first = len(run.view.attachments) + 1
    try:
        for number in range(first, first + KEY_ATTEMPTS):
            filename = safe_filename(f"{number}-{name}")
            key = storage_key(run.view.org, run.view.process, run.handle.id, filename)
            if not await store.exists(key):
                return key
    except UnsafeKey as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "This run cannot hold files"
        ) from error
    raise HTTPException(status.HTTP_409_CONFLICT, "This request's folder is full")


async def attach(store: ObjectStore, run: OpenRun, upload: ReceivedFile) -> RunView:
    """Store the file in the run's folder first, then record it; a refusal removes it again."""
    lock = _folder_locks.setdefault(run.handle.id, asyncio.Lock())
    try:
        async with lock:
            key = await _free_key(store, run, upload.name)
            await store.put(key, upload.data, upload.kind.content_type)
    except StorageError as error:
        logger.warning("could not store a file of run %s: %s", run.handle.id, error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Files cannot be stored right now; try again"
        ) from error
    request = AttachRequest(
        actor=run.actor,
        name=upload.name,
        key=key,
        size=len(upload.data),
        content_type=upload.kind.content_type,
    )
    try:
        return await send_update(run, "attach", request)
    except HTTPException as refused:
        if refused.status_code != status.HTTP_503_SERVICE_UNAVAILABLE:  # 503: the run may have it
            try:
                await store.delete(key)
            except StorageError as error:
                logger.warning("could not remove refused file %s: %s", key, error)
        raise


@router.post(
    "/{workflow_id}/attachments",
    response_model=RunView,
    status_code=status.HTTP_201_CREATED,
    responses=UPLOAD_REFUSALS,
    openapi_extra=UPLOAD_BODY,
)
async def upload_attachment(
    workflow_id: str,
    request: Request,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> RunView:
    """Attach one file (multipart, part `file`) to an open run you may see; its people are told.

    PDF, PNG, JPEG, GIF, WEBP, plain text, DOCX and XLSX, judged by content, up to the limit.
    """
    run = await open_run(client, session, principal, workflow_id)
    if run.view.outcome is not None:
        raise closed()
    upload = await receive_file(request, settings.storage.max_attachment_bytes)
    return await attach(store, run, upload)


@router.get(
    "/{workflow_id}/attachments/{n}/link",
    response_model=DownloadLink,
    responses={404: {"description": "No such run or file in your org, or not one of yours"}},
)
async def attachment_link(
    workflow_id: str,
    n: int,
    principal: AnyMember,
    client: TemporalDep,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> DownloadLink:
    """A short-lived link that downloads the run's n-th file (as listed in its view, from 1)."""
    run = await open_run(client, session, principal, workflow_id)
    if not 1 <= n <= len(run.view.attachments):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such file")
    attachment = run.view.attachments[n - 1]
    url = await store.download_url(attachment.key, attachment.name)
    return DownloadLink(url=url, expires_in=settings.storage.link_ttl_seconds)
