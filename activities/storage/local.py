"""Objects as files under one folder, written atomically, with links the API serves."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from activities.storage.contract import ObjectNotFound, StorageUnavailable, UnsafeKey
from activities.storage.keys import validate_key
from activities.storage.links import read_download_token, sign_download_token

logger = logging.getLogger(__name__)

_PARTIAL_PREFIX = ".partial-"
T = TypeVar("T")


def _write_atomically(path: Path, key: str, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=_PARTIAL_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
        raise ObjectNotFound(key) from error


def _size(path: Path, key: str) -> int:
    if not path.is_file():
        raise ObjectNotFound(key)
    return path.stat().st_size


def _is_object(path: Path, key: str) -> bool:
    return path.is_file()


def _remove(path: Path, key: str) -> None:
    if path.is_file():
        path.unlink(missing_ok=True)


def _probe(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    descriptor, probe = tempfile.mkstemp(dir=root, prefix=_PARTIAL_PREFIX)
    os.close(descriptor)
    Path(probe).unlink()


class LocalObjectStore:
    """Objects as files under `root`; download links point at the API's `/files/{token}`."""

    def __init__(
        self,
        root: Path,
        *,
        public_url: str,
        secret_key: str,
        link_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._root = Path(root).resolve()
        self._public_url = public_url.rstrip("/")
        self._secret_key = secret_key
        self._link_ttl_seconds = link_ttl_seconds
        self._clock = clock

    @property
    def root(self) -> Path:
        """The folder that holds the objects."""
        return self._root

    def path_of(self, key: str) -> Path:
        """The file that holds the key's object; `UnsafeKey` if it would lie outside the root."""
        path = self._root.joinpath(*validate_key(key).split("/"))
        if not path.resolve().is_relative_to(self._root):
            raise UnsafeKey(f"object key leads outside the storage folder: {key!r}")
        return path

    async def _on_file(self, operation: Callable[[Path, str], T], key: str) -> T:
        validate_key(key)
        return await asyncio.to_thread(lambda: operation(self.path_of(key), key))

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Store the bytes under the key (a temporary file renamed into place)."""
        await self._on_file(partial(_write_atomically, data=data), key)
        logger.debug("stored %s (%d bytes, %s)", key, len(data), content_type)

    async def get(self, key: str) -> bytes:
        """The bytes stored under the key; `ObjectNotFound` if there are none."""
        return await self._on_file(_read, key)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under the key."""
        return await self._on_file(_is_object, key)

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        await self._on_file(_remove, key)

    async def size(self, key: str) -> int:
        """The object's size in bytes; `ObjectNotFound` if there is none."""
        return await self._on_file(_size, key)

    async def download_url(self, key: str, filename: str | None = None) -> str:
        """A link to the API's `/files/{token}` route, valid for the configured lifetime."""
        expires_at = math.ceil(self._clock()) + self._link_ttl_seconds
        token = sign_download_token(self._secret_key, validate_key(key), expires_at, filename)
        return f"{self._public_url}/files/{token}"

    def verify_download_token(self, token: str) -> tuple[str, str | None]:
        """The key and file name a link grants; `InvalidDownloadToken` if the token is not valid."""
        return read_download_token(self._secret_key, token, self._clock())

    async def check(self) -> None:
        """Raise `StorageUnavailable` unless a file can be written in the storage folder."""
        try:
            await asyncio.to_thread(_probe, self._root)
        except OSError as error:
            raise StorageUnavailable(
                f"storage folder {self._root} is not writable: {error.strerror or error}"
            ) from error
