"""Compact signed tokens: a JSON body and an HMAC-SHA256 signature, both base64url.

Each kind of token has its own purpose string, so a token minted for one use (a download
link, an approval link) never verifies as another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
MAX_TOKEN_CHARS = 4096


class BadToken(ValueError):
    """The token is malformed or its signature does not match."""


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret_key: str, purpose: bytes, payload: str) -> str:
    purpose_key = hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()
    return _encode(hmac.new(purpose_key, payload.encode("ascii"), hashlib.sha256).digest())


def sign_token(secret_key: str, purpose: bytes, body: dict[str, Any]) -> str:
    """A token carrying `body`, verifiable only with the same key and purpose."""
    payload = _encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_signature(secret_key, purpose, payload)}"


def read_token(secret_key: str, purpose: bytes, token: str) -> dict[str, Any]:
    """The body of a genuine token; `BadToken` for anything forged or malformed."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise BadToken("malformed token")
    payload, signature = token.split(".")
    if not (_BASE64URL.fullmatch(payload) and _BASE64URL.fullmatch(signature)):
        raise BadToken("malformed token")
    if not hmac.compare_digest(signature, _signature(secret_key, purpose, payload)):
        raise BadToken("token signature does not match")
    try:
        body = json.loads(_decode(payload))
    except ValueError as error:
        raise BadToken("malformed token") from error
    if not isinstance(body, dict):
        raise BadToken("malformed token")
    return body
