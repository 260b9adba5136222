"""One bid against a lot held in memory: the pure step of a batch, maxima included.

A batch (`server.auctions.bids`) reads the lot once under its row lock, then
runs each request through `apply_bid` in arrival order, each against the lot
as the request before left it. Nothing here touches the database or the
clock, so the step can be tested alone.

Maximum (proxy) bids are resolved here, eBay's way, in the same step: only the
leader's maximum can still bid (every other maximum is at or below the price
already), so a new bid meets at most one standing maximum, and the contest
between the two is settled at once into the visible bids it produces
(`server.auctions.proxy`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from server.auctions.proxy import Contest, VisibleStep, contest, raise_own_maximum
from server.auctions.rules import (
    LotState,
    extended_end,
    min_next_bid,
    refuse_bid,
    refuse_maximum,
)
from server.core.errors import AppError, conflict


@dataclass(frozen=True, slots=True)
class LotFigures:
    """The lot as the rules and the counters see it, between two bids of a batch."""

    state: LotState
    bid_count: int
    seq: int
    #: The leader's secret maximum (None: the leader has none, or there is no leader).
    leader_max: int | None = None
    reserve_price: int | None = None
    buy_now_price: int | None = None


@dataclass(frozen=True, slots=True)
class BidPolicy:
    """The settings the rules need: suspension, the buyer's premium and anti-sniping."""

    strike_limit: int
    premium_bps: int
    anti_sniping_window_seconds: int
    anti_sniping_extension_seconds: int


@dataclass(frozen=True, slots=True)
class Extension:
    """An anti-sniping extension: the end moved from `previous_end` to `ends_at`."""

    previous_end: datetime
    ends_at: datetime
    #: `seq` of its `lot_extended` event.
    seq: int


@dataclass(frozen=True, slots=True)
class VisibleBid:
    """One row of the lot's history and its `bid_placed`: a bid or the house's answer."""

    bidder_id: str
    amount: int
    auto: bool
    #: The caller's request_id on the row that answers their request, else None.
    request_id: str | None
    seq: int
    bid_count: int
    min_next_bid: int
    reserve_met: bool


@dataclass(frozen=True, slots=True)
class Outbid:
    user_id: str
    amount: int
    your_amount: int


@dataclass(frozen=True, slots=True)
class Placed:
    """An accepted request and what it did to the lot."""

    bidder_id: str
    #: The standing bid the caller named (for set_max_bid: None).
    amount: int | None
    max_amount: int | None
    request_id: str
    created_at: datetime
    bids: tuple[VisibleBid, ...]
    #: Each user who lost the lead through this request, once.
    outbids: tuple[Outbid, ...]
    #: Set when the price rose inside the anti-sniping window.
    extension: Extension | None
    #: `seq` of the `lot_status` telling buy-now is gone, when this request withdrew it.
    buy_now_withdrawn_seq: int | None
    leading: bool
    after: LotFigures

    @property
    def min_next_bid(self) -> int:
        return min_next_bid(self.after.state)

    @property
    def own_bid(self) -> VisibleBid | None:
        """The row that answers the caller's request (the one carrying its request_id)."""
        return next((row for row in self.bids if row.request_id is not None), None)


def apply_bid(
    lot: LotFigures,
    *,
    bidder_id: str,
    amount: int | None,
    max_amount: int | None,
    request_id: str,
    strikes: int,
    policy: BidPolicy,
    now: datetime,
) -> Placed | AppError:
    """The request accepted against `lot` (with the lot it leaves), or why it is refused.

    `amount` None is `set_max_bid`: the leader raises their maximum, anyone else
    bids the next minimum with `max_amount` behind it.
    """
    state = lot.state
    leader_raises = amount is None and state.high_bidder_id == bidder_id
    standing = amount if amount is not None else min_next_bid(state)
    refusal = refuse_bid(
        state,
        bidder_id=bidder_id,
        amount=standing,
        strikes=strikes,
        strike_limit=policy.strike_limit,
        premium_bps=policy.premium_bps,
        now=now,
        leader_may_raise=leader_raises,
    )
    if refusal is None and max_amount is not None:
        refusal = refuse_maximum(
            state,
            standing=standing,
            maximum=max_amount,
            current_maximum=lot.leader_max if leader_raises else None,
            premium_bps=policy.premium_bps,
        )
    if refusal is not None:
        return refusal
    if leader_raises:
        assert max_amount is not None
        result = raise_own_maximum(state, max_amount, reserve_price=lot.reserve_price)
    else:
        result = contest(
            state,
            leader_max=lot.leader_max,
            challenger=bidder_id,
            standing=standing,
            maximum=max_amount if max_amount is not None else standing,
            standing_is_auto=amount is None,
            reserve_price=lot.reserve_price,
        )
    return _placed(lot, result, bidder_id, amount, max_amount, request_id, policy, now)


def _placed(
    lot: LotFigures,
    result: Contest,
    bidder_id: str,
    amount: int | None,
    max_amount: int | None,
    request_id: str,
    policy: BidPolicy,
    now: datetime,
) -> Placed:
    previous = lot.state
    state = previous
    seq, bid_count = lot.seq, lot.bid_count
    rows: list[VisibleBid] = []
    tagged = _request_row(result.steps, bidder_id)
    for index, step in enumerate(result.steps):
        seq += 1
        bid_count += 1
        state = replace(state, current_bid=step.amount, high_bidder_id=step.bidder_id)
        rows.append(
            VisibleBid(
                bidder_id=step.bidder_id,
                amount=step.amount,
                auto=step.auto,
                request_id=request_id if index == tagged else None,
                seq=seq,
                bid_count=bid_count,
                min_next_bid=min_next_bid(state),
                reserve_met=lot.reserve_price is None or step.amount >= lot.reserve_price,
            )
        )
    extension = None
    if rows:
        new_end = extended_end(
            previous.ends_at,
            now,
            window_seconds=policy.anti_sniping_window_seconds,
            extension_seconds=policy.anti_sniping_extension_seconds,
        )
        if new_end is not None:
            seq += 1
            extension = Extension(previous_end=previous.ends_at, ends_at=new_end, seq=seq)
            state = replace(state, ends_at=new_end)
    buy_now_price = lot.buy_now_price
    withdrawn_seq = None
    if buy_now_price is not None and rows and _reserve_met(state, lot.reserve_price):
        seq += 1
        withdrawn_seq, buy_now_price = seq, None
    leader_max = result.winner_max if result.winner_max != state.current_bid else None
    if leader_max is not None and state.high_bidder_id != result.winner:
        leader_max = None
    outbids = _outbids(previous, result, rows, bidder_id, amount)
    return Placed(
        bidder_id=bidder_id,
        amount=amount,
        max_amount=max_amount,
        request_id=request_id,
        created_at=now,
        bids=tuple(rows),
        outbids=outbids,
        extension=extension,
        buy_now_withdrawn_seq=withdrawn_seq,
        leading=state.high_bidder_id == bidder_id,
        after=LotFigures(
            state=state,
            bid_count=bid_count,
            seq=seq,
            leader_max=leader_max,
            reserve_price=lot.reserve_price,
            buy_now_price=buy_now_price,
        ),
    )


def _request_row(steps: tuple[VisibleStep, ...], bidder_id: str) -> int | None:
    """Which row carries the request_id: the caller's own bid, else their first automatic one."""
    mine = [index for index, step in enumerate(steps) if step.bidder_id == bidder_id]
    own = [index for index in mine if not steps[index].auto]
    return own[0] if own else (mine[0] if mine else None)


def _reserve_met(state: LotState, reserve_price: int | None) -> bool:
    if state.current_bid is None:
        return False
    return reserve_price is None or state.current_bid >= reserve_price


def _outbids(
    previous: LotState,
    result: Contest,
    rows: list[VisibleBid],
    bidder_id: str,
    amount: int | None,
) -> tuple[Outbid, ...]:
    """One `outbid` per user who lost the lead: the old leader, or a challenger answered at once."""
    if not rows:
        return ()
    final = rows[-1]
    losers = []
    if previous.high_bidder_id is not None and previous.high_bidder_id != final.bidder_id:
        losers.append(previous.high_bidder_id)
    if final.bidder_id != bidder_id:
        losers.append(bidder_id)
    outbids = []
    for user in losers:
        theirs = [row.amount for row in rows if row.bidder_id == user]
        if theirs:
            your_amount = max(theirs)
        elif user == previous.high_bidder_id and previous.current_bid is not None:
            your_amount = previous.current_bid
        else:
            your_amount = amount if amount is not None else final.amount
        outbids.append(Outbid(user_id=user, amount=final.amount, your_amount=your_amount))
    return tuple(outbids)


def refuse_buy_now(
    lot: LotFigures, *, bidder_id: str, strikes: int, strike_limit: int, now: datetime
) -> AppError | None:
    """Why `buy_now` may not close this lot for `bidder_id` now, or None."""
    state = lot.state
    refusal = refuse_bid(
        state,
        bidder_id=bidder_id,
        amount=lot.buy_now_price or 0,
        strikes=strikes,
        strike_limit=strike_limit,
        premium_bps=0,
        now=now,
        leader_may_raise=True,
        check_amount=False,
    )
    if refusal is not None:
        return refusal
    if lot.buy_now_price is None or _reserve_met(state, lot.reserve_price):
        return conflict("buy_now_unavailable", "Buy now is not offered on this lot (any more)")
    return None
