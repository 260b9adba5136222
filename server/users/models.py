"""Users, upserted from JWT claims on first sight."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from server.contract.statuses import Role
from server.core.db import Base, TimestampMixin, one_of

ROLES = tuple(role.value for role in Role)


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        CheckConstraint("strikes >= 0", name="strikes_nonnegative"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="bidder")
    email: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    # Expired payment windows that count against the user (SPEC 8: NONPAYMENT_STRIKES).
    strikes: Mapped[int] = mapped_column(default=0, server_default="0")
    suspension_lifted_at: Mapped[datetime | None]
    #: The user's Stripe Customer (`cus_...`), created when they first save a card.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)


class WatchedLot(Base):
    """A lot on a user's watchlist."""

    __tablename__ = "watchlist"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(
        ForeignKey("lots.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
