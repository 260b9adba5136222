"""A lot's public face and its status changes, shared by bidding and payments.

Every status change bumps the lot's `seq`, is written to the lot's history
(`lot_events`) in the same transaction, and is announced to the lot room as
`lot_status` once that transaction commits.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from server.auctions.models import Bid, Lot, LotEvent, LotStatus
from server.auctions.rules import LotState, min_next_bid
from server.core.context import AppContext
from server.core.db import UnitOfWork


def utcnow() -> datetime:
    return datetime.now(UTC)


def bidder_alias(context: AppContext, lot_id: int, user_id: str | None) -> str | None:
    """A stable pseudonym for a bidder on one lot; user ids stay private."""
    if user_id is None:
        return None
    key = context.settings.jwt_secret.encode()
    digest = hmac.new(key, f"alias:{lot_id}:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"Bidder {digest[:6].upper()}"


def lot_state(lot: Lot) -> LotState:
    return LotState(
        status=lot.status,
        seller_id=lot.seller_id,
        currency=lot.currency,
        starting_price=lot.starting_price,
        bid_increment=lot.bid_increment,
        current_bid=lot.current_bid,
        high_bidder_id=lot.high_bidder_id,
        ends_at=lot.ends_at,
    )


def lot_view(context: AppContext, lot: Lot) -> dict[str, Any]:
    """The Lot as clients see it. The reserve itself stays secret."""
    reserve_met = lot.reserve_price is None or (
        lot.current_bid is not None and lot.current_bid >= lot.reserve_price
    )
    return {
        "id": lot.id,
        "title": lot.title,
        "description": lot.description,
        "seller_id": lot.seller_id,
        "currency": lot.currency,
        "starting_price": lot.starting_price,
        "has_reserve": lot.reserve_price is not None,
        "reserve_met": reserve_met,
        "bid_increment": lot.bid_increment,
        "current_bid": lot.current_bid,
        "bid_count": lot.bid_count,
        "high_bidder": bidder_alias(context, lot.id, lot.high_bidder_id),
        "hammer_price": lot.hammer_price,
        "winner": bidder_alias(context, lot.id, lot.winner_id),
        "min_next_bid": min_next_bid(lot_state(lot)),
        "buy_now_price": (
            lot.buy_now_price if lot.status in (LotStatus.SCHEDULED, LotStatus.OPEN) else None
        ),
        "starts_at": lot.starts_at,
        "ends_at": lot.ends_at,
        "status": lot.status,
        "seq": lot.seq,
        "closed_at": lot.closed_at,
        "images": [image_view(image) for image in lot.images],
        "sale_id": lot.sale_id,
        "lot_number": lot.lot_number,
    }


#: What the public sees of a stored image (`server.media` keeps more: keys, sizes).
IMAGE_FIELDS = ("id", "url", "thumb_url", "width", "height", "content_type")


def image_view(image: dict[str, Any]) -> dict[str, Any]:
    return {name: image[name] for name in IMAGE_FIELDS}


def put_on_offer(lot: Lot, bid: Bid) -> None:
    """Make `bid` the sale in force: the lot's `hammer_price` and `winner` from now on.

    Called at the close for the winning bid and again for each next bidder the
    lot is offered to, before the status change, so `lot_status` carries them.
    `current_bid` keeps the highest bid placed; this is the price being paid.
    """
    lot.hammer_price = bid.amount
    lot.winner_id = bid.bidder_id


def record(
    uow: UnitOfWork,
    lot: Lot,
    event_type: str,
    data: dict[str, Any],
    *,
    actor_id: str | None = None,
) -> int:
    """Bump the lot's seq and write the event to its history. Returns the new seq."""
    lot.seq += 1
    uow.session.add(
        LotEvent(lot_id=lot.id, seq=lot.seq, type=event_type, actor_id=actor_id, data=data)
    )
    return lot.seq


def change_status(
    uow: UnitOfWork,
    context: AppContext,
    lot: Lot,
    status: str,
    *,
    reason: str,
    actor_id: str | None = None,
    **details: Any,
) -> None:
    """Move the lot to `status`, record it, and announce `lot_status` after commit."""
    previous = lot.status
    lot.status = status
    if status in (LotStatus.UNSOLD, LotStatus.CANCELED):
        # No sale is in force once every offer has lapsed (or none was made).
        lot.hammer_price = None
        lot.winner_id = None
    if status not in ("SCHEDULED", "OPEN") and lot.closed_at is None:
        lot.closed_at = utcnow()
    seq = record(
        uow,
        lot,
        "status",
        {"from": previous, "to": status, "reason": reason, **details},
        actor_id=actor_id,
    )
    payload = {
        "lot_id": lot.id,
        "seq": seq,
        "status": status,
        "reason": reason,
        "current_bid": lot.current_bid,
        "high_bidder": bidder_alias(context, lot.id, lot.high_bidder_id),
        "hammer_price": lot.hammer_price,
        "winner": bidder_alias(context, lot.id, lot.winner_id),
        "ends_at": lot.ends_at,
        **details,
    }
    context.hub.to_lot_after_commit(uow, lot.id, "lot_status", payload)


async def lock_lot(uow: UnitOfWork, lot_id: int) -> Lot:
    lot = await uow.session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
    assert lot is not None
    return lot


async def hammer(
    uow: UnitOfWork,
    context: AppContext,
    lot: Lot,
    *,
    reason: str,
    actor_id: str | None = None,
) -> Bid | None:
    """The hammer falls on a locked OPEN lot: the winning bid, or None (UNSOLD).

    No bid, or the highest below the reserve: UNSOLD. Otherwise the highest bid
    is the sale in force and the lot is PENDING_PAYMENT (bidding locked); what
    the sale does next is the caller's (`AppContext.after_close`).
    """
    if lot.high_bid_id is None:
        change_status(uow, context, lot, LotStatus.UNSOLD, reason="no_bids", actor_id=actor_id)
        return None
    assert lot.current_bid is not None
    if lot.reserve_price is not None and lot.current_bid < lot.reserve_price:
        change_status(
            uow, context, lot, LotStatus.UNSOLD, reason="reserve_not_met", actor_id=actor_id
        )
        return None
    winning_bid = await uow.session.get(Bid, lot.high_bid_id)
    assert winning_bid is not None
    put_on_offer(lot, winning_bid)
    change_status(uow, context, lot, LotStatus.PENDING_PAYMENT, reason=reason, actor_id=actor_id)
    return winning_bid
