"""Cards on file: users.stripe_customer_id, cards, payments' off-session attempt

Revision ID: 0006_cards_on_file
Revises: 0005_max_bids_buy_now
Create Date: 2026-12-06 07:00:00

A user's Stripe Customer is created when they first save a card. Of each saved
PaymentMethod we keep its brand, last four digits and expiry only. A payment
remembers which card it charged off-session at the close (chosen before Stripe
is asked, so a retry repeats the same request) and why that charge handed over
to the buyer, if it did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_cards_on_file"
down_revision: str | None = "0005_max_bids_buy_now"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("stripe_customer_id", sa.String(length=255), nullable=True))
    op.create_unique_constraint(
        op.f("uq_users_stripe_customer_id"), "users", ["stripe_customer_id"]
    )
    op.create_table(
        "cards",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.SmallInteger(), nullable=False),
        sa.Column("exp_year", sa.SmallInteger(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("exp_month BETWEEN 1 AND 12", name=op.f("ck_cards_exp_month")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cards_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
    )
    op.create_index("ix_cards_user_id", "cards", ["user_id"], unique=False)
    op.create_index(
        "uq_cards_user_default",
        "cards",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.add_column("payments", sa.Column("auto_charge_method", sa.String(255), nullable=True))
    op.add_column("payments", sa.Column("auto_charge_customer", sa.String(255), nullable=True))
    op.add_column("payments", sa.Column("auto_charge_reason", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("payments", "auto_charge_reason")
    op.drop_column("payments", "auto_charge_customer")
    op.drop_column("payments", "auto_charge_method")
    op.drop_index("uq_cards_user_default", table_name="cards")
    op.drop_index("ix_cards_user_id", table_name="cards")
    op.drop_table("cards")
    op.drop_constraint(op.f("uq_users_stripe_customer_id"), "users", type_="unique")
    op.drop_column("users", "stripe_customer_id")
