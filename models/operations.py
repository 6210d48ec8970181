"""Payloads of the operator processes (checks that the product's parts work)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from models.notifications import EmailResult
from models.steps import StepFailure


class MailCheckInput(BaseModel):
    """Send a test email on behalf of an operator."""

    model_config = ConfigDict(extra="forbid")

    org: str
    to: list[str] = Field(min_length=1, max_length=20)
    requested_by: str


class MailCheckResult(BaseModel):
    """What happened to the test email."""

    delivered: bool
    result: EmailResult | None = None
    failure: StepFailure | None = None
