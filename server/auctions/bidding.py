"""One bid against a lot held in memory: the pure step of a batch.

A batch (`server.auctions.bids`) reads the lot once under its row lock, then
runs each bid through `apply_bid` in arrival order, each against the lot as the
bid before left it. Nothing here touches the database or the clock, so the
step can be tested alone and grown (a house bid for a standing maximum is one
more call of the same step).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from server.auctions.rules import LotState, extended_end, min_next_bid, refuse_bid
from server.core.errors import AppError


@dataclass(frozen=True, slots=True)
class LotFigures:
    """The lot as the rules and the counters see it, between two bids of a batch."""

    state: LotState
    bid_count: int
    seq: int


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
class Placed:
    """An accepted bid and what it did to the lot."""

    bidder_id: str
    amount: int
    request_id: str
    created_at: datetime
    #: `seq` of its `bid_placed` event.
    seq: int
    #: The bidder it outbid (another user), with their amount; None otherwise.
    outbid: tuple[str, int] | None
    #: Set when the bid fell in the anti-sniping window.
    extension: Extension | None
    after: LotFigures

    @property
    def min_next_bid(self) -> int:
        return min_next_bid(self.after.state)


def apply_bid(
    lot: LotFigures,
    *,
    bidder_id: str,
    amount: int,
    request_id: str,
    strikes: int,
    policy: BidPolicy,
    now: datetime,
) -> Placed | AppError:
    """The bid accepted against `lot` (with the lot it leaves), or the reason it is refused."""
    refusal = refuse_bid(
        lot.state,
        bidder_id=bidder_id,
        amount=amount,
        strikes=strikes,
        strike_limit=policy.strike_limit,
        premium_bps=policy.premium_bps,
        now=now,
    )
    if refusal is not None:
        return refusal
    previous = lot.state
    outbid = None
    if previous.high_bidder_id is not None and previous.high_bidder_id != bidder_id:
        assert previous.current_bid is not None
        outbid = (previous.high_bidder_id, previous.current_bid)
    seq = lot.seq + 1
    state = replace(previous, current_bid=amount, high_bidder_id=bidder_id)
    extension = None
    new_end = extended_end(
        previous.ends_at,
        now,
        window_seconds=policy.anti_sniping_window_seconds,
        extension_seconds=policy.anti_sniping_extension_seconds,
    )
    last_seq = seq
    if new_end is not None:
        last_seq = seq + 1
        extension = Extension(previous_end=previous.ends_at, ends_at=new_end, seq=last_seq)
        state = replace(state, ends_at=new_end)
    return Placed(
        bidder_id=bidder_id,
        amount=amount,
        request_id=request_id,
        created_at=now,
        seq=seq,
        outbid=outbid,
        extension=extension,
        after=LotFigures(state=state, bid_count=lot.bid_count + 1, seq=last_seq),
    )
