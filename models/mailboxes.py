"""Mail intake: mailboxes, what an intake run is asked to do, and what it did (sandbox-safe)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROCESS_NAME = "mail_intake"
TRANSACTION_NAMESPACE = uuid.UUID("6f0c8d52-3b8e-4f0e-9a51-1d2b7c4e9a10")
"""Transaction ids of mailed invoices are uuid5 names in this namespace."""

MessageState = Literal["recorded", "handled", "filed"]
TlsMode = Literal["ssl", "starttls", "none"]


def mail_intake_schedule_id(org: str, mailbox_id: int) -> str:
    """The Temporal Schedule that polls one mailbox."""
    return f"{org}:mail_intake:{mailbox_id}"


def mail_intake_workflow_id(org: str, mailbox_id: int) -> str:
    """The id of the intake runs the schedule starts (Temporal appends the start time)."""
    return f"{org}:mail_intake:{mailbox_id}"


def message_key(message_id: str | None, content_hash: str) -> str:
    """What identifies a message for intake: its Message-ID (at most 500 characters of it)
    with its content hash."""
    return f"{(message_id or '')[:500]}|{content_hash}"


def mail_transaction_id(org: str, key: str) -> str:
    """The transaction (and AP run) a mailed invoice belongs to: the same for every fetch."""
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{org}\n{key}"))


class MailIntakeInput(BaseModel):
    """One intake run: read a mailbox's unseen messages and handle each exactly once."""

    model_config = ConfigDict(extra="forbid")

    org: str = Field(min_length=1, max_length=64)
    mailbox_id: int = Field(ge=1)
    batch_size: int | None = Field(
        default=None, ge=1, le=1000, description="messages per run; the mailbox's own by default"
    )
    chunk_size: int = Field(default=10, ge=1, le=100, description="messages per activity")
    so_far: MailIntakeResult | None = Field(
        default=None, description="what the check did before it continued as new"
    )


class MailboxRef(BaseModel):
    """Ask an activity about one mailbox of one org."""

    org: str
    mailbox_id: int
    limit: int | None = None


class UnseenMessage(BaseModel):
    """A message waiting in the mailbox: its UID and size."""

    uid: int
    size: int


class UnseenMessages(BaseModel):
    """The mailbox's unseen messages, oldest first, at most the batch size."""

    mailbox: str = Field(description="the mailbox's name")
    uid_validity: int
    messages: list[UnseenMessage] = Field(default_factory=list)
    batch_size: int


class TakeInRequest(BaseModel):
    """Handle some of the messages a listing found."""

    org: str
    mailbox_id: int
    uid_validity: int
    messages: list[UnseenMessage]
    intake_run: str = Field(description="the intake run's workflow id, for the record")


Handling = Literal[
    "started", "already_started", "reply_applied", "reply_refused", "unidentified", "vanished"
]


class MessageOutcome(BaseModel):
    """What intake did with one message."""

    uid: int
    handling: Handling
    classification: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    workflow_id: str | None = None
    filed: bool = False


class PhaseTimes(BaseModel):
    """Seconds spent per phase of intake, summed over the messages of one activity call."""

    fetch: float = 0.0
    parse: float = 0.0
    record: float = 0.0
    store: float = 0.0
    start: float = 0.0
    reply: float = 0.0
    file: float = 0.0

    def plus(self, other: PhaseTimes) -> PhaseTimes:
        """Both added up, phase by phase."""
        return PhaseTimes(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )


class TakeInResult(BaseModel):
    """The outcomes of one activity call, with where its time went."""

    outcomes: list[MessageOutcome] = Field(default_factory=list)
    phases: PhaseTimes = Field(default_factory=PhaseTimes)


class MailIntakeResult(BaseModel):
    """What one intake run did: counts by handling, and time per phase."""

    mailbox: str
    seen: int = 0
    filed: int = Field(default=0, description="messages moved to the processed folder")
    handled: dict[str, int] = Field(default_factory=dict)
    phases: PhaseTimes = Field(default_factory=PhaseTimes)


MailIntakeInput.model_rebuild()
