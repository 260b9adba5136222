"""lots.hammer_price and lots.winner_id: the sale in force

Revision ID: 0004_lot_sale_in_force
Revises: 0003_payment_stripe_faults
Create Date: 2026-12-02 01:00:00

The price and bidder of the offer being paid for, which after an expired window
is the next bidder's, not the highest bid. Lots already awaiting payment or
sold take them from their latest offer (the payment with the highest
offer_number).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_lot_sale_in_force"
down_revision: str | None = "0003_payment_stripe_faults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lots", sa.Column("hammer_price", sa.BigInteger(), nullable=True))
    op.add_column("lots", sa.Column("winner_id", sa.String(length=255), nullable=True))
    op.create_foreign_key(op.f("fk_lots_winner_id_users"), "lots", "users", ["winner_id"], ["id"])
    op.execute(
        """
        UPDATE lots SET hammer_price = latest.hammer, winner_id = latest.buyer_id
        FROM (
            SELECT DISTINCT ON (lot_id) lot_id, hammer, buyer_id
            FROM payments ORDER BY lot_id, offer_number DESC
        ) AS latest
        WHERE latest.lot_id = lots.id AND lots.status IN ('PENDING_PAYMENT', 'SOLD')
        """
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_lots_winner_id_users"), "lots", type_="foreignkey")
    op.drop_column("lots", "winner_id")
    op.drop_column("lots", "hammer_price")
