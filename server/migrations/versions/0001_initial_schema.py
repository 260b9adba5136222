"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:19:12.320000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.String(length=255), nullable=True),
        sa.Column("recipient_email", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending_due",
        "outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("strikes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("suspension_lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('bidder', 'seller', 'admin')", name=op.f("ck_users_role")),
        sa.CheckConstraint("strikes >= 0", name=op.f("ck_users_strikes_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("seller_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("starting_price", sa.BigInteger(), nullable=False),
        sa.Column("reserve_price", sa.BigInteger(), nullable=True),
        sa.Column("bid_increment", sa.BigInteger(), nullable=True),
        sa.Column("current_bid", sa.BigInteger(), nullable=True),
        sa.Column("high_bidder_id", sa.String(length=255), nullable=True),
        sa.Column("high_bid_id", sa.BigInteger(), nullable=True),
        sa.Column("bid_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[a-z]{3}$'", name=op.f("ck_lots_currency_code")),
        sa.CheckConstraint(
            "status IN ('SCHEDULED','OPEN','PENDING_PAYMENT','SOLD','UNSOLD','CANCELED')",
            name=op.f("ck_lots_status"),
        ),
        sa.CheckConstraint(
            "bid_increment IS NULL OR bid_increment > 0", name=op.f("ck_lots_increment_positive")
        ),
        sa.CheckConstraint(
            "current_bid IS NULL OR current_bid > 0", name=op.f("ck_lots_current_bid_positive")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_lots_ends_after_start")),
        sa.CheckConstraint(
            "reserve_price IS NULL OR reserve_price > 0", name=op.f("ck_lots_reserve_positive")
        ),
        sa.CheckConstraint("starting_price > 0", name=op.f("ck_lots_starting_price_positive")),
        sa.ForeignKeyConstraint(
            ["high_bidder_id"], ["users.id"], name=op.f("fk_lots_high_bidder_id_users")
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"], name=op.f("fk_lots_seller_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
    )
    op.create_index(
        "ix_lots_open_ends_at",
        "lots",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text("status = 'OPEN'"),
    )
    op.create_index(
        "ix_lots_scheduled_starts_at",
        "lots",
        ["starts_at"],
        unique=False,
        postgresql_where=sa.text("status = 'SCHEDULED'"),
    )
    op.create_index(op.f("ix_lots_seller_id"), "lots", ["seller_id"], unique=False)
    op.create_index("ix_lots_status_id", "lots", ["status", "id"], unique=False)
    op.create_table(
        "bids",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("bidder_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bids_amount_positive")),
        sa.ForeignKeyConstraint(["bidder_id"], ["users.id"], name=op.f("fk_bids_bidder_id_users")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_bids_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
        sa.UniqueConstraint("bidder_id", "request_id", name="uq_bids_bidder_request"),
        sa.UniqueConstraint("lot_id", "amount", name="uq_bids_lot_amount"),
    )
    op.create_index(
        "ix_bids_lot_bidder_amount", "bids", ["lot_id", "bidder_id", "amount"], unique=False
    )
    op.create_index("ix_bids_lot_id_id", "bids", ["lot_id", "id"], unique=False)
    op.create_table(
        "lot_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=255), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_lot_events_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_events")),
        sa.UniqueConstraint("lot_id", "seq", name="uq_lot_events_lot_seq"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("bid_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer_id", sa.String(length=255), nullable=False),
        sa.Column("seller_id", sa.String(length=255), nullable=False),
        sa.Column("offer_number", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("hammer", sa.BigInteger(), nullable=False),
        sa.Column("premium", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("client_secret", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("create_tries", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_code", sa.String(length=128), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("disputed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("dispute_reason", sa.Text(), nullable=True),
        sa.Column("receipt_number", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("card_brand", sa.String(length=32), nullable=True),
        sa.Column("card_last4", sa.String(length=4), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('CREATING','REQUIRES_PAYMENT','REQUIRES_ACTION','PROCESSING','SUCCEEDED','FAILED','EXPIRED','CANCELED','PARTIALLY_REFUNDED','REFUNDED')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_payments_attempts_nonnegative")),
        sa.CheckConstraint(
            "hammer > 0 AND premium >= 0 AND amount = hammer + premium",
            name=op.f("ck_payments_amounts"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount",
            name=op.f("ck_payments_refund_bounds"),
        ),
        sa.ForeignKeyConstraint(["bid_id"], ["bids.id"], name=op.f("fk_payments_bid_id_bids")),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["users.id"], name=op.f("fk_payments_buyer_id_users")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_payments_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["users.id"], name=op.f("fk_payments_seller_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_payments_receipt_number")),
        sa.UniqueConstraint(
            "stripe_payment_intent_id", name=op.f("uq_payments_stripe_payment_intent_id")
        ),
    )
    op.create_index("ix_payments_buyer_id_id", "payments", ["buyer_id", "id"], unique=False)
    op.create_index(
        "ix_payments_creating_retry",
        "payments",
        ["next_retry_at"],
        unique=False,
        postgresql_where=sa.text("status = 'CREATING'"),
    )
    op.create_index(
        "ix_payments_expires_at",
        "payments",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('REQUIRES_PAYMENT','REQUIRES_ACTION')"),
    )
    op.create_index(
        "uq_payments_lot_awaiting",
        "payments",
        ["lot_id"],
        unique=True,
        postgresql_where=sa.text(
            "status IN ('CREATING','REQUIRES_PAYMENT','REQUIRES_ACTION','PROCESSING')"
        ),
    )
    op.create_index(
        "uq_payments_lot_paid",
        "payments",
        ["lot_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('SUCCEEDED','PARTIALLY_REFUNDED','REFUNDED')"),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("failure_code", sa.String(length=128), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("stripe_event_id", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_attempts_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
    )
    op.create_index(
        op.f("ix_payment_attempts_payment_id"), "payment_attempts", ["payment_id"], unique=False
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_refunds_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_refunds_stripe_refund_id")),
    )
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"], unique=False)
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_stripe_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.create_index(
        op.f("ix_stripe_events_payment_id"), "stripe_events", ["payment_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stripe_events_payment_id"), table_name="stripe_events")
    op.drop_table("stripe_events")
    op.drop_index(op.f("ix_refunds_payment_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index(op.f("ix_payment_attempts_payment_id"), table_name="payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_index(
        "uq_payments_lot_paid",
        table_name="payments",
        postgresql_where=sa.text("status IN ('SUCCEEDED','PARTIALLY_REFUNDED','REFUNDED')"),
    )
    op.drop_index(
        "uq_payments_lot_awaiting",
        table_name="payments",
        postgresql_where=sa.text(
            "status IN ('CREATING','REQUIRES_PAYMENT','REQUIRES_ACTION','PROCESSING')"
        ),
    )
    op.drop_index(
        "ix_payments_expires_at",
        table_name="payments",
        postgresql_where=sa.text("status IN ('REQUIRES_PAYMENT','REQUIRES_ACTION')"),
    )
    op.drop_index(
        "ix_payments_creating_retry",
        table_name="payments",
        postgresql_where=sa.text("status = 'CREATING'"),
    )
    op.drop_index("ix_payments_buyer_id_id", table_name="payments")
    op.drop_table("payments")
    op.drop_table("lot_events")
    op.drop_index("ix_bids_lot_id_id", table_name="bids")
    op.drop_index("ix_bids_lot_bidder_amount", table_name="bids")
    op.drop_table("bids")
    op.drop_index("ix_lots_status_id", table_name="lots")
    op.drop_index(op.f("ix_lots_seller_id"), table_name="lots")
    op.drop_index(
        "ix_lots_scheduled_starts_at",
        table_name="lots",
        postgresql_where=sa.text("status = 'SCHEDULED'"),
    )
    op.drop_index(
        "ix_lots_open_ends_at", table_name="lots", postgresql_where=sa.text("status = 'OPEN'")
    )
    op.drop_table("lots")
    op.drop_table("users")
    op.drop_index(
        "ix_outbox_pending_due", table_name="outbox", postgresql_where=sa.text("status = 'pending'")
    )
    op.drop_table("outbox")
