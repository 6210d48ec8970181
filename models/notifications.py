"""Email notifications: what a workflow asks to send and what the send did (sandbox-safe)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApprovalLinkSpec(BaseModel):
    """Ask the send to add approval links for one approver of one task to the email.

    The links (`approve_url`, `reject_url`, `review_url` in the template context) are minted
    when the email is sent, so their tokens never appear in workflow history.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    org: str
    run: str
    step: str
    task: str
    assignment: int = Field(ge=0)
    approver_id: int
    expires_at: datetime


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
    approval_links: ApprovalLinkSpec | None = None


class EmailResult(BaseModel):
    """The outcome of a send: `sent` is False when the key had already gone out."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    sent: bool
    recipients: list[str]
