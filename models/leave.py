"""Leave request payloads: the request, its settings, balances and approved leave (sandbox-safe)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from models.approvals import HumanStepConfig, Outcome, Person, Recipient, RunView


class LeaveSettings(BaseModel):
    """The leave process's `settings` in its template: leave types, steps and run notices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    leave_types: list[str] = Field(default_factory=lambda: ["annual", "sick", "unpaid"])
    unlimited_types: list[str] = Field(
        default_factory=lambda: ["unpaid"], description="types that need no balance"
    )
    manager: HumanStepConfig = HumanStepConfig(title="Manager approval")
    hr: HumanStepConfig = HumanStepConfig(title="HR approval")
    completed_recipients: list[Recipient] = Field(default_factory=lambda: ["initiator", "watchers"])


class LeaveRequestCarry(BaseModel):
    """What a continued-as-new run carries over (set by the workflow, never by the API)."""

    state: RunView


class LeaveRequestInput(BaseModel):
    """An employee asks for leave; the API fills `initiator` from the caller."""

    model_config = ConfigDict(extra="forbid")

    org: str
    initiator: Person
    leave_type: str
    start: date
    end: date
    reason: str = Field(default="", max_length=4000)
    watchers: list[Person] = Field(default_factory=list)
    carried: LeaveRequestCarry | None = None


class LeaveRequestResult(BaseModel):
    """How the request ended."""

    outcome: Outcome
    reason: str = ""
    decided_by: Person | None = None
    deducted_days: int = 0
    remaining_days: int | None = None


class BalanceQuery(BaseModel):
    """One person's balance of one leave type."""

    org: str
    user_id: int
    leave_type: str


class Balance(BaseModel):
    """Days left; None when the person has no balance of that type."""

    days: int | None = None


class OverlapQuery(BaseModel):
    """Approved leave of a person that overlaps the given dates."""

    org: str
    user_id: int
    start: date
    end: date


class LeavePeriod(BaseModel):
    """An approved leave."""

    leave_type: str
    start: date
    end: date
    days: int
    workflow_id: str


class Overlaps(BaseModel):
    """The approved leave that overlaps a request."""

    periods: list[LeavePeriod] = Field(default_factory=list)


class RecordLeave(BaseModel):
    """Record an approved leave and deduct it from the balance, once per idempotency key."""

    idempotency_key: str = Field(min_length=1, max_length=255)
    org: str
    user_id: int
    leave_type: str
    start: date
    end: date
    days: int = Field(ge=0)
    deduct: bool = True
    workflow_id: str


class LeaveRecorded(BaseModel):
    """The outcome: `deducted` is False when the key had already been recorded."""

    deducted: bool
    days: int
    remaining_days: int | None
