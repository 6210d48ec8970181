"""Secret references: where a secret lives, stored in settings and the database in its place.

A reference is one of

- ``env:NAME``: the environment variable ``NAME`` of the worker process;
- ``file:/absolute/path``: the file's contents with surrounding whitespace stripped (a
  Docker or Kubernetes secret mount);
- ``aws-sm:<secret id or ARN>[#key]``: an AWS Secrets Manager secret's value, or one key of
  it when the value is a JSON object. The region comes from the ARN, else from
  `SecretsSettings.aws_region`, else from boto3's own chain (``AWS_REGION``, profile).

`SecretsSettings.env_prefixes` and `file_roots` limit what references may name, for when
people who are not operators write them (an org's ERP settings): otherwise a reference could
name Baton's own secrets and send them to a server of that person's choosing.

`resolve_secret` reads the secret when it is needed and keeps nothing. Errors name the
reference, never the value, and an invalid reference is not echoed (it may be a pasted
secret). Models that hold a `SecretRef` should set ``hide_input_in_errors=True`` so pydantic
does not echo it either.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import AfterValidator, BaseModel, Field, SecretStr

MAX_REF_LENGTH = 2048
MAX_FILE_BYTES = 64 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AWS_ID = re.compile(r"[A-Za-z0-9/_+=.@:-]+")
_AWS_KEY = re.compile(r"[^\s#]+")
_ARN_REGION = re.compile(r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):")
_RETRYABLE_AWS_CODES = {
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}
_REF_SHAPES = "env:NAME, file:/absolute/path or aws-sm:<secret id or ARN>[#key]"

Scheme = Literal["env", "file", "aws-sm"]


class InvalidSecretRef(ValueError):
    """A string that is not a secret reference; the message never repeats the string."""


class SecretUnavailable(Exception):
    """A secret could not be read; says which reference and why, never the value."""

    def __init__(self, ref: str | None, reason: str, *, retryable: bool = False) -> None:
        named = f"secret {ref!r}" if ref is not None else "a secret"
        super().__init__(f"{named} is unavailable: {reason}")
        self.ref = ref
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class ParsedSecretRef:
    """The parts of a reference: its scheme, what it names, and a JSON key (aws-sm only)."""

    scheme: Scheme
    target: str
    key: str | None = None


def parse_secret_ref(ref: str) -> ParsedSecretRef:
    """The parts of a reference; `InvalidSecretRef` (without the input) if it is not one."""
    if not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH:
        raise InvalidSecretRef(f"not a secret reference: expected {_REF_SHAPES}")
    scheme, colon, rest = ref.partition(":")
    if colon and scheme == "env" and _ENV_NAME.fullmatch(rest):
        return ParsedSecretRef("env", rest)
    if colon and scheme == "file" and rest.startswith("/") and _is_plain_path(rest):
        return ParsedSecretRef("file", rest)
    if colon and scheme == "aws-sm":
        target, hash_, key = rest.partition("#")
        if _AWS_ID.fullmatch(target) and (not hash_ or _AWS_KEY.fullmatch(key)):
            return ParsedSecretRef("aws-sm", target, key if hash_ else None)
    raise InvalidSecretRef(f"not a secret reference: expected {_REF_SHAPES}")


def _is_plain_path(path: str) -> bool:
    return not any(char in "\x00\r\n" for char in path)


def _checked_ref(ref: str) -> str:
    parse_secret_ref(ref)
    return ref


SecretRef = Annotated[
    str,
    AfterValidator(_checked_ref),
    Field(max_length=MAX_REF_LENGTH, description=f"where the secret lives: {_REF_SHAPES}"),
]
"""A validated secret reference (``env:``, ``file:`` or ``aws-sm:``); never the secret."""


class SecretsSettings(BaseModel):
    """How `aws-sm:` references reach AWS Secrets Manager (the other schemes need nothing)."""

    aws_region: str | None = Field(default=None, description="None: boto3's region chain")
    aws_endpoint_url: str | None = Field(default=None, description="e.g. a VPC endpoint")
    aws_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    aws_max_attempts: int = Field(
        default=3, ge=1, le=10, description="tries per read, boto3 retrying"
    )
    env_prefixes: tuple[str, ...] | None = Field(
        default=None, description="env: names must start with one of these; None: any name"
    )
    file_roots: tuple[Path, ...] | None = Field(
        default=None, description="file: paths must lie under one of these; None: any path"
    )


class _SecretsManager(Protocol):
    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...


class SecretResolver:
    """Reads the secret a reference names; keeps boto3 clients, never secret values."""

    def __init__(self, settings: SecretsSettings | None = None) -> None:
        self._settings = settings or SecretsSettings()
        self._clients: dict[str | None, _SecretsManager] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: str) -> SecretStr:
        """The secret a reference names; `SecretUnavailable` if it cannot be read."""
        try:
            parsed = parse_secret_ref(ref)
        except InvalidSecretRef as error:
            raise SecretUnavailable(None, str(error)) from None
        if parsed.scheme == "env":
            value = self._from_env(ref, parsed.target)
        elif parsed.scheme == "file":
            value = self._from_file(ref, Path(parsed.target))
        else:
            value = self._from_aws(ref, parsed)
        if not value:
            raise SecretUnavailable(ref, "the secret is empty")
        return SecretStr(value)

    async def resolve_async(self, ref: str) -> SecretStr:
        """`resolve` on a worker thread, for async code (files and AWS calls block)."""
        return await asyncio.to_thread(self.resolve, ref)

    def _from_env(self, ref: str, name: str) -> str:
        prefixes = self._settings.env_prefixes
        if prefixes is not None and not name.startswith(prefixes):
            raise SecretUnavailable(ref, "the environment variable is not one secrets may name")
        value = os.environ.get(name)
        if value is None:
            raise SecretUnavailable(ref, f"the environment variable {name} is not set")
        return value

    def _from_file(self, ref: str, path: Path) -> str:
        roots = self._settings.file_roots
        if roots is not None and not any(
            path.resolve().is_relative_to(root.resolve()) for root in roots
        ):
            raise SecretUnavailable(ref, "the file is not in a folder secrets may be read from")
        try:
            with path.open("rb") as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise SecretUnavailable(ref, "the file does not exist") from None
        except OSError as error:
            raise SecretUnavailable(ref, f"the file cannot be read ({error.strerror})") from None
        if len(data) > MAX_FILE_BYTES:
            raise SecretUnavailable(ref, f"the file is larger than {MAX_FILE_BYTES} bytes")
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SecretUnavailable(ref, "the file is not UTF-8 text") from None

    def _from_aws(self, ref: str, parsed: ParsedSecretRef) -> str:
        arn_region = _ARN_REGION.match(parsed.target)
        region = arn_region.group(1) if arn_region else self._settings.aws_region
        try:
            response = self._client(region).get_secret_value(SecretId=parsed.target)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "an error"))
            raise SecretUnavailable(
                ref,
                f"AWS Secrets Manager answered {code}",
                retryable=code in _RETRYABLE_AWS_CODES,
            ) from error
        except BotoCoreError as error:
            retryable = isinstance(error, BotoConnectionError | HTTPClientError)
            raise SecretUnavailable(
                ref, f"AWS Secrets Manager is unreachable: {error}", retryable=retryable
            ) from error
        text = _secret_text(ref, response)
        return text if parsed.key is None else _json_key(ref, text, parsed.key)

    def _client(self, region: str | None) -> _SecretsManager:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                timeout = self._settings.aws_timeout_seconds
                client = cast(
                    _SecretsManager,
                    boto3.session.Session().client(
                        "secretsmanager",
                        region_name=region,
                        endpoint_url=self._settings.aws_endpoint_url,
                        config=Config(
                            connect_timeout=timeout,
                            read_timeout=timeout,
                            retries={
                                "total_max_attempts": self._settings.aws_max_attempts,
                                "mode": "standard",
                            },
                        ),
                    ),
                )
                self._clients[region] = client
            return client


def _secret_text(ref: str, response: dict[str, Any]) -> str:
    if isinstance(response.get("SecretString"), str):
        return str(response["SecretString"])
    binary = response.get("SecretBinary")
    if isinstance(binary, bytes):
        try:
            return binary.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretUnavailable(ref, "the secret is binary, not UTF-8 text") from None
    raise SecretUnavailable(ref, "the secret has no value")


def _json_key(ref: str, text: str, key: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        raise SecretUnavailable(ref, "the secret is not a JSON object") from None
    if not isinstance(document, dict):
        raise SecretUnavailable(ref, "the secret is not a JSON object")
    if key not in document:
        raise SecretUnavailable(ref, f"the secret has no key {key!r}")
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SecretUnavailable(ref, f"the secret's key {key!r} is not text or a number")
    return str(value)


@lru_cache(maxsize=1)
def default_resolver() -> SecretResolver:
    """The process-wide resolver with default settings (boto3's own AWS region chain)."""
    return SecretResolver()


def resolve_secret(ref: str, resolver: SecretResolver | None = None) -> SecretStr:
    """The secret a reference names; `SecretUnavailable` (naming the reference) if unreadable."""
    return (resolver or default_resolver()).resolve(ref)
