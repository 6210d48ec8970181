"""The human approval step as data: its config (from a template's `settings`), the requests
people send to a run, and the view of a run they see (sandbox-safe: no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config.policies import Duration

ASSIGNING_KINDS = frozenset({"assigned", "reassigned", "claimed", "escalated"})
DECISION_EVENTS = frozenset({"task_assigned", "task_reminder", "task_escalated"})
"""Events whose email asks the assignee to decide, so each assignee gets their own links."""
LINK_LIFETIME_WITHOUT_DEADLINE = timedelta(days=90)

StepEvent = Literal[
    "task_assigned", "task_reminder", "task_escalated", "task_commented", "file_uploaded"
]
RunEvent = Literal["request_completed"]
Recipient = str
"""`assignees`, `initiator`, `watchers`, `previous_assignees`, or an email address."""

Outcome = Literal[
    "approved", "rejected", "expired", "withdrawn", "invalid", "failed", "posted", "duplicate"
]
TaskStatus = Literal["pending", "approved", "rejected", "expired", "cancelled"]
MAX_ATTACHMENTS = 100
"""Files a run holds at most (its view travels with every query, update and carry-over)."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssigneeRule(_Config):
    """Who a step is assigned to: the initiator's manager, people matching, or named people."""

    rule: Literal["manager_of_initiator", "users_matching", "named"] = "manager_of_initiator"
    department: str | None = None
    designation: str | None = None
    role: str | None = None
    users: list[int] = Field(default_factory=list, description="user ids, for `named`")

    @model_validator(mode="after")
    def _complete(self) -> AssigneeRule:
        if self.rule == "users_matching" and not (self.department or self.designation or self.role):
            raise ValueError("users_matching needs a department, designation or role")
        if self.rule == "named" and not self.users:
            raise ValueError("named needs at least one user id")
        return self


class ClaimRule(_Config):
    """Who may take a step's task for themselves: every given attribute must match."""

    department: str | None = None
    designation: str | None = None
    role: str | None = None

    def allows(self, person: Person) -> bool:
        """Whether the person matches every attribute the rule names (an empty rule: nobody)."""
        if not (self.department or self.designation or self.role):
            return False
        return (
            (self.department is None or person.department == self.department)
            and (self.designation is None or person.designation == self.designation)
            and (self.role is None or self.role in person.roles)
        )


EscalationLevel = Literal["assignees_manager", "fallback"]


def _default_chain() -> list[EscalationLevel]:
    return ["assignees_manager"]


class SlaSpec(_Config):
    """Reminders, escalation and deadline of a step, all measured from when the step started."""

    reminders: int = Field(default=0, ge=0, le=20)
    reminder_interval: Duration | None = None
    escalate_after: Duration | None = Field(
        default=None, description="the first escalation; each further level after as long again"
    )
    escalation: list[EscalationLevel] = Field(default_factory=_default_chain)
    fallback_approver: str | None = Field(default=None, description="email of the last resort")
    deadline: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SlaSpec:
        if self.reminders and self.reminder_interval is None:
            raise ValueError("reminders need a reminder_interval")
        return self

    def schedule(self) -> list[tuple[timedelta, str, int]]:
        """(offset from the step's start, `reminder|escalate|expire`, number), in time order."""
        events: list[tuple[timedelta, str, int]] = []
        if self.reminder_interval is not None:
            events += [
                (self.reminder_interval * n, "reminder", n) for n in range(1, 1 + self.reminders)
            ]
        if self.escalate_after is not None:
            events += [
                (self.escalate_after * level, "escalate", level)
                for level in range(1, 1 + len(self.escalation))
            ]
        if self.deadline is not None:
            events.append((self.deadline, "expire", 1))
        order = {"reminder": 0, "escalate": 1, "expire": 2}
        events.sort(key=lambda event: (event[0], order[event[1]]))
        cut = next((i for i, event in enumerate(events) if event[1] == "expire"), None)
        return events if cut is None else events[: cut + 1]


DEFAULT_STEP_NOTIFICATIONS: dict[StepEvent, list[Recipient]] = {
    "task_assigned": ["assignees"],
    "task_reminder": ["assignees"],
    "task_escalated": ["assignees", "previous_assignees", "initiator"],
    "task_commented": ["assignees", "initiator", "watchers"],
    "file_uploaded": ["assignees", "initiator", "watchers"],
}


class HumanStepConfig(_Config):
    """One human step of a process: who decides, who may claim, its SLA and its notices."""

    title: str = ""
    assignee: AssigneeRule = AssigneeRule()
    assignee_may_choose_next: bool = False
    claim: ClaimRule = ClaimRule()
    sla: SlaSpec = SlaSpec()
    notifications: dict[StepEvent, list[Recipient]] = Field(
        default_factory=lambda: dict(DEFAULT_STEP_NOTIFICATIONS),
        description="recipients per event; events left out use the defaults",
    )

    @model_validator(mode="after")
    def _default_notices(self) -> HumanStepConfig:
        merged = {**DEFAULT_STEP_NOTIFICATIONS, **self.notifications}
        object.__setattr__(self, "notifications", merged)
        return self


class Person(BaseModel):
    """Someone of an org as the directory knows them (the API fills it for the caller)."""

    model_config = ConfigDict(frozen=True)

    id: int
    email: str
    name: str
    org: str
    department: str | None = None
    designation: str | None = None
    roles: list[str] = Field(default_factory=list)


class DecisionRequest(BaseModel):
    """A current assignee approves or rejects; a rejection needs a comment."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=4000)
    next_assignee: int | None = Field(
        default=None, description="user id for the next step, where the step allows choosing"
    )


class ReassignRequest(BaseModel):
    """A current assignee hands the task to a colleague of the same org."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    to: Person
    reason: str = Field(default="", max_length=4000)


class ClaimRequest(BaseModel):
    """Someone the step's claim rule allows takes the task for themselves."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    reason: str = Field(default="", max_length=4000)


class CommentRequest(BaseModel):
    """A comment on the run by someone of its org."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    text: str = Field(min_length=1, max_length=4000)


class AttachRequest(BaseModel):
    """Record a file, already stored under the run's folder, as an attachment of the run."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    name: str = Field(min_length=1, max_length=255, description="the file name people see")
    key: str = Field(min_length=1, max_length=1024, description="`<org>/<process>/<run>/<file>`")
    size: int = Field(ge=1, description="bytes")
    content_type: str = Field(min_length=1, max_length=255, description="as its content shows")


class WatchRequest(BaseModel):
    """Someone of the org starts (or stops) watching the run, or adds another watcher."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    watcher: Person | None = Field(default=None, description="another person; default the actor")
    stop: bool = False


class WithdrawRequest(BaseModel):
    """The initiator withdraws the request while it is pending."""

    model_config = ConfigDict(extra="forbid")

    actor: Person
    reason: str = Field(default="", max_length=4000)


class Transition(BaseModel):
    """Something that moved the run: assigned, reassigned, claimed, escalated, decided, ..."""

    at: datetime
    step: str
    kind: str
    actor: Person | None = None
    assignees: list[Person] = Field(default_factory=list)
    reason: str = ""


class Comment(BaseModel):
    """A comment left on the run."""

    at: datetime
    actor: Person
    text: str
    step: str | None = None


class Attachment(BaseModel):
    """A file attached to the run: where it is stored, what it is, who uploaded it and when."""

    name: str
    key: str
    size: int
    content_type: str
    uploaded_by: Person
    at: datetime
    step: str | None = None


class TaskView(BaseModel):
    """One step's task: who holds it, until when, and how it ended."""

    step: str
    title: str = ""
    status: TaskStatus = "pending"
    assignees: list[Person] = Field(default_factory=list)
    started_at: datetime
    due_at: datetime | None = None
    deadline_at: datetime | None = None
    fired: int = Field(default=0, description="SLA events (reminders, escalations) done")
    escalation_level: int = 0
    decided_by: Person | None = None
    decided_at: datetime | None = None
    comment: str = ""
    next_assignee: int | None = None


class RunView(BaseModel):
    """What a run shows: stage, current task, history, comments, files, watchers, outcome."""

    workflow_id: str = ""
    org: str
    process: str
    initiator: Person
    stage: str = "starting"
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)
    tasks: list[TaskView] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    comments: list[Comment] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    watchers: list[Person] = Field(default_factory=list)
    outcome: Outcome | None = None
    outcome_reason: str = ""

    def current_assignment(self, step: str) -> int:
        """The number of the transition that gave the step's task to its current holders.

        Approval links carry it, so a reassignment or escalation (a newer number) kills them.
        """
        numbers = [
            number
            for number, transition in enumerate(self.transitions, start=1)
            if transition.step == step and transition.kind in ASSIGNING_KINDS
        ]
        return numbers[-1] if numbers else 0

    @property
    def current(self) -> TaskView | None:
        """The pending task, if a step is waiting for a decision."""
        return next((task for task in self.tasks if task.status == "pending"), None)


class AssigneeQuery(BaseModel):
    """Resolve a step's assignee rule for a run of an org."""

    org: str
    rule: AssigneeRule
    initiator_id: int
    exclude_initiator: bool = True


class PersonQuery(BaseModel):
    """One person of an org, by id or by email."""

    org: str
    user_id: int | None = None
    email: str | None = None


class PersonLookup(BaseModel):
    """The person found, if any."""

    person: Person | None = None


class People(BaseModel):
    """People found by a rule."""

    people: list[Person] = Field(default_factory=list)
