"""Fixtures the end-to-end tests share with the API tests."""

from __future__ import annotations

from tests.api.conftest import demo_database

__all__ = ["demo_database"]
