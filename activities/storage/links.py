"""Signed download tokens for the local store: key, expiry and file name."""

from __future__ import annotations

from activities.signed_tokens import BadToken, read_token, sign_token
from activities.storage.contract import ExpiredDownloadToken, InvalidDownloadToken, UnsafeKey
from activities.storage.keys import validate_key

_PURPOSE = b"baton.download-link.v1"


def sign_download_token(
    secret_key: str, key: str, expires_at: int, filename: str | None = None
) -> str:
    """A token granting a download of `key` until `expires_at` (Unix seconds)."""
    body = {"k": validate_key(key), "e": int(expires_at), "f": filename}
    return sign_token(secret_key, _PURPOSE, body)


def read_download_token(secret_key: str, token: str, now: float) -> tuple[str, str | None]:
    """The key and file name of a genuine, unexpired token; `InvalidDownloadToken` otherwise."""
    try:
        body = read_token(secret_key, _PURPOSE, token)
    except BadToken as error:
        raise InvalidDownloadToken(f"download {error}") from error
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
