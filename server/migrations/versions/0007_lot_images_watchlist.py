"""Lot images (lots.images) and watchlists (watchlist)

Revision ID: 0007_lot_images_watchlist
Revises: 0006_cards_on_file
Create Date: 2026-12-06 07:20:00

A lot's images are a small ordered list read with every view of the lot, so
they live on its row (JSONB) and change under the lot's row lock. A watchlist
entry is a user's bookmark of a lot; removing the lot's row removes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_lot_images_watchlist"
down_revision: str | None = "0006_cards_on_file"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "lots",
        sa.Column(
            "images",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.create_table(
        "watchlist",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watchlist_user_id_users")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_watchlist_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "lot_id", name=op.f("pk_watchlist")),
    )
    op.create_index(op.f("ix_watchlist_lot_id"), "watchlist", ["lot_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_watchlist_lot_id"), table_name="watchlist")
    op.drop_table("watchlist")
    op.drop_column("lots", "images")
