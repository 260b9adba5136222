"""Sales (catalogues of lots with staggered closes) and per_sale invoices with their lines

Revision ID: 0008_sales_catalogue_invoices
Revises: 0007_lot_images_watchlist
Create Date: 2026-12-06 07:05:47

A lot may belong to a sale (`sale_id`) with its number in the catalogue
(`lot_number`, 1, 2, ...); standalone lots have neither. An invoice collects a
buyer's won lots of a per_sale sale (one OPEN invoice per buyer and sale at a
time, a partial unique index), each an `invoice_lines` row priced when it joined.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_sales_catalogue_invoices"
down_revision: str | None = "0007_lot_images_watchlist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("settlement", sa.String(length=16), nullable=False),
        sa.Column("buyer_premium_bps", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lots_close_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lot_interval_seconds", sa.BigInteger(), nullable=False),
        sa.Column("seller_id", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lot_count", sa.BigInteger(), server_default="0", nullable=False),
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
        sa.CheckConstraint("currency ~ '^[a-z]{3}$'", name=op.f("ck_sales_currency_code")),
        sa.CheckConstraint(
            "settlement IN ('per_lot', 'per_sale')", name=op.f("ck_sales_settlement")
        ),
        sa.CheckConstraint("status IN ('OPEN', 'CLOSED')", name=op.f("ck_sales_status")),
        sa.CheckConstraint("buyer_premium_bps >= 0", name=op.f("ck_sales_premium_nonnegative")),
        sa.CheckConstraint("lot_interval_seconds >= 0", name=op.f("ck_sales_interval_nonnegative")),
        sa.CheckConstraint("lots_close_from > starts_at", name=op.f("ck_sales_closes_after_start")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_sales_created_by_users")
        ),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"], name=op.f("fk_sales_seller_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
    )
    op.create_index(op.f("ix_sales_seller_id"), "sales", ["seller_id"], unique=False)
    op.create_index("ix_sales_status_id", "sales", ["status", "id"], unique=False)
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sale_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("premium_bps", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_bps", sa.BigInteger(), nullable=False),
        sa.Column("tax_on", sa.String(length=8), nullable=False),
        sa.Column("hammer", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("premium", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("tax", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_method", sa.String(length=16), nullable=True),
        sa.Column("paid_reference", sa.Text(), nullable=True),
        sa.Column("paid_by", sa.String(length=255), nullable=True),
        sa.Column("receipt_number", sa.String(length=64), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
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
            "status IN ('OPEN', 'ISSUED', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'EXPIRED', 'VOID')",
            name=op.f("ck_invoices_status"),
        ),
        sa.CheckConstraint(
            "tax_on IN ('premium', 'hammer', 'both')", name=op.f("ck_invoices_tax_on")
        ),
        sa.CheckConstraint(
            "hammer >= 0 AND premium >= 0 AND tax >= 0 AND total = hammer + premium + tax",
            name=op.f("ck_invoices_totals"),
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= total",
            name=op.f("ck_invoices_refund_bounds"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["users.id"], name=op.f("fk_invoices_buyer_id_users")
        ),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], name=op.f("fk_invoices_sale_id_sales")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_invoices_receipt_number")),
    )
    op.create_index("ix_invoices_buyer_id_id", "invoices", ["buyer_id", "id"], unique=False)
    op.create_index("ix_invoices_sale_id_id", "invoices", ["sale_id", "id"], unique=False)
    op.create_index(
        "uq_invoices_sale_buyer_open",
        "invoices",
        ["sale_id", "buyer_id"],
        unique=True,
        postgresql_where=sa.text("status = 'OPEN'"),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("bid_id", sa.BigInteger(), nullable=False),
        sa.Column("hammer", sa.BigInteger(), nullable=False),
        sa.Column("premium", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "hammer > 0 AND premium >= 0 AND tax >= 0", name=op.f("ck_invoice_lines_amounts")
        ),
        sa.CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= hammer + premium + tax",
            name=op.f("ck_invoice_lines_refund_bounds"),
        ),
        sa.ForeignKeyConstraint(["bid_id"], ["bids.id"], name=op.f("fk_invoice_lines_bid_id_bids")),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_invoice_lines_lot_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint("invoice_id", "lot_id", name="uq_invoice_lines_invoice_lot"),
    )
    op.create_index("ix_invoice_lines_lot_id", "invoice_lines", ["lot_id"], unique=False)
    op.add_column("lots", sa.Column("sale_id", sa.BigInteger(), nullable=True))
    op.add_column("lots", sa.Column("lot_number", sa.BigInteger(), nullable=True))
    op.create_unique_constraint("uq_lots_sale_lot_number", "lots", ["sale_id", "lot_number"])
    op.create_foreign_key(op.f("fk_lots_sale_id_sales"), "lots", "sales", ["sale_id"], ["id"])
    op.create_check_constraint(
        op.f("ck_lots_sale_lot_number"), "lots", "(sale_id IS NULL) = (lot_number IS NULL)"
    )
    op.create_check_constraint(
        op.f("ck_lots_lot_number_positive"), "lots", "lot_number IS NULL OR lot_number > 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_lots_lot_number_positive"), "lots", type_="check")
    op.drop_constraint(op.f("ck_lots_sale_lot_number"), "lots", type_="check")
    op.drop_constraint(op.f("fk_lots_sale_id_sales"), "lots", type_="foreignkey")
    op.drop_constraint("uq_lots_sale_lot_number", "lots", type_="unique")
    op.drop_column("lots", "lot_number")
    op.drop_column("lots", "sale_id")
    op.drop_index("ix_invoice_lines_lot_id", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index(
        "uq_invoices_sale_buyer_open",
        table_name="invoices",
        postgresql_where=sa.text("status = 'OPEN'"),
    )
    op.drop_index("ix_invoices_sale_id_id", table_name="invoices")
    op.drop_index("ix_invoices_buyer_id_id", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("ix_sales_status_id", table_name="sales")
    op.drop_index(op.f("ix_sales_seller_id"), table_name="sales")
    op.drop_table("sales")
