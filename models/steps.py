"""Payloads that describe a run's steps: who owns the run, how a step failed, retry notices."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

from pydantic import BaseModel, Field

Criticality = Literal["low", "medium", "high", "critical"]

RETRY_NOTICE_HEADER = "baton-retry-notice"


class RunContext(BaseModel):
    """The run a step belongs to, for notifications and records."""

    org: str
    process: str
    run_id: str
    owner_email: str | None = None
    url: str | None = None


class PoliciesRequest(BaseModel):
    """Which org's step policies for which process."""

    org: str
    process: str


class StepFailure(BaseModel):
    """Why a step failed: a business reason, the details, and how much it matters."""

    step: str
    reason: str
    details: str = ""
    criticality: Criticality = "medium"
    attempts: int | None = None


class RetryNotice(BaseModel):
    """Who to tell when an attempt of a step is retried; travels in an activity header."""

    run: RunContext
    step: str
    recipients: list[str] = Field(default_factory=list)


pending_retry_notice: ContextVar[RetryNotice | None] = ContextVar(
    "pending_retry_notice", default=None
)
"""Set by the step runner around `start_activity` so the outbound interceptor adds the header."""
