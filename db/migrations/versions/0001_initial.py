"""Orgs, departments, users, process templates and sent mail.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "org",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "department",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.UniqueConstraint("org_id", "name"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("manager_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=True),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("department.id"), nullable=True),
        sa.Column("designation", sa.String(120), nullable=True),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "process_template",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=True),
        sa.Column("process", sa.String(64), nullable=False),
        sa.Column("body_yaml", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "process"),
    )
    op.create_table(
        "sent_email",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for table in ("sent_email", "process_template", "app_user", "department", "org"):
        op.drop_table(table)
