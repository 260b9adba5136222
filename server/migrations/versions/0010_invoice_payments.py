"""An issued invoice is paid through one payment: payments.invoice_id, tax

Revision ID: 0010_invoice_payments
Revises: 0009_invoice_line_refunds
Create Date: 2026-12-06 07:55:00

A per_sale invoice gets one PaymentIntent, held by a `payments` row like any
lot's: the window, retries, reconciliation, refunds and receipts apply to it
unchanged. Such a payment names its invoice instead of a lot and a bid, and
carries the invoice's tax, so `amount = hammer + premium + tax` (0 for a lot).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_invoice_payments"
down_revision: str | None = "0009_invoice_line_refunds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("invoice_id", sa.BigInteger(), nullable=True))
    op.add_column("payments", sa.Column("tax", sa.BigInteger(), server_default="0", nullable=False))
    op.create_foreign_key(
        op.f("fk_payments_invoice_id_invoices"), "payments", "invoices", ["invoice_id"], ["id"]
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)
    op.alter_column("payments", "lot_id", existing_type=sa.BigInteger(), nullable=True)
    op.alter_column("payments", "bid_id", existing_type=sa.BigInteger(), nullable=True)
    op.drop_constraint(op.f("ck_payments_amounts"), "payments", type_="check")
    op.create_check_constraint(
        op.f("ck_payments_amounts"),
        "payments",
        "hammer > 0 AND premium >= 0 AND tax >= 0 AND amount = hammer + premium + tax",
    )
    op.create_check_constraint(
        op.f("ck_payments_lot_or_invoice"),
        "payments",
        "(invoice_id IS NULL) = (lot_id IS NOT NULL AND bid_id IS NOT NULL)"
        " AND (invoice_id IS NULL OR (lot_id IS NULL AND bid_id IS NULL))",
    )


def downgrade() -> None:
    # Refused (NOT NULL) while invoice payments exist: they have no lot to fall back to.
    op.drop_constraint(op.f("ck_payments_lot_or_invoice"), "payments", type_="check")
    op.drop_constraint(op.f("ck_payments_amounts"), "payments", type_="check")
    op.create_check_constraint(
        op.f("ck_payments_amounts"),
        "payments",
        "hammer > 0 AND premium >= 0 AND amount = hammer + premium",
    )
    op.alter_column("payments", "bid_id", existing_type=sa.BigInteger(), nullable=False)
    op.alter_column("payments", "lot_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_index(op.f("ix_payments_invoice_id"), table_name="payments")
    op.drop_constraint(op.f("fk_payments_invoice_id_invoices"), "payments", type_="foreignkey")
    op.drop_column("payments", "tax")
    op.drop_column("payments", "invoice_id")
