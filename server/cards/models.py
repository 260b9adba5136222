"""Cards on file: what we keep of a user's saved Stripe PaymentMethods.

Only the card's brand, last four digits and expiry: the number, the CVC and
everything else stay at Stripe. `id` is the PaymentMethod's id (`pm_...`).
At most one card per user is the default (the one charged at the hammer).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, SmallInteger, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month"),
        Index("ix_cards_user_id", "user_id"),
        Index(
            "uq_cards_user_default",
            "user_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(SmallInteger)
    exp_year: Mapped[int] = mapped_column(SmallInteger)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RemovedCard(Base):
    """A card removed from its account (detached at Stripe): never stored again.

    Stripe never attaches a detached PaymentMethod again, so a success event for it
    that arrives after the removal is stale (server.cards.service.store_card).
    """

    __tablename__ = "removed_cards"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    removed_at: Mapped[datetime] = mapped_column(server_default=func.now())
