"""AP reference data: suppliers, org aliases, purchase orders, goods receipts, the ERP
connection, and invoice-number claims.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _org_id() -> sa.Column[str]:
    return sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "supplier",
        sa.Column("id", sa.Integer, primary_key=True),
        _org_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.Column("tax_id", sa.String(64), nullable=True),
        sa.Column("email_domains", sa.JSON, nullable=False),
        sa.Column("match_method", sa.String(8), nullable=True),
        sa.Column("department", sa.String(120), nullable=True),
        sa.Column("erp_vendor_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "name"),
    )
    op.create_table(
        "org_alias",
        sa.Column("id", sa.Integer, primary_key=True),
        _org_id(),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.UniqueConstraint("org_id", "alias"),
    )
    op.create_table(
        "purchase_order",
        sa.Column("id", sa.Integer, primary_key=True),
        _org_id(),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("number_key", sa.String(64), nullable=False),
        sa.Column(
            "supplier_id", sa.Integer, sa.ForeignKey("supplier.id"), nullable=True, index=True
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_amount", sa.Numeric(18, 4), nullable=True),
        sa.Column("department", sa.String(120), nullable=True),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "number"),
    )
    op.create_index(
        "ix_purchase_order_org_id_number_key", "purchase_order", ["org_id", "number_key"]
    )
    op.create_table(
        "goods_receipt",
        sa.Column("id", sa.Integer, primary_key=True),
        _org_id(),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("po_number", sa.String(64), nullable=False),
        sa.Column("po_number_key", sa.String(64), nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "number"),
    )
    op.create_index(
        "ix_goods_receipt_org_id_po_number_key", "goods_receipt", ["org_id", "po_number_key"]
    )
    op.create_table(
        "erp_connection",
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), primary_key=True),
        sa.Column("plugin", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "invoice_claim",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(64), sa.ForeignKey("org.id"), nullable=False),
        sa.Column("supplier_key", sa.String(255), nullable=False),
        sa.Column("invoice_number_normalised", sa.String(255), nullable=False),
        sa.Column("transaction_id", sa.String(255), nullable=False),
        sa.Column("invoice_number", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "supplier_key", "invoice_number_normalised"),
    )


def downgrade() -> None:
    op.drop_index("ix_goods_receipt_org_id_po_number_key", table_name="goods_receipt")
    op.drop_index("ix_purchase_order_org_id_number_key", table_name="purchase_order")
    for table in (
        "invoice_claim",
        "erp_connection",
        "goods_receipt",
        "purchase_order",
        "org_alias",
        "supplier",
    ):
        op.drop_table(table)
