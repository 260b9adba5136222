"""Lots, their bids and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.contract.statuses import LotStatus as LotStatus
from server.core.db import Base, TimestampMixin, one_of


class Lot(TimestampMixin, Base):
    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint(one_of("status", LotStatus), name="status"),
        CheckConstraint("starting_price > 0", name="starting_price_positive"),
        CheckConstraint("reserve_price IS NULL OR reserve_price > 0", name="reserve_positive"),
        CheckConstraint("bid_increment IS NULL OR bid_increment > 0", name="increment_positive"),
        CheckConstraint("current_bid IS NULL OR current_bid > 0", name="current_bid_positive"),
        CheckConstraint("buy_now_price IS NULL OR buy_now_price > 0", name="buy_now_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("currency ~ '^[a-z]{3}$'", name="currency_code"),
        # The schedule lives in the rows: these indexes serve the sweeps.
        Index("ix_lots_open_ends_at", "ends_at", postgresql_where=text("status = 'OPEN'")),
        Index(
            "ix_lots_scheduled_starts_at",
            "starts_at",
            postgresql_where=text("status = 'SCHEDULED'"),
        ),
        Index("ix_lots_status_id", "status", "id"),
        # A lot of a sale has its number in the catalogue; a standalone lot has neither.
        CheckConstraint("(sale_id IS NULL) = (lot_number IS NULL)", name="sale_lot_number"),
        CheckConstraint("lot_number IS NULL OR lot_number > 0", name="lot_number_positive"),
        UniqueConstraint("sale_id", "lot_number", name="uq_lots_sale_lot_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    currency: Mapped[str] = mapped_column(String(3))
    starting_price: Mapped[int]
    reserve_price: Mapped[int | None]
    bid_increment: Mapped[int | None]
    current_bid: Mapped[int | None]
    high_bidder_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    high_bid_id: Mapped[int | None]
    # The sale in force: price and bidder of the offer being paid for (null while none is).
    hammer_price: Mapped[int | None]
    # Offered until the first bid that meets the reserve; then null.
    buy_now_price: Mapped[int | None]
    # The leader's maximum (secret: never in a view); null when they left none.
    leader_max: Mapped[int | None]
    winner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    bid_count: Mapped[int] = mapped_column(default=0, server_default="0")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    # Per-lot event counter: grows by one for every event emitted to the lot room.
    seq: Mapped[int] = mapped_column(default=0, server_default="0")
    closed_at: Mapped[datetime | None]
    # The lot's images in display order (the first is the cover): what `server.media`
    # stored for each. Kept on the row so every Lot view carries them without a query.
    images: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    #: The sale this lot is catalogued in, and its number there (1, 2, ...); null standalone.
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    lot_number: Mapped[int | None]


class Bid(Base):
    __tablename__ = "bids"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # Accepted bids on a lot strictly increase, so no two share an amount.
        UniqueConstraint("lot_id", "amount", name="uq_bids_lot_amount"),
        # A retried request_id returns the first result and places no second bid.
        UniqueConstraint("bidder_id", "request_id", name="uq_bids_bidder_request"),
        Index("ix_bids_lot_id_id", "lot_id", "id"),
        Index("ix_bids_lot_bidder_amount", "lot_id", "bidder_id", "amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    bidder_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int]
    # The bidder's request this row answers; null on the house's other automatic bids.
    request_id: Mapped[str | None] = mapped_column(String(128))
    # Placed by the house for a standing maximum (or a set_max_bid), not named by the bidder.
    auto: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Set once the lot is decided: 'won' for the bid that was paid for.
    outcome: Mapped[str | None] = mapped_column(String(16))


class MaxBid(Base):
    """A maximum a bidder left on a lot: one row per request (place_bid with max_amount or
    set_max_bid), so a retried request_id finds its first result. Secret to its bidder."""

    __tablename__ = "max_bids"
    __table_args__ = (
        CheckConstraint("max_amount > 0", name="max_amount_positive"),
        UniqueConstraint("bidder_id", "request_id", name="uq_max_bids_bidder_request"),
        Index("ix_max_bids_bidder_lot", "bidder_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    bidder_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    request_id: Mapped[str] = mapped_column(String(128))
    # The standing bid named with it (null for set_max_bid).
    amount: Mapped[int | None]
    max_amount: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LotEvent(Base):
    """The lot's history: every status change and every event sent to its room."""

    __tablename__ = "lot_events"
    __table_args__ = (UniqueConstraint("lot_id", "seq", name="uq_lot_events_lot_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
