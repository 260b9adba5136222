"""Maximum (proxy) bids and buy-now: max_bids, bids.auto, lots.buy_now_price, lots.leader_max

Revision ID: 0005_max_bids_buy_now
Revises: 0004_lot_sale_in_force
Create Date: 2026-12-02 02:00:00

The house's automatic bids are rows of the history like any other (`auto`
true); only the row answering a request carries its request_id, so the
column becomes nullable. Each maximum a bidder leaves is a `max_bids` row
(one per request); the leader's maximum is also kept on the lot, which the
bid path reads under the row lock anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_max_bids_buy_now"
down_revision: str | None = "0004_lot_sale_in_force"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lots", sa.Column("buy_now_price", sa.BigInteger(), nullable=True))
    op.add_column("lots", sa.Column("leader_max", sa.BigInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_lots_buy_now_positive"), "lots", "buy_now_price IS NULL OR buy_now_price > 0"
    )
    op.add_column(
        "bids", sa.Column("auto", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.alter_column("bids", "request_id", existing_type=sa.String(length=128), nullable=True)
    op.create_table(
        "max_bids",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("bidder_id", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("max_amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("max_amount > 0", name=op.f("ck_max_bids_max_amount_positive")),
        sa.ForeignKeyConstraint(
            ["bidder_id"], ["users.id"], name=op.f("fk_max_bids_bidder_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_max_bids_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_max_bids")),
        sa.UniqueConstraint("bidder_id", "request_id", name="uq_max_bids_bidder_request"),
    )
    op.create_index("ix_max_bids_bidder_lot", "max_bids", ["bidder_id", "lot_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_max_bids_bidder_lot", table_name="max_bids")
    op.drop_table("max_bids")
    op.execute("DELETE FROM bids WHERE request_id IS NULL")
    op.alter_column("bids", "request_id", existing_type=sa.String(length=128), nullable=False)
    op.drop_column("bids", "auto")
    op.drop_constraint(op.f("ck_lots_buy_now_positive"), "lots", type_="check")
    op.drop_column("lots", "leader_max")
    op.drop_column("lots", "buy_now_price")
