"""The process templates shipped with Baton (YAML files beside this module)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATES_DIR = Path(__file__).parent / "templates"


class UnknownProcess(LookupError):
    """No template is shipped for that process."""


def parse_template(text: str) -> dict[str, Any]:
    """A template document as a mapping; anything else is a ValueError."""
    document = yaml.safe_load(text) if text.strip() else {}
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ValueError("a process template must be a YAML mapping")
    return document


@lru_cache(maxsize=32)
def system_defaults() -> dict[str, Any]:
    """The system-wide defaults every template is laid over."""
    return parse_template((TEMPLATES_DIR / "system.yaml").read_text())


@lru_cache(maxsize=32)
def shipped_template(process: str) -> dict[str, Any]:
    """The shipped template of a process."""
    path = TEMPLATES_DIR / f"{process}.yaml"
    if process == "system" or not process.replace("_", "").isalnum() or not path.is_file():
        raise UnknownProcess(process)
    return parse_template(path.read_text())


def shipped_processes() -> list[str]:
    """The processes that have a shipped template."""
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml") if p.stem != "system")
