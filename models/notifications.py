"""Email notifications: what a workflow asks to send and what the send did (sandbox-safe)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EmailRequest(BaseModel):
    """One templated email, sent at most once per idempotency key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: str = Field(
        min_length=1,
        max_length=255,
        description="stable across retries, e.g. '<workflow id>:<step>:retry-2'",
    )
    event: str = Field(min_length=1, max_length=64, description="template name, e.g. 'step_retry'")
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    context: dict[str, Any] = Field(description="JSON-able values the templates render")
    reply_to: str | None = None


class EmailResult(BaseModel):
    """The outcome of a send: `sent` is False when the key had already gone out."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    sent: bool
    recipients: list[str]
