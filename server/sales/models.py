"""Sales (a catalogue of lots closing one after another) and the invoices of per_sale sales."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.contract.statuses import InvoiceStatus as InvoiceStatus
from server.contract.statuses import SaleStatus as SaleStatus
from server.contract.statuses import Settlement as Settlement
from server.contract.statuses import TaxOn as TaxOn
from server.core.db import Base, TimestampMixin, one_of

#: What a sale row holds; SCHEDULED is OPEN shown before `starts_at` (no job flips it).
SALE_STORED = (SaleStatus.OPEN, SaleStatus.CLOSED)


class Sale(TimestampMixin, Base):
    __tablename__ = "sales"
    __table_args__ = (
        CheckConstraint(one_of("status", SALE_STORED), name="status"),
        CheckConstraint(one_of("settlement", Settlement), name="settlement"),
        CheckConstraint("buyer_premium_bps >= 0", name="premium_nonnegative"),
        CheckConstraint("lot_interval_seconds >= 0", name="interval_nonnegative"),
        CheckConstraint("lots_close_from > starts_at", name="closes_after_start"),
        CheckConstraint("currency ~ '^[a-z]{3}$'", name="currency_code"),
        Index("ix_sales_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    settlement: Mapped[str] = mapped_column(String(16))
    #: Resolved at creation (BUYER_PREMIUM_BPS when the request named none), then fixed.
    buyer_premium_bps: Mapped[int]
    starts_at: Mapped[datetime]
    #: Lot number n (from 1) closes at `lots_close_from + (n - 1) * lot_interval_seconds`.
    lots_close_from: Mapped[datetime]
    lot_interval_seconds: Mapped[int]
    #: Whose lots these are: the seller who created the sale (an admin may create it for one).
    seller_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))
    #: The catalogue's length: the number the next lot added gets is this plus one.
    lot_count: Mapped[int] = mapped_column(default=0, server_default="0")
    closed_at: Mapped[datetime | None]


class Invoice(TimestampMixin, Base):
    """One buyer's bill for a per_sale sale: its lines, totals, and how it was paid."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(one_of("status", InvoiceStatus), name="status"),
        CheckConstraint(one_of("tax_on", TaxOn), name="tax_on"),
        CheckConstraint(
            "hammer >= 0 AND premium >= 0 AND tax >= 0 AND total = hammer + premium + tax",
            name="totals",
        ),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= total", name="refund_bounds"),
        # At most one invoice per buyer and sale collects lines at a time.
        Index(
            "uq_invoices_sale_buyer_open",
            "sale_id",
            "buyer_id",
            unique=True,
            postgresql_where=text("status = 'OPEN'"),
        ),
        Index("ix_invoices_buyer_id_id", "buyer_id", "id"),
        Index("ix_invoices_sale_id_id", "sale_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"))
    buyer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    #: The rates the lines were priced with, fixed when the invoice was opened.
    premium_bps: Mapped[int]
    tax_rate_bps: Mapped[int]
    tax_on: Mapped[str] = mapped_column(String(8))
    hammer: Mapped[int] = mapped_column(default=0, server_default="0")
    premium: Mapped[int] = mapped_column(default=0, server_default="0")
    tax: Mapped[int] = mapped_column(default=0, server_default="0")
    total: Mapped[int] = mapped_column(default=0, server_default="0")
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    issued_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    #: `stripe`, or how an admin took the money at the desk: cash, bank_transfer, other.
    paid_method: Mapped[str | None] = mapped_column(String(16))
    paid_reference: Mapped[str | None] = mapped_column(Text)
    paid_by: Mapped[str | None] = mapped_column(String(255))
    receipt_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Why it ended without payment (EXPIRED, VOID).
    end_reason: Mapped[str | None] = mapped_column(String(64))


class InvoiceLine(Base):
    """A won lot on an invoice: its hammer, the premium and the tax on it."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("hammer > 0 AND premium >= 0 AND tax >= 0", name="amounts"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= hammer + premium + tax",
            name="refund_bounds",
        ),
        UniqueConstraint("invoice_id", "lot_id", name="uq_invoice_lines_invoice_lot"),
        Index("ix_invoice_lines_lot_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    #: The bid being paid for: the winning one, or a next bidder's after an expiry.
    bid_id: Mapped[int] = mapped_column(ForeignKey("bids.id"))
    hammer: Mapped[int]
    premium: Mapped[int]
    tax: Mapped[int]
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Set when the lot was returned (refunded by line).
    returned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    @property
    def total(self) -> int:
        return self.hammer + self.premium + self.tax


class InvoiceLineRefund(Base):
    """The part of a refund booked to one invoice line.

    `refund_id` names the payment's Stripe refund (`refunds`); null for money
    given back at the desk for an invoice paid there. `kind` says how the line
    was chosen: `line` (the lot was returned), `amount` (an admin's amount, newest
    lines first) or `stripe` (a refund made in Stripe's dashboard, newest first).
    A part counts once its refund has succeeded (at the desk: at once).
    """

    __tablename__ = "invoice_line_refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("kind IN ('line', 'amount', 'stripe')", name="kind"),
        UniqueConstraint("refund_id", "line_id", name="uq_invoice_line_refunds_refund_line"),
        Index("ix_invoice_line_refunds_invoice_id", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id", ondelete="CASCADE"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"))
    amount: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
