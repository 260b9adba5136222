"""Changing a lot before anyone has bid on it: the same rules as creating one.

The lot as changed is checked whole by `NewLot` (a reserve below the new
starting price is refused as it would be at creation). Once a bid or a maximum
is on the lot its terms are what bidders agreed to, so they stay as they are.
A new start in the future makes an open lot SCHEDULED again (and the reverse),
announced with `lot_status` like any status change.

A lot of a sale takes its buyer's premium from the sale: read here from the
`sales` table by name (`SALES`, the one column needed), as the lot's foreign
key names it, because `auctions` never imports `server.sales`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import column, exists, select, table

from server.auctions.lifecycle import change_status, lot_view, utcnow
from server.auctions.models import Lot, LotStatus, MaxBid
from server.auctions.schedule import schedule_lot
from server.auctions.service import require_manager
from server.contract.base import parse, refusal
from server.contract.lots import EDITABLE_FIELDS, LotChanges, NewLot
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict

log = logging.getLogger(__name__)

#: The sale a lot belongs to, by table name: only what a lot's rules need of it.
SALES = table("sales", column("id"), column("buyer_premium_bps"))


def _draft(lot: Lot, changes: dict[str, Any]) -> dict[str, Any]:
    """The lot's editable fields with `changes` applied, as a new lot's request would say them."""
    merged = {name: getattr(lot, name) for name in EDITABLE_FIELDS} | changes
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in merged.items()
        if value is not None
    }


async def edit_lot(
    context: AppContext, lot_id: int, actor: Identity, changes: LotChanges
) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        lot = await uow.session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
        if lot is None:
            raise NotFound("Lot not found")
        require_manager(actor, lot)
        if lot.status not in (LotStatus.SCHEDULED, LotStatus.OPEN):
            raise conflict(
                "lot_not_open", f"Only a lot that has not closed can change; it is {lot.status}"
            )
        has_maximum = await uow.session.scalar(select(exists().where(MaxBid.lot_id == lot.id)))
        if lot.bid_count > 0 or has_maximum:
            raise conflict(
                "lot_has_bids",
                "Bidders have bid on these terms, so the lot can no longer change",
                bid_count=lot.bid_count,
            )
        premium_bps = context.settings.buyer_premium_bps
        if lot.sale_id is not None:
            premium_bps = await _sale_rules(uow, lot.sale_id, changes)
        draft = parse(NewLot, _draft(lot, changes.changes()), premium_bps=premium_bps)
        for name in EDITABLE_FIELDS:
            setattr(lot, name, getattr(draft, name))
        status = LotStatus.SCHEDULED if lot.starts_at > utcnow() else LotStatus.OPEN
        if status != lot.status:
            change_status(uow, context, lot, status, reason="edited", actor_id=actor.sub)
        await uow.session.flush()
        view = lot_view(context, lot)
        starts_at, ends_at = lot.starts_at, lot.ends_at
        uow.after_commit(lambda: _reschedule(context, lot_id, status, starts_at, ends_at))
    log.info("lot %s changed by %s: %s", lot_id, actor.sub, sorted(changes.model_fields_set))
    return view


#: A lot of a sale takes these from the sale's currency and schedule.
SET_BY_SALE = ("currency", "starts_at", "ends_at")


async def _sale_rules(uow: UnitOfWork, sale_id: int, changes: LotChanges) -> int:
    """Refuse what the lot's sale decides; the sale's buyer's premium for the price rules."""
    fixed = {
        name: f"'{name}' is set by the lot's sale"
        for name in SET_BY_SALE
        if name in changes.model_fields_set
    }
    if fixed:
        raise refusal(fixed)
    premium_bps = await uow.session.scalar(
        select(SALES.c.buyer_premium_bps).where(SALES.c.id == sale_id)
    )
    assert isinstance(premium_bps, int)  # the lot's foreign key keeps its sale
    return premium_bps


async def _reschedule(
    context: AppContext, lot_id: int, status: str, starts_at: datetime, ends_at: datetime
) -> None:
    if context.scheduler is not None and status == LotStatus.OPEN:
        context.scheduler.cancel(f"open:{lot_id}")
    schedule_lot(context, lot_id, status, starts_at, ends_at)
