"""SQLModel tables of the application database.

Temporal holds the state of each run; these tables hold reference data (orgs, people,
templates) and records that activities write idempotently (sent mail, ...).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _timestamp(**kwargs: object) -> object:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)  # type: ignore[call-overload]


class Org(SQLModel, table=True):
    """A customer organisation: every other record belongs to one."""

    __tablename__ = "org"

    id: str = Field(primary_key=True, max_length=64, description="short slug, e.g. 'acme'")
    name: str = Field(max_length=200)
    created_at: datetime = _timestamp()  # type: ignore[assignment]


class Department(SQLModel, table=True):
    """A department of an org (Finance, HR, Engineering, ...)."""

    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    name: str = Field(max_length=120)


class User(SQLModel, table=True):
    """A person who starts runs, decides steps or operates the system."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    email: str = Field(unique=True, index=True, max_length=254)
    name: str = Field(max_length=200)
    manager_id: int | None = Field(default=None, foreign_key="app_user.id")
    department_id: int | None = Field(default=None, foreign_key="department.id")
    designation: str | None = Field(default=None, max_length=120)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = _timestamp()  # type: ignore[assignment]


class ProcessTemplate(SQLModel, table=True):
    """An org's override of a process template (YAML), merged over the system default."""

    __tablename__ = "process_template"
    __table_args__ = (UniqueConstraint("org_id", "process"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    process: str = Field(max_length=64)
    body_yaml: str = Field(sa_type=Text)
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class SentEmail(SQLModel, table=True):
    """One outgoing email per idempotency key, so a retried send goes out once."""

    __tablename__ = "sent_email"

    key: str = Field(primary_key=True, max_length=255)
    message_id: str = Field(max_length=255)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    subject: str = Field(max_length=500)
    state: str = Field(default="sending", max_length=16, description="sending | sent")
    created_at: datetime = _timestamp()  # type: ignore[assignment]
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class LeaveBalance(SQLModel, table=True):
    """Days of leave a person has left, per leave type (the system of record for balances)."""

    __tablename__ = "leave_balance"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "leave_type"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    leave_type: str = Field(max_length=32)
    days: int
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class LeaveRecord(SQLModel, table=True):
    """An approved leave; its unique key makes the balance deduction happen once per run."""

    __tablename__ = "leave_record"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    leave_type: str = Field(max_length=32)
    start_date: date
    end_date: date
    days: int
    deducted: bool = True
    workflow_id: str = Field(max_length=255)
    created_at: datetime = _timestamp()  # type: ignore[assignment]
