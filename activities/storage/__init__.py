"""Baton's object storage: documents by key in a local folder or an S3-compatible bucket."""

from __future__ import annotations

from activities.storage.contract import (
    ExpiredDownloadToken,
    InvalidDownloadToken,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    UnsafeKey,
)
from activities.storage.keys import content_disposition, safe_filename, storage_key, validate_key
from activities.storage.local import LocalObjectStore
from activities.storage.s3 import S3ObjectStore
from config.settings import Settings

__all__ = [
    "ExpiredDownloadToken",
    "InvalidDownloadToken",
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "UnsafeKey",
    "build_object_store",
    "content_disposition",
    "safe_filename",
    "storage_key",
    "validate_key",
]


def build_object_store(settings: Settings) -> ObjectStore:
    """The object store the settings choose (`storage.backend`)."""
    storage = settings.storage
    if storage.backend == "s3":
        secret = storage.s3_secret_access_key
        return S3ObjectStore(
            storage.s3_bucket,
            endpoint_url=storage.s3_endpoint_url,
            region=storage.s3_region,
            access_key_id=storage.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            link_ttl_seconds=storage.link_ttl_seconds,
            public_endpoint_url=storage.s3_public_endpoint_url,
        )
    return LocalObjectStore(
        storage.local_root,
        public_url=settings.api.public_url,
        secret_key=settings.secret_key(),
        link_ttl_seconds=storage.link_ttl_seconds,
    )
