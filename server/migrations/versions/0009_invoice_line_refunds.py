"""Invoice refunds booked to lines: invoice_line_refunds

Revision ID: 0009_invoice_line_refunds
Revises: 0008_sales_catalogue_invoices
Create Date: 2026-12-06 07:55:00

Each part of a refund is booked to one invoice line (a returned lot, an
admin's amount or a refund made in Stripe's dashboard, newest lines first),
so an invoice's lines, its totals and its payment's receipt always agree.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_invoice_line_refunds"
down_revision: str | None = "0008_sales_catalogue_invoices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_line_refunds",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("line_id", sa.BigInteger(), nullable=False),
        sa.Column("refund_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('line', 'amount', 'stripe')", name=op.f("ck_invoice_line_refunds_kind")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_invoice_line_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_line_refunds_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["invoice_lines.id"],
            name=op.f("fk_invoice_line_refunds_line_id_invoice_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refunds.id"],
            name=op.f("fk_invoice_line_refunds_refund_id_refunds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_line_refunds")),
        sa.UniqueConstraint("refund_id", "line_id", name="uq_invoice_line_refunds_refund_line"),
    )
    op.create_index(
        "ix_invoice_line_refunds_invoice_id", "invoice_line_refunds", ["invoice_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_invoice_line_refunds_invoice_id", table_name="invoice_line_refunds")
    op.drop_table("invoice_line_refunds")
