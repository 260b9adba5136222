"""Socket.IO transport for lots: join, leave, bid. Thin: parse, call the service, ack."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.auctions import buy_now as buying
from server.auctions import service
from server.auctions.models import Lot
from server.contract.base import parse, parser
from server.contract.events import BuyNow, JoinLot, LeaveLot, PlaceBid, SetMaxBid
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.errors import AppError
from server.core.logging import bind
from server.realtime.hub import lot_room
from server.realtime.namespace import Caller

#: Every bid goes through this: bound once (see `parser`).
parse_place_bid = parser(PlaceBid)


async def join_lot(context: AppContext, caller: Caller, payload: Any) -> dict[str, Any]:
    lot_id = parse(JoinLot, payload).lot_id
    # Join first, then read: an event racing the snapshot arrives twice, never zero times.
    await context.hub.sio.enter_room(caller.sid, lot_room(lot_id))
    try:
        lot = await service.get_lot(context, lot_id)
    except AppError:
        await context.hub.sio.leave_room(caller.sid, lot_room(lot_id))
        raise
    return {"ok": True, "lot": lot}


async def leave_lot(context: AppContext, caller: Caller, payload: Any) -> dict[str, Any]:
    lot_id = parse(LeaveLot, payload).lot_id
    await context.hub.sio.leave_room(caller.sid, lot_room(lot_id))
    return {"ok": True}


async def place_bid(context: AppContext, caller: Caller, payload: Any) -> dict[str, Any]:
    metrics = context.metrics
    try:
        identity = caller.require_user()
        bid = parse_place_bid(payload)
        request = service.BidRequest(
            lot_id=bid.lot_id,
            amount=bid.amount,
            request_id=bid.request_id,
            max_amount=bid.max_amount,
        )
        return await _bid(context, caller, identity, request)
    except AppError as error:
        # Malformed and anonymous bids count too: every refusal has its code.
        metrics.bids_refused.labels(code=error.code).inc()
        raise


async def set_max_bid(context: AppContext, caller: Caller, payload: Any) -> dict[str, Any]:
    """Leave or raise a maximum: the house bids for the caller up to it (SPEC section 13)."""
    try:
        identity = caller.require_user()
        message = parse(SetMaxBid, payload)
        request = service.BidRequest(
            lot_id=message.lot_id,
            amount=None,
            request_id=message.request_id,
            max_amount=message.max_amount,
        )
        return await _bid(context, caller, identity, request)
    except AppError as error:
        context.metrics.bids_refused.labels(code=error.code).inc()
        raise


async def _bid(
    context: AppContext, caller: Caller, identity: Identity, request: service.BidRequest
) -> dict[str, Any]:
    # The maximum is secret: it is not bound into the log context.
    with bind(sid=caller.sid, lot_id=request.lot_id, user=identity.sub):
        context.bid_limiter.check(identity.sub)
        ack = await service.place_bid(context, identity, request)
    context.metrics.bids_accepted.inc()
    return ack


async def buy_now(context: AppContext, caller: Caller, payload: Any) -> dict[str, Any]:
    identity = caller.require_user()
    message = parse(BuyNow, payload)
    with bind(sid=caller.sid, lot_id=message.lot_id, user=identity.sub):
        context.bid_limiter.check(identity.sub)
        return await buying.buy_now(context, identity, message.lot_id, message.request_id)


async def latest_seqs(context: AppContext, lot_ids: list[int]) -> dict[int, int]:
    """Each lot's latest `seq`, for the `resync` hint after a Redis outage."""
    async with context.db.unit_of_work() as uow:
        rows = await uow.session.execute(select(Lot.id, Lot.seq).where(Lot.id.in_(lot_ids)))
        return {int(lot_id): int(seq) for lot_id, seq in rows}
