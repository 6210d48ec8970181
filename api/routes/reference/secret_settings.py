"""Secret-named settings (`password`, `apiKey`, `token_ref`, ...) of an org's ERP connection:
their values must be secret references, and anything else is never shown."""

from __future__ import annotations

import re
from typing import Any

from config.secrets import InvalidSecretRef, parse_secret_ref

SECRET_KEY = re.compile(
    r"(^|_)(pass|passwd|password|passphrase|secret|token|api_?key|private_?key|credentials?)"
    r"(_ref|_reference)?$"
)
"""Setting names (snake case) whose values are secrets, so must be references."""

HIDDEN = "[hidden]"


def is_secret_key(name: str) -> bool:
    """Whether a setting of this name holds a secret (`password`, `apiKey`, `client_secret`)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_")
    return SECRET_KEY.search(snake) is not None


def is_reference(value: Any) -> bool:
    """Whether a value is a secret reference (`env:NAME`, `file:/path`, `aws-sm:id`)."""
    if not isinstance(value, str):
        return False
    try:
        parse_secret_ref(value)
    except InvalidSecretRef:
        return False
    return True


def _plain_values(value: Any, path: str) -> list[str]:
    """The paths under a secret-named setting whose values are not references."""
    if isinstance(value, dict):
        return plain_secrets(value, path)
    if isinstance(value, list):
        return [
            found
            for index, item in enumerate(value)
            for found in _plain_values(item, f"{path}[{index}]")
        ]
    return [] if value is None or is_reference(value) else [path]


def plain_secrets(settings: Any, path: str = "") -> list[str]:
    """The paths of secret-named settings whose value is not a secret reference."""
    if isinstance(settings, list):
        return [
            found
            for index, item in enumerate(settings)
            for found in plain_secrets(item, f"{path}[{index}]")
        ]
    if not isinstance(settings, dict):
        return []
    found: list[str] = []
    for key, value in settings.items():
        where = f"{path}.{key}" if path else str(key)
        if is_secret_key(str(key)):
            found.extend(_plain_values(value, where))
        else:
            found.extend(plain_secrets(value, where))
    return found


def redact_secrets(settings: Any, secret: bool = False) -> Any:
    """Settings with every secret value that is not a reference replaced by a marker."""
    if isinstance(settings, dict):
        return {
            key: redact_secrets(value, is_secret_key(str(key))) for key, value in settings.items()
        }
    if isinstance(settings, list):
        return [redact_secrets(value, secret) for value in settings]
    if secret and settings is not None and not is_reference(settings):
        return HIDDEN
    return settings
