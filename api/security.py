"""Password hashing (scrypt) and the API's signed JWT access and refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from pydantic import BaseModel

from config.settings import Settings

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
TokenKind = Literal["access", "refresh"]


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password, in `scrypt$n$r$p$salt$hash` form."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    salt_text, digest_text = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_text}${digest_text}"


def verify_password(password: str, stored: str) -> bool:
    """Whether the password matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


class TokenClaims(BaseModel):
    """What a verified token says: who, in which org, and which kind of token it is."""

    user_id: int
    org_id: str
    kind: TokenKind


class InvalidToken(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


def issue_token(settings: Settings, *, user_id: int, org_id: str, kind: TokenKind) -> str:
    """A signed token for the user, living as long as the settings say for its kind."""
    ttl = (
        settings.security.access_token_ttl_seconds
        if kind == "access"
        else settings.security.refresh_token_ttl_seconds
    )
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "org": org_id,
        "kind": kind,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, settings.secret_key(), algorithm=settings.security.jwt_algorithm)


def read_token(settings: Settings, token: str, *, kind: TokenKind) -> TokenClaims:
    """The claims of a valid token of the expected kind; `InvalidToken` otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key(),
            algorithms=[settings.security.jwt_algorithm],
            options={"require": ["sub", "org", "kind", "exp"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if claims.get("kind") != kind:
        raise InvalidToken(f"expected a {kind} token")
    return TokenClaims(user_id=int(claims["sub"]), org_id=str(claims["org"]), kind=kind)
