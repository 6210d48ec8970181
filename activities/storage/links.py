"""Signed download tokens: HMAC-SHA256 over key, expiry and file name, in base64url."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

from activities.storage.contract import ExpiredDownloadToken, InvalidDownloadToken, UnsafeKey
from activities.storage.keys import validate_key

_PURPOSE = b"baton.download-link.v1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAX_TOKEN_CHARS = 4096


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret_key: str, payload: str) -> str:
    link_key = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
    return _encode(hmac.new(link_key, payload.encode("ascii"), hashlib.sha256).digest())


def sign_download_token(
    secret_key: str, key: str, expires_at: int, filename: str | None = None
) -> str:
    """A token granting a download of `key` until `expires_at` (Unix seconds)."""
    body = {"k": validate_key(key), "e": int(expires_at), "f": filename}
    payload = _encode(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret_key, payload)}"


def read_download_token(secret_key: str, token: str, now: float) -> tuple[str, str | None]:
    """The key and file name of a genuine, unexpired token; `InvalidDownloadToken` otherwise."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidDownloadToken("malformed download token")
    payload, signature = token.split(".")
    if not (_BASE64URL.fullmatch(payload) and _BASE64URL.fullmatch(signature)):
        raise InvalidDownloadToken("malformed download token")
    if not hmac.compare_digest(signature, _signature(secret_key, payload)):
        raise InvalidDownloadToken("download token signature does not match")
    try:
        body = json.loads(_decode(payload))
    except ValueError as error:
        raise InvalidDownloadToken("malformed download token") from error
    if not isinstance(body, dict):
        raise InvalidDownloadToken("malformed download token")
    key, expires_at, filename = body.get("k"), body.get("e"), body.get("f")
    if not (
        isinstance(key, str)
        and type(expires_at) is int
        and (filename is None or isinstance(filename, str))
    ):
        raise InvalidDownloadToken("malformed download token")
    if expires_at <= now:
        raise ExpiredDownloadToken("download link has expired")
    try:
        validate_key(key)
    except UnsafeKey as error:
        raise InvalidDownloadToken("download token names an unsafe key") from error
    return key, filename
