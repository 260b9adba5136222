"""payments: attention, Stripe retry schedule and lease; every intent we created

Revision ID: 0003_payment_stripe_faults
Revises: 0002_status_checks_from_enums
Create Date: 2026-12-02 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_payment_stripe_faults"
down_revision: str | None = "0002_status_checks_from_enums"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENDED = "status IN ('EXPIRED','FAILED','CANCELED')"


def upgrade() -> None:
    op.add_column(
        "payments", sa.Column("attention", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("payments", sa.Column("last_stripe_error", sa.Text(), nullable=True))
    op.add_column(
        "payments",
        sa.Column("cancel_tries", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "payments", sa.Column("stripe_lease_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_payments_cancel_retry",
        "payments",
        ["next_retry_at"],
        unique=False,
        postgresql_where=sa.text(f"{_ENDED} AND next_retry_at IS NOT NULL"),
    )
    op.create_index(
        "ix_payments_attention",
        "payments",
        ["id"],
        unique=False,
        postgresql_where=sa.text("attention IS NOT NULL"),
    )
    op.add_column(
        "refunds", sa.Column("send_tries", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.add_column("refunds", sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "refunds", sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True)
    )
    op.create_table(
        "payment_intents",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_intents_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_intents")),
    )
    op.create_index(
        op.f("ix_payment_intents_payment_id"), "payment_intents", ["payment_id"], unique=False
    )
    # Intents kept so far are intents we created.
    op.execute(
        "INSERT INTO payment_intents (id, payment_id, created_at) "
        "SELECT stripe_payment_intent_id, id, created_at FROM payments "
        "WHERE stripe_payment_intent_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_intents_payment_id"), table_name="payment_intents")
    op.drop_table("payment_intents")
    op.drop_column("refunds", "stripe_payment_intent_id")
    op.drop_column("refunds", "next_send_at")
    op.drop_column("refunds", "send_tries")
    op.drop_index("ix_payments_attention", table_name="payments")
    op.drop_index("ix_payments_cancel_retry", table_name="payments")
    op.drop_column("payments", "stripe_lease_until")
    op.drop_column("payments", "cancel_tries")
    op.drop_column("payments", "last_stripe_error")
    op.drop_column("payments", "attention")
