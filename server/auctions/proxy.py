"""eBay's automatic bidding: a new bid against the leader's standing maximum.

Only the leader's maximum can still bid: every other bidder's maximum is at
or below the price already (it lost its contest). So a new bid meets at most
one standing maximum and `contest` settles the two at once, into the visible
bids the history shows, in increasing order:

- the higher maximum wins, at the lower maximum plus one increment, capped at
  the higher maximum (and never below the winner's own standing bid);
- equal maxima: the earlier one (the leader's) wins, at that amount;
- the loser's maximum is shown as their last bid (it is what they committed),
  except where it equals the winner's amount (amounts on a lot are unique).

When the winner's maximum reaches a reserve the price has not, the house bids
the reserve for them (the reserve is met as soon as someone has committed to
it). Nothing here reads the database or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.auctions.rules import LotState, increment_above


@dataclass(frozen=True, slots=True)
class VisibleStep:
    bidder_id: str
    amount: int
    auto: bool


@dataclass(frozen=True, slots=True)
class Contest:
    """The visible bids a request produces, who leads after them and with what maximum."""

    steps: tuple[VisibleStep, ...]
    winner: str
    winner_max: int


def contest(
    state: LotState,
    *,
    leader_max: int | None,
    challenger: str,
    standing: int,
    maximum: int,
    standing_is_auto: bool,
    reserve_price: int | None,
) -> Contest:
    """Settle a challenger's `standing` bid (with `maximum` behind it) against the leader.

    The caller has checked `standing` against the rules and `maximum >= standing`.
    """
    own = VisibleStep(challenger, standing, standing_is_auto)
    leader, price = state.high_bidder_id, state.current_bid
    if leader is None or price is None:
        return _with_reserve(state, (own,), challenger, maximum, reserve_price)
    held = leader_max if leader_max is not None and leader_max > price else price
    steps: list[VisibleStep] = []
    if maximum > held:
        # The challenger wins, at the leader's maximum + one increment, capped at their own.
        final = max(standing, min(held + increment_above(state, held), maximum))
        if standing < held:
            steps += [own, VisibleStep(leader, held, True)]
        elif standing == held:
            # A tie at the leader's maximum: the earlier (theirs) ranks first at that amount.
            steps.append(VisibleStep(leader, held, True))
        else:
            if held > price:
                steps.append(VisibleStep(leader, held, True))
            steps.append(own)
        if final > steps[-1].amount:
            steps.append(VisibleStep(challenger, final, True))
        return _with_reserve(state, tuple(steps), challenger, maximum, reserve_price)
    # The leader keeps the lead: at the challenger's maximum + one increment, capped at
    # their own; on equal maxima the earlier (the leader) wins at that amount.
    final = held if maximum == held else min(maximum + increment_above(state, maximum), held)
    if standing < final:
        steps.append(own)
    if standing < maximum < final:
        steps.append(VisibleStep(challenger, maximum, True))
    steps.append(VisibleStep(leader, final, True))
    return _with_reserve(state, tuple(steps), leader, held, reserve_price)


def raise_own_maximum(state: LotState, maximum: int, *, reserve_price: int | None) -> Contest:
    """The leader raises their maximum: nothing shows, unless it now reaches the reserve."""
    assert state.high_bidder_id is not None
    return _with_reserve(state, (), state.high_bidder_id, maximum, reserve_price)


def _with_reserve(
    state: LotState,
    steps: tuple[VisibleStep, ...],
    winner: str,
    winner_max: int,
    reserve_price: int | None,
) -> Contest:
    price = steps[-1].amount if steps else state.current_bid
    if reserve_price is not None and price is not None and price < reserve_price <= winner_max:
        steps = (*steps, VisibleStep(winner, reserve_price, True))
    return Contest(steps=steps, winner=winner, winner_max=winner_max)
