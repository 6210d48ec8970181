"""Leave balances and approved leave records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leave_balance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True
        ),
        sa.Column("leave_type", sa.String(32), nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "user_id", "leave_type"),
    )
    op.create_table(
        "leave_record",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False, index=True
        ),
        sa.Column("leave_type", sa.String(32), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("deducted", sa.Boolean, nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("leave_record", "leave_balance"):
        op.drop_table(table)
