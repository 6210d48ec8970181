"""Mail intake: mailboxes, screening rules, processed messages, and reply tokens on sent mail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org_id(*, index: bool = False) -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=index)


def upgrade() -> None:
    with op.batch_alter_table("sent_email") as batch:
        batch.add_column(sa.Column("reply_token", sa.String(32), nullable=True))
        batch.add_column(sa.Column("approval", sa.JSON, nullable=True))
        batch.create_unique_constraint("uq_sent_email_reply_token", ["reply_token"])
    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer, primary_key=True),
        _org_id(index=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("tls", sa.String(8), nullable=False),
        sa.Column("username", sa.String(320), nullable=False),
        sa.Column("password_ref", sa.String(2048), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("processed_folder", sa.String(255), nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("trusted_authserv_ids", sa.JSON, nullable=False),
        sa.Column("require_authentication", sa.Boolean, nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "name"),
    )
    op.create_table(
        "mail_screening",
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), primary_key=True),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("max_attachment_bytes", sa.Integer, nullable=False),
        sa.Column("max_attachments", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer, primary_key=True),
        _org_id(),
        sa.Column("mailbox_id", sa.Integer, sa.ForeignKey("mailbox.id"), nullable=False, index=True),
        sa.Column("message_key", sa.String(600), nullable=False),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("uid_validity", sa.BigInteger, nullable=True),
        sa.Column("uid", sa.BigInteger, nullable=True),
        sa.Column("sender", sa.String(320), nullable=True),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("transaction_id", sa.String(64), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("org_id", "message_key"),
    )
    op.create_index(
        "ix_mail_message_org_classification",
        "mail_message",
        ["org_id", "classification", "created_at"],
    )
    op.create_index(
        "ix_mail_message_mailbox_uid", "mail_message", ["mailbox_id", "uid_validity", "uid"]
    )


def downgrade() -> None:
    op.drop_index("ix_mail_message_mailbox_uid", table_name="mail_message")
    op.drop_index("ix_mail_message_org_classification", table_name="mail_message")
    for table in ("mail_message", "mail_screening", "mailbox"):
        op.drop_table(table)
    with op.batch_alter_table("sent_email") as batch:
        batch.drop_constraint("uq_sent_email_reply_token", type_="unique")
        batch.drop_column("approval")
        batch.drop_column("reply_token")
