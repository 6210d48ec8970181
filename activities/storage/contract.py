"""What every object store promises, and the errors it raises."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """Base class of Baton's object storage errors."""


class ObjectNotFound(StorageError, LookupError):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object is stored under {key!r}")
        self.key = key


class UnsafeKey(StorageError, ValueError):
    """The key or key part could escape its folder or is not a plain name."""


class StorageUnavailable(StorageError):
    """The store cannot be used right now (missing bucket, unwritable folder, no connection)."""


class InvalidDownloadToken(StorageError):
    """A download token is malformed, forged or refers to an unsafe key."""


class ExpiredDownloadToken(InvalidDownloadToken):
    """A genuine download token whose lifetime is over."""


@runtime_checkable
class ObjectStore(Protocol):
    """Documents by key: a local folder or an S3-compatible bucket behind one async interface."""

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Store the bytes under the key, replacing any previous object."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes stored under the key; `ObjectNotFound` if there are none."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under the key."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes; `ObjectNotFound` if there is none."""
        ...

    async def download_url(self, key: str, filename: str | None = None) -> str:
        """A short-lived link that downloads the object, saved as `filename` if given."""
        ...

    async def check(self) -> None:
        """Raise `StorageUnavailable` unless objects can be stored and read right now."""
        ...
