"""Downloads: short-lived links, issued only after an authorisation check."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from activities.storage import (
    ExpiredDownloadToken,
    InvalidDownloadToken,
    LocalObjectStore,
    UnsafeKey,
    content_disposition,
    validate_key,
)
from api.deps import Operator, SettingsDep, StoreDep

router = APIRouter(prefix="/files", tags=["files"])


class LinkRequest(BaseModel):
    """A stored object of the caller's org."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=1024)
    filename: str | None = Field(default=None, max_length=255)


class DownloadLink(BaseModel):
    """A link that downloads the object until it expires."""

    url: str
    expires_in: int


_NOT_FOUND = HTTPException(status.HTTP_404_NOT_FOUND, "No such file")


@router.post("/links", response_model=DownloadLink)
async def issue_link(
    body: LinkRequest, principal: Operator, store: StoreDep, settings: SettingsDep
) -> DownloadLink:
    """A short-lived download link for a file of the caller's org (404 for any other)."""
    try:
        key = validate_key(body.key)
    except UnsafeKey as error:
        raise _NOT_FOUND from error
    if not key.startswith(f"{principal.org_id}/") or not await store.exists(key):
        raise _NOT_FOUND
    url = await store.download_url(key, body.filename)
    return DownloadLink(url=url, expires_in=settings.storage.link_ttl_seconds)


@router.get("/{token}", response_class=FileResponse, include_in_schema=False)
async def download(token: str, store: StoreDep) -> FileResponse:
    """Serve a file of the local store to the holder of a valid, unexpired link."""
    if not isinstance(store, LocalObjectStore):
        raise _NOT_FOUND
    try:
        key, filename = store.verify_download_token(token)
    except ExpiredDownloadToken as error:
        raise HTTPException(status.HTTP_410_GONE, "This link has expired") from error
    except InvalidDownloadToken as error:
        raise _NOT_FOUND from error
    path = store.path_of(key)
    if not path.is_file():
        raise _NOT_FOUND
    name = filename or key.rsplit("/", 1)[-1]
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(
        path, media_type=media_type, headers={"Content-Disposition": content_disposition(name)}
    )
