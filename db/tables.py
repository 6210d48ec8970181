"""SQLModel tables of the application database.

Temporal holds the state of each run; these tables hold reference data (orgs, people,
templates, suppliers, purchase orders) and records that activities write idempotently
(sent mail, invoice-number claims, ...).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Numeric, Text, UniqueConstraint
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
    reply_token: str | None = Field(
        default=None, max_length=32, unique=True, description="the `[Baton #...]` subject token"
    )
    approval: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="the approval task a reply to this email decides (an ApprovalLinkSpec)",
    )


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


class SupplierRow(SQLModel, table=True):
    """A supplier of an org: how its invoices are recognised, matched and routed."""

    __tablename__ = "supplier"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tax_id: str | None = Field(default=None, max_length=64)
    email_domains: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="lower-case domains its invoices are mailed from",
    )
    match_method: str | None = Field(
        default=None, max_length=8, description="none | 2way | 3way; null: the org's method"
    )
    department: str | None = Field(default=None, max_length=120, description="a department name")
    erp_vendor_id: str | None = Field(default=None, max_length=64)
    active: bool = True
    created_at: datetime = _timestamp()  # type: ignore[assignment]
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class OrgAlias(SQLModel, table=True):
    """Another name of an org that suppliers print as the buyer."""

    __tablename__ = "org_alias"
    __table_args__ = (UniqueConstraint("org_id", "alias"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    alias: str = Field(max_length=200)


class PurchaseOrderRow(SQLModel, table=True):
    """A purchase order of an org; `number_key` is its number as invoices are compared."""

    __tablename__ = "purchase_order"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        Index("ix_purchase_order_org_id_number_key", "org_id", "number_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    number: str = Field(max_length=64)
    number_key: str = Field(max_length=64)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    currency: str = Field(max_length=3)
    total_amount: Decimal | None = Field(default=None, sa_type=Numeric(18, 4))
    department: str | None = Field(default=None, max_length=120)
    lines: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="LineItem dicts (JSON mode)",
    )
    status: str = Field(default="open", max_length=8, description="open | closed")
    created_at: datetime = _timestamp()  # type: ignore[assignment]
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class GoodsReceiptRow(SQLModel, table=True):
    """A goods received note against a purchase order; its lines are what arrived."""

    __tablename__ = "goods_receipt"
    __table_args__ = (
        UniqueConstraint("org_id", "number"),
        Index("ix_goods_receipt_org_id_po_number_key", "org_id", "po_number_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    number: str = Field(max_length=64)
    po_number: str = Field(max_length=64)
    po_number_key: str = Field(max_length=64)
    lines: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="LineItem dicts (JSON mode)",
    )
    received_at: datetime = _timestamp()  # type: ignore[assignment]
    created_at: datetime = _timestamp()  # type: ignore[assignment]


class ErpConnection(SQLModel, table=True):
    """The ERP plugin an org posts to; its settings hold secret references, never secrets."""

    __tablename__ = "erp_connection"

    org_id: str = Field(foreign_key="org.id", primary_key=True, max_length=64)
    plugin: str = Field(max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class InvoiceClaim(SQLModel, table=True):
    """A supplier's invoice number held by the run that saw it first (duplicate blocking)."""

    __tablename__ = "invoice_claim"
    __table_args__ = (UniqueConstraint("org_id", "supplier_key", "invoice_number_normalised"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", max_length=64)
    supplier_key: str = Field(max_length=255)
    invoice_number_normalised: str = Field(max_length=255)
    transaction_id: str = Field(max_length=255)
    invoice_number: str = Field(max_length=255, description="as printed")
    created_at: datetime = _timestamp()  # type: ignore[assignment]


class MailboxRow(SQLModel, table=True):
    """An IMAP mailbox an org receives invoices and approval replies in.

    The password is a secret reference (`env:`, `file:`, `aws-sm:`), never the secret.
    """

    __tablename__ = "mailbox"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=64)
    name: str = Field(max_length=120)
    address: str = Field(max_length=320, description="the mailbox's own email address")
    host: str = Field(max_length=255)
    port: int
    tls: str = Field(max_length=8, description="ssl | starttls | none")
    username: str = Field(max_length=320)
    password_ref: str = Field(max_length=2048)
    folder: str = Field(max_length=255)
    processed_folder: str = Field(max_length=255)
    interval_seconds: int
    batch_size: int
    trusted_authserv_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    require_authentication: bool = False
    owner_id: int | None = Field(
        default=None,
        foreign_key="app_user.id",
        description="who mailed invoices are started for (notices, exception fixes)",
    )
    enabled: bool = True
    created_at: datetime = _timestamp()  # type: ignore[assignment]
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class MailScreening(SQLModel, table=True):
    """An org's screening rules (`{variable, condition, value}`) and attachment limits."""

    __tablename__ = "mail_screening"

    org_id: str = Field(foreign_key="org.id", primary_key=True, max_length=64)
    rules: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    max_attachment_bytes: int
    max_attachments: int
    updated_at: datetime = _timestamp()  # type: ignore[assignment]


class MailMessageRow(SQLModel, table=True):
    """A message intake has seen: recorded before anything is done, so it is handled once.

    The key is the Message-ID with the content hash: the same message fetched again (its
    flags did not stick, the intake run died) finds its record and its transaction.
    """

    __tablename__ = "mail_message"
    __table_args__ = (
        UniqueConstraint("org_id", "message_key"),
        Index("ix_mail_message_org_classification", "org_id", "classification", "created_at"),
        Index("ix_mail_message_mailbox_uid", "mailbox_id", "uid_validity", "uid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(foreign_key="org.id", max_length=64)
    mailbox_id: int = Field(foreign_key="mailbox.id", index=True)
    message_key: str = Field(max_length=600)
    message_id: str | None = Field(default=None, max_length=500)
    content_hash: str = Field(max_length=64)
    size: int
    uid_validity: int | None = Field(
        default=None, sa_type=BigInteger, description="the mailbox's UIDVALIDITY"
    )
    uid: int | None = Field(
        default=None, sa_type=BigInteger, description="the message's UID when it was taken in"
    )
    sender: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    classification: str = Field(
        max_length=16, description="invoice | approval_reply | unidentified"
    )
    reason_code: str | None = Field(default=None, max_length=32)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    transaction_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=255)
    state: str = Field(max_length=16, description="recorded | handled | filed")
    created_at: datetime = _timestamp()  # type: ignore[assignment]
    handled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    filed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
