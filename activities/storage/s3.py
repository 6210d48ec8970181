"""Objects in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, ...) through boto3."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from activities.storage.contract import ObjectNotFound, StorageUnavailable
from activities.storage.keys import content_disposition, validate_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3ObjectStore:
    """Objects in one bucket; download links are presigned GET URLs."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        link_ttl_seconds: int = 300,
        public_endpoint_url: str | None = None,
    ) -> None:
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._region = region
        self._link_ttl_seconds = link_ttl_seconds
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

        def client(endpoint: str | None) -> S3Client:
            return boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=config,
            )

        self._client = client(endpoint_url)
        # Links are signed for the address people's browsers reach, which can differ from
        # the one the workers use inside a private network.
        self._link_signer = client(public_endpoint_url) if public_endpoint_url else self._client

    @property
    def bucket(self) -> str:
        """The bucket that holds the objects."""
        return self._bucket

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Store the bytes under the key, replacing any previous object."""
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
        )
        logger.debug("stored s3://%s/%s (%d bytes, %s)", self._bucket, key, len(data), content_type)

    def _get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING_CODES:
                raise ObjectNotFound(key) from error
            raise
        with response["Body"] as body:
            return body.read()

    async def get(self, key: str) -> bytes:
        """The bytes stored under the key; `ObjectNotFound` if there are none."""
        return await asyncio.to_thread(self._get, validate_key(key))

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self._client.head_object(Bucket=self._bucket, Key=key))
        except ClientError as error:
            if _error_code(error) in _MISSING_CODES:
                return None
            raise

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under the key."""
        return await asyncio.to_thread(self._head, validate_key(key)) is not None

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        await asyncio.to_thread(
            self._client.delete_object, Bucket=self._bucket, Key=validate_key(key)
        )

    async def size(self, key: str) -> int:
        """The object's size in bytes; `ObjectNotFound` if there is none."""
        head = await asyncio.to_thread(self._head, validate_key(key))
        if head is None:
            raise ObjectNotFound(key)
        return int(head["ContentLength"])

    async def download_url(self, key: str, filename: str | None = None) -> str:
        """A presigned GET URL, valid for the configured lifetime."""
        params = {"Bucket": self._bucket, "Key": validate_key(key)}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url: str = await asyncio.to_thread(
            self._link_signer.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=self._link_ttl_seconds,
        )
        return url

    async def check(self) -> None:
        """Raise `StorageUnavailable` unless the bucket answers."""
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self._bucket)
        except (ClientError, BotoCoreError) as error:
            where = self._endpoint_url or f"AWS S3 ({self._region})"
            raise StorageUnavailable(
                f"bucket {self._bucket!r} at {where} is unusable: {error}"
            ) from error

    def _ensure_bucket(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return False
        except ClientError as error:
            if _error_code(error) not in _MISSING_CODES:
                raise
        try:
            if self._region == "us-east-1":
                self._client.create_bucket(Bucket=self._bucket)
            else:
                self._client.create_bucket(
                    Bucket=self._bucket,
                    CreateBucketConfiguration={"LocationConstraint": self._region},  # type: ignore[typeddict-item]
                )
        except ClientError as error:
            if _error_code(error) != "BucketAlreadyOwnedByYou":
                raise
        return True

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists already."""
        if await asyncio.to_thread(self._ensure_bucket):
            logger.info("created bucket %s", self._bucket)
