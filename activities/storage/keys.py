"""Object keys (`<org>/<process>/<run>/<file>`), safe file names and download headers."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from activities.storage.contract import UnsafeKey

MAX_KEY_BYTES = 1024
MAX_PART_BYTES = 255
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_FILENAME_FORBIDDEN = re.compile(r'[<>:"|?*]')
_WHITESPACE = re.compile(r"\s+")


def _has_unprintable(text: str) -> bool:
    return any(unicodedata.category(char) in _UNPRINTABLE for char in text)


def validate_key(key: str) -> str:
    """The key itself if it is a safe relative key of `/`-separated names; `UnsafeKey` if not."""
    if not isinstance(key, str) or not key:
        raise UnsafeKey("an object key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise UnsafeKey(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise UnsafeKey(f"object key must be relative, not {key!r}")
    if "\\" in key:
        raise UnsafeKey(f"object key must not contain backslashes: {key!r}")
    if _has_unprintable(key):
        raise UnsafeKey(f"object key must not contain control characters: {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise UnsafeKey(f"object key has an empty, '.' or '..' segment: {key!r}")
    return key


def _check_part(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UnsafeKey(f"the {what} part of a storage key must not be empty")
    if value in (".", "..") or "/" in value or "\\" in value:
        raise UnsafeKey(f"the {what} part of a storage key must be a plain name: {value!r}")
    if _has_unprintable(value):
        raise UnsafeKey(f"the {what} part of a storage key has control characters: {value!r}")
    if value != value.strip():
        raise UnsafeKey(f"the {what} part of a storage key has surrounding spaces: {value!r}")
    if len(value.encode("utf-8")) > MAX_PART_BYTES:
        raise UnsafeKey(f"the {what} part of a storage key is longer than {MAX_PART_BYTES} bytes")
    return value


def storage_key(org: str, process: str, run: str, filename: str) -> str:
    """The key `<org>/<process>/<run>/<filename>`; `UnsafeKey` if a part is not a plain name."""
    parts = (
        _check_part(org, "org"),
        _check_part(process, "process"),
        _check_part(run, "run"),
        _check_part(filename, "filename"),
    )
    return validate_key("/".join(parts))


def safe_filename(name: str, default: str = "file") -> str:
    """A plain file name made from an untrusted one (an upload, an e-mail attachment)."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join("_" if unicodedata.category(char) in _UNPRINTABLE else char for char in text)
    text = _FILENAME_FORBIDDEN.sub("_", text)
    text = _WHITESPACE.sub(" ", text).strip(" .")
    if len(text.encode("utf-8")) > MAX_PART_BYTES:
        stem, dot, suffix = text.rpartition(".")
        suffix = suffix if dot and stem and len(suffix) <= 16 else ""
        room = MAX_PART_BYTES - len(suffix.encode("utf-8")) - 1
        stem = (stem if suffix else text).encode("utf-8")[:room].decode("utf-8", "ignore")
        text = f"{stem.rstrip(' .')}.{suffix}" if suffix else stem.rstrip(" .")
    return text or default


def content_disposition(filename: str) -> str:
    """A `Content-Disposition: attachment` value naming the file, for any Unicode name."""
    name = safe_filename(filename, default="download")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = ascii_name.replace('"', "_").strip() or "download"
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
