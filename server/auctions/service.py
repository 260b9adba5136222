"""Bidding and the lot lifecycle: the rules applied under the lot's row lock.

Concurrent bids on one lot queue on `SELECT ... FOR UPDATE` of the lot row, so
each sees the previous one's result: accepted bids strictly increase and none
is lost. The close takes the same lock, so a bid racing the close is either
in before it or refused after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, or_, select

from server.auctions.batching import LotBatcher
from server.auctions.bids import QueuedBid, place_batch, place_group
from server.auctions.lifecycle import (
    bidder_alias,
    change_status,
    hammer,
    lot_view,
    record,
    utcnow,
)
from server.auctions.models import Bid, Lot, LotStatus, MaxBid
from server.auctions.schedule import schedule_lot
from server.contract.lots import NewLot
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import Forbidden, NotFound, conflict

log = logging.getLogger(__name__)


async def create_lot(context: AppContext, seller: Identity, draft: NewLot) -> dict[str, Any]:
    """Create the standalone lot `draft` describes; `parse(NewLot, ...)` has checked every rule."""
    assert draft.ends_at is not None  # NewLot requires it without a sale
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, seller)
        lot = await add_lot(
            uow, context, seller_id=seller.sub, draft=draft, ends_at=draft.ends_at, actor=seller
        )
        return lot_view(context, lot)


async def add_lot(
    uow: UnitOfWork,
    context: AppContext,
    *,
    seller_id: str,
    draft: NewLot,
    ends_at: datetime,
    actor: Identity,
    starts_at: datetime | None = None,
    sale_id: int | None = None,
    lot_number: int | None = None,
) -> Lot:
    """Add a lot (standalone, or numbered in a sale) and schedule it once committed.

    It opens at `starts_at` (default: the draft's, else now) and closes at `ends_at`.
    """
    now = utcnow()
    opens = starts_at or draft.starts_at or now
    status = LotStatus.SCHEDULED if opens > now else LotStatus.OPEN
    lot = Lot(
        seller_id=seller_id,
        title=draft.title,
        description=draft.description,
        currency=draft.currency,
        starting_price=draft.starting_price,
        reserve_price=draft.reserve_price,
        bid_increment=draft.bid_increment,
        buy_now_price=draft.buy_now_price,
        starts_at=opens,
        ends_at=ends_at,
        status=status,
        seq=0,
        bid_count=0,
        sale_id=sale_id,
        lot_number=lot_number,
    )
    uow.session.add(lot)
    await uow.session.flush()
    record(uow, lot, "created", {"status": status}, actor_id=actor.sub)
    lot_id = lot.id
    uow.after_commit(lambda: _schedule(context, lot_id, status, opens, ends_at))
    return lot


async def _schedule(
    context: AppContext, lot_id: int, status: str, starts_at: datetime, ends_at: datetime
) -> None:
    schedule_lot(context, lot_id, status, starts_at, ends_at)


async def get_lot(context: AppContext, lot_id: int) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        lot = await uow.session.get(Lot, lot_id)
        if lot is None:
            raise NotFound("Lot not found")
        return lot_view(context, lot)


@dataclass(frozen=True, slots=True)
class BidRequest:
    """`place_bid` (an amount, maybe a maximum) or `set_max_bid` (amount None)."""

    lot_id: int
    amount: int | None
    request_id: str
    max_amount: int | None = None


async def place_bid(context: AppContext, bidder: Identity, request: BidRequest) -> dict[str, Any]:
    """Place a bid, or raise the reason it may not be placed. Returns the ack body.

    The bid joins its lot's next batch (`server.auctions.batching`): bids that
    arrive while a transaction for the lot is in flight share the next one, and
    the batches of lots due at once share a transaction (`place_group`).
    """
    batcher = context.bid_batcher
    if batcher is None:
        batcher = context.bid_batcher = LotBatcher(
            partial(place_batch, context), run_group=partial(place_group, context)
        )
        batcher.observe_batch = context.metrics.bid_batch_size.observe
    queued = QueuedBid(
        bidder=bidder,
        lot_id=request.lot_id,
        amount=request.amount,
        request_id=request.request_id,
        max_amount=request.max_amount,
    )
    return await batcher.submit(request.lot_id, queued)


def _bid_view(bid: Bid, alias: str | None) -> dict[str, Any]:
    return {
        "id": bid.id,
        "lot_id": bid.lot_id,
        "amount": bid.amount,
        "bidder": alias,
        "auto": bid.auto,
        "created_at": bid.created_at,
    }


async def open_lot(context: AppContext, lot_id: int) -> bool:
    """SCHEDULED → OPEN once `starts_at` has come. True when this call opened it."""
    async with context.db.unit_of_work() as uow:
        lot = await uow.session.scalar(
            select(Lot).where(Lot.id == lot_id).with_for_update(skip_locked=True)
        )
        if lot is None or lot.status != LotStatus.SCHEDULED:
            return False
        now = utcnow()
        if lot.starts_at > now:
            return False
        context.metrics.scheduler_lag.labels(job="open").observe(
            (now - lot.starts_at).total_seconds()
        )
        change_status(uow, context, lot, LotStatus.OPEN, reason="starts_at")
        ends_at = lot.ends_at
        uow.after_commit(lambda: _schedule(context, lot_id, LotStatus.OPEN, now, ends_at))
        return True


async def close_lot(
    context: AppContext,
    lot_id: int,
    *,
    actor: Identity | None = None,
    wait_for_lock: bool = True,
) -> str | None:
    """Let the hammer fall: UNSOLD, or the winner handed to the sale (`after_close`).

    Without `actor` this is the scheduled close and only acts once `ends_at` has
    passed; with one it is "close now". Returns the new status, or None when this
    call changed nothing (already closed, not due, or another process holds it).
    """
    async with context.db.unit_of_work() as uow:
        query = select(Lot).where(Lot.id == lot_id).with_for_update(skip_locked=not wait_for_lock)
        lot = await uow.session.scalar(query)
        if lot is None:
            if actor is not None:
                raise NotFound("Lot not found")
            return None
        if actor is not None:
            require_manager(actor, lot)
            if lot.status != LotStatus.OPEN:
                raise conflict(
                    "lot_not_open", f"Only an OPEN lot can be closed; it is {lot.status}"
                )
        elif lot.status != LotStatus.OPEN:
            return None
        now = utcnow()
        if actor is None:
            if lot.ends_at > now:
                ends_at = lot.ends_at
                uow.after_commit(lambda: _schedule(context, lot_id, LotStatus.OPEN, now, ends_at))
                return None
            context.metrics.scheduler_lag.labels(job="close").observe(
                (now - lot.ends_at).total_seconds()
            )
        reason = "closed_by_" + actor.role if actor is not None else "ends_at"
        actor_id = actor.sub if actor is not None else None
        winning_bid = await hammer(uow, context, lot, reason=reason, actor_id=actor_id)
        await context.after_close(uow, context, lot, winning_bid)
        return LotStatus.UNSOLD if winning_bid is None else LotStatus.PENDING_PAYMENT


async def cancel_lot(context: AppContext, lot_id: int, actor: Identity) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        lot = await uow.session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
        if lot is None:
            raise NotFound("Lot not found")
        require_manager(actor, lot)
        if lot.status not in (LotStatus.SCHEDULED, LotStatus.OPEN):
            raise conflict(
                "lot_not_open",
                f"Only a lot that has not closed can be withdrawn; it is {lot.status}",
            )
        change_status(uow, context, lot, LotStatus.CANCELED, reason="withdrawn", actor_id=actor.sub)
        await context.after_close(uow, context, lot, None)
        view = lot_view(context, lot)
    if context.scheduler is not None:
        context.scheduler.cancel(f"close:{lot_id}")
        context.scheduler.cancel(f"open:{lot_id}")
    return view


def require_manager(actor: Identity, lot: Lot) -> None:
    if actor.is_admin or (actor.role == "seller" and actor.sub == lot.seller_id):
        return
    if actor.role == "seller":
        raise Forbidden("Only the lot's seller or an admin can do this")
    raise Forbidden("This requires the lot's seller or an admin")


async def list_bids(context: AppContext, lot_id: int, *, limit: int) -> list[dict[str, Any]]:
    async with context.db.unit_of_work() as uow:
        if await uow.session.get(Lot, lot_id) is None:
            raise NotFound("Lot not found")
        bids = (
            await uow.session.scalars(
                select(Bid).where(Bid.lot_id == lot_id).order_by(Bid.id.desc()).limit(limit)
            )
        ).all()
        return [_bid_view(bid, bidder_alias(context, lot_id, bid.bidder_id)) for bid in bids]


#: Lots `GET /api/me/bids` lists at most, latest first.
MY_BIDS_LIMIT = 200


async def my_bids(context: AppContext, user: Identity) -> list[dict[str, Any]]:
    """The lots `user` bid on or left a maximum on: their maximum, highest bid, lead."""
    highest = (
        select(Bid.lot_id, func.max(Bid.amount).label("highest"))
        .where(Bid.bidder_id == user.sub)
        .group_by(Bid.lot_id)
        .subquery()
    )
    maxima = (
        select(MaxBid.lot_id, func.max(MaxBid.max_amount).label("maximum"))
        .where(MaxBid.bidder_id == user.sub)
        .group_by(MaxBid.lot_id)
        .subquery()
    )
    query = (
        select(Lot, highest.c.highest, maxima.c.maximum)
        .outerjoin(highest, highest.c.lot_id == Lot.id)
        .outerjoin(maxima, maxima.c.lot_id == Lot.id)
        .where(or_(highest.c.highest.is_not(None), maxima.c.maximum.is_not(None)))
        .order_by(Lot.id.desc())
        .limit(MY_BIDS_LIMIT)
    )
    async with context.db.unit_of_work() as uow:
        rows = (await uow.session.execute(query)).all()
        return [
            {
                "lot": lot_view(context, lot),
                "max_amount": maximum,
                "your_highest_bid": highest_bid,
                "leading": lot.high_bidder_id == user.sub,
            }
            for lot, highest_bid, maximum in rows
        ]
