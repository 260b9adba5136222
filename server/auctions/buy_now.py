"""Buy-now: the lot closes at its buy-now price for the caller, under the lot's row lock.

Offered until the first bid that meets the reserve (the batch withdraws it
then, `server.auctions.bidding`). A buy-now racing a bid is decided by the row
lock: whichever takes it first wins; the other sees the result (a bid after
the buy-now meets `lot_locked`, a buy-now after a reserve-meeting bid meets
`buy_now_unavailable`). The sale then takes the close's own path: the price is
a bid row (so the history, the hammer and the payment all name it), the lot
goes PENDING_PAYMENT and the payment is created.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.auctions.bidding import LotFigures, refuse_buy_now
from server.auctions.lifecycle import (
    bidder_alias,
    change_status,
    lot_state,
    lot_view,
    put_on_offer,
    record,
    utcnow,
)
from server.auctions.models import Bid, Lot, LotStatus
from server.cards.models import Card
from server.cards.rules import card_required, usable_at
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.errors import NotFound, conflict
from server.users.models import User


async def buy_now(
    context: AppContext, buyer: Identity, lot_id: int, request_id: str
) -> dict[str, Any]:
    """Close `lot_id` at its buy-now price for `buyer`; a retried request_id answers again."""
    try:
        return await _buy_now(context, buyer, lot_id, request_id)
    except IntegrityError:
        # The same request_id raced itself (or a bid): the committed one is the answer now.
        return await _buy_now(context, buyer, lot_id, request_id)


async def _buy_now(
    context: AppContext, buyer: Identity, lot_id: int, request_id: str
) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, buyer)
        session = uow.session
        lot = await session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
        if lot is None:
            raise NotFound("Lot not found")
        earlier = await session.scalar(
            select(Bid).where(Bid.bidder_id == buyer.sub, Bid.request_id == request_id)
        )
        if earlier is not None:
            if earlier.lot_id != lot_id or earlier.id != lot.high_bid_id or lot.winner_id is None:
                raise conflict("conflict", "This request_id was already used for another request")
            return {"ok": True, "lot": lot_view(context, lot)}
        strikes = await session.scalar(select(User.strikes).where(User.id == buyer.sub))
        figures = LotFigures(
            state=lot_state(lot),
            bid_count=lot.bid_count,
            seq=lot.seq,
            reserve_price=lot.reserve_price,
            buy_now_price=lot.buy_now_price,
        )
        refusal = refuse_buy_now(
            figures,
            bidder_id=buyer.sub,
            strikes=strikes or 0,
            strike_limit=context.settings.nonpayment_strikes,
            now=utcnow(),
        )
        if refusal is not None:
            raise refusal
        if context.settings.require_card_to_bid:
            card = (
                await session.execute(
                    select(Card.exp_month, Card.exp_year).where(
                        Card.user_id == buyer.sub, Card.is_default
                    )
                )
            ).first()
            if card is None or not usable_at(card.exp_month, card.exp_year, utcnow()):
                raise card_required()
        price = lot.buy_now_price
        assert price is not None
        previous_leader, previous_amount = lot.high_bidder_id, lot.current_bid
        bid = Bid(lot_id=lot.id, bidder_id=buyer.sub, amount=price, request_id=request_id)
        session.add(bid)
        await session.flush()
        lot.current_bid, lot.high_bidder_id, lot.high_bid_id = price, buyer.sub, bid.id
        lot.bid_count += 1
        lot.leader_max = None
        lot.buy_now_price = None
        seq = record(uow, lot, "buy_now", {"bid_id": bid.id}, actor_id=buyer.sub)
        context.hub.to_lot_after_commit(
            uow,
            lot.id,
            "bid_placed",
            {
                "lot_id": lot.id,
                "seq": seq,
                "bid_id": bid.id,
                "amount": price,
                "bidder": bidder_alias(context, lot.id, buyer.sub),
                "auto": False,
                "bid_count": lot.bid_count,
                "ends_at": lot.ends_at,
                "min_next_bid": price,
                "reserve_met": True,
                "created_at": utcnow(),
            },
        )
        if previous_leader is not None and previous_leader != buyer.sub:
            assert previous_amount is not None
            context.hub.to_user_after_commit(
                uow,
                previous_leader,
                "outbid",
                {
                    "lot_id": lot.id,
                    "amount": price,
                    "your_amount": previous_amount,
                    "min_next_bid": price,
                },
            )
        put_on_offer(lot, bid)
        change_status(
            uow,
            context,
            lot,
            LotStatus.PENDING_PAYMENT,
            reason="buy_now",
            actor_id=buyer.sub,
            buy_now_price=None,
        )
        await context.after_close(uow, context, lot, bid)
        view = lot_view(context, lot)
    if context.scheduler is not None:
        context.scheduler.cancel(f"close:{lot_id}")
    return {"ok": True, "lot": view}
