"""When a saved card can be charged, and the refusal when a bid needs one.

A card is good through the last moment of its expiry month (UTC, as card
networks count it loosely; Stripe refuses it from the next month on). A card
that lapses before a lot ends could not pay for it at the hammer.
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.core.errors import AppError, conflict


def usable_until(exp_month: int, exp_year: int) -> datetime:
    """The first instant the card no longer works: the start of the month after its expiry."""
    if exp_month >= 12:
        return datetime(exp_year + 1, 1, 1, tzinfo=UTC)
    return datetime(exp_year, exp_month + 1, 1, tzinfo=UTC)


def usable_at(exp_month: int | None, exp_year: int | None, moment: datetime) -> bool:
    """True when a card with this expiry still works at `moment` (no card: False)."""
    if exp_month is None or exp_year is None:
        return False
    return usable_until(exp_month, exp_year) > moment


def card_required(lot_ends_at: datetime | None = None) -> AppError:
    """`card_required` (409): REQUIRE_CARD_TO_BID is on and the bidder has no usable card."""
    if lot_ends_at is None:
        message = "Save a card before bidding: this auction charges the winner's card"
    else:
        message = (
            "Save a card that is valid until this lot ends before bidding: this auction "
            "charges the winner's card"
        )
    return conflict("card_required", message)
