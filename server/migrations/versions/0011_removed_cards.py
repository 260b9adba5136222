"""Cards removed from an account are remembered: removed_cards

Revision ID: 0011_removed_cards
Revises: 0010_invoice_payments
Create Date: 2026-12-06 15:06:00

A PaymentMethod detached at Stripe can never be attached again. A
`setup_intent.succeeded` that was delayed (its PaymentMethod fetched while the
card was still attached, its transaction after the bidder removed the card)
must not bring the card back: the ids of removed cards are kept, and a card
whose id is among them is never stored again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_removed_cards"
down_revision: str | None = "0010_invoice_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "removed_cards",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column(
            "removed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removed_cards")),
    )


def downgrade() -> None:
    op.drop_table("removed_cards")
