"""The rules of bidding (SPEC section 8), as pure functions of a lot's state.

Every refusal here is an `AppError` with the contract's code; the service
calls these while it holds the lot's row lock, so the answer cannot go stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.auctions.models import LotStatus
from server.core.errors import AppError, conflict
from server.core.money import (
    chargeable_step,
    decimals,
    is_supported_currency,
    price_problem,
)

#: Standard increments when a lot sets none: (price below, in major units;
#: increment, in hundredths of a major unit). $0.05 below $1, ... $500 above $10,000.
STANDARD_INCREMENTS: tuple[tuple[int, int], ...] = (
    (1, 5),
    (5, 25),
    (25, 100),
    (100, 200),
    (250, 500),
    (500, 1_000),
    (1_000, 2_500),
    (2_500, 5_000),
    (5_000, 10_000),
    (10_000, 25_000),
)
TOP_INCREMENT = 50_000


def standard_increment(current: int, currency: str) -> int:
    """The increment above `current` (minor units), never below the chargeable step."""
    unit = 10 ** decimals(currency)
    hundredths = next(
        (increment for below, increment in STANDARD_INCREMENTS if current < below * unit),
        TOP_INCREMENT,
    )
    increment: int = hundredths * unit // 100
    step = chargeable_step(currency)
    return max(step, increment - increment % step)


@dataclass(frozen=True, slots=True)
class LotState:
    """What the rules need to know about a lot, read under its row lock."""

    status: str
    seller_id: str
    currency: str
    starting_price: int
    bid_increment: int | None
    current_bid: int | None
    high_bidder_id: str | None
    ends_at: datetime


def increment_above(state: LotState, amount: int) -> int:
    """The increment a bid must add to `amount` on this lot (its own, else the table's)."""
    return state.bid_increment or standard_increment(amount, state.currency)


def min_next_bid(state: LotState) -> int:
    if state.current_bid is None:
        return state.starting_price
    return state.current_bid + increment_above(state, state.current_bid)


def refuse_bid(
    state: LotState,
    *,
    bidder_id: str,
    amount: int,
    strikes: int,
    strike_limit: int,
    premium_bps: int,
    now: datetime,
    leader_may_raise: bool = False,
    check_amount: bool = True,
) -> AppError | None:
    """Why this bid may not be placed, or None when it may.

    `leader_may_raise`: the leader raising their own maximum is not a self-outbid.
    `check_amount` False checks only who may bid when (buy-now has its own price).
    """
    if state.status == LotStatus.SCHEDULED:
        return conflict("lot_not_open", "Bidding on this lot has not started yet")
    if state.status == LotStatus.PENDING_PAYMENT:
        return conflict("lot_locked", "The hammer has fallen; this lot awaits its buyer's payment")
    if state.status != LotStatus.OPEN or now >= state.ends_at:
        return conflict("auction_ended", "Bidding on this lot has ended")
    if bidder_id == state.seller_id:
        return AppError("Sellers cannot bid on their own lots", code="own_lot", status=403)
    if strikes >= strike_limit:
        return AppError(
            "Bidding is suspended after unpaid wins; contact the auction house",
            code="bidder_suspended",
            status=403,
        )
    if leader_may_raise and state.high_bidder_id == bidder_id:
        return None
    if state.high_bidder_id == bidder_id:
        return conflict("already_highest", "You already hold the highest bid")
    if not check_amount:
        return None
    minimum = min_next_bid(state)
    if amount < minimum:
        return conflict(
            "bid_too_low", f"The next bid must be at least {minimum}", min_next_bid=minimum
        )
    if amount % chargeable_step(state.currency):
        return AppError(
            f"Amounts in {state.currency} must be multiples of {chargeable_step(state.currency)}",
            code="validation_error",
            status=400,
        )
    return refuse_uncharged_amount(state.currency, amount, premium_bps=premium_bps)


def refuse_maximum(
    state: LotState,
    *,
    standing: int,
    maximum: int,
    current_maximum: int | None,
    premium_bps: int,
) -> AppError | None:
    """Why `maximum` may not stand behind a bid, or None. The increment and currency
    tables apply to it as to any bid: at least the next minimum, chargeable."""
    minimum = min_next_bid(state)
    if maximum < minimum:
        return conflict(
            "bid_too_low",
            f"A maximum must be at least the next bid, {minimum}",
            min_next_bid=minimum,
        )
    if maximum < standing:
        return AppError("max_amount must be at least amount", code="validation_error", status=400)
    if current_maximum is not None and maximum <= current_maximum:
        return conflict(
            "bid_too_low",
            f"Your maximum is already {current_maximum}; a maximum can only be raised",
            min_next_bid=minimum,
        )
    step = chargeable_step(state.currency)
    if maximum % step:
        return AppError(
            f"Amounts in {state.currency} must be multiples of {step}",
            code="validation_error",
            status=400,
        )
    return refuse_uncharged_amount(state.currency, maximum, premium_bps=premium_bps)


def refuse_uncharged_amount(currency: str, amount: int, *, premium_bps: int) -> AppError | None:
    """`amount_too_large` when Stripe could not charge this bid with its premium, else None.

    Lots priced before the currency table existed may carry a currency outside
    it; their bids are left to Stripe rather than refused for ever.
    """
    if not is_supported_currency(currency):
        return None
    problem = price_problem(amount, currency, premium_bps=premium_bps)
    if problem is None or problem.kind != "too_large":
        return None
    return AppError(f"Bids on this lot {problem.message}", code="amount_too_large", status=400)


def extended_end(
    ends_at: datetime, now: datetime, *, window_seconds: int, extension_seconds: int
) -> datetime | None:
    """The new end when a bid at `now` falls inside the anti-sniping window, else None."""
    if window_seconds <= 0 or extension_seconds <= 0:
        return None
    if ends_at - now > timedelta(seconds=window_seconds):
        return None
    new_end = now + timedelta(seconds=extension_seconds)
    return new_end if new_end > ends_at else None
