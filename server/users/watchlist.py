"""Watchlists: the lots a user keeps an eye on. Private to the user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from server.auctions.lifecycle import lot_view
from server.auctions.models import Lot
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.errors import NotFound, conflict
from server.users.models import WatchedLot

#: Lots one user may watch; the list answers them all, latest first.
MAX_WATCHED = 500


async def watch(context: AppContext, user: Identity, lot_id: int) -> None:
    """Add the lot to the user's watchlist; watching it already is not an error."""
    async with context.db.unit_of_work() as uow:
        if await uow.session.get(Lot, lot_id) is None:
            raise NotFound("Lot not found")
        await context.seen_users.ensure(uow, user)
        count = await uow.session.scalar(
            select(func.count()).select_from(WatchedLot).where(WatchedLot.user_id == user.sub)
        )
        if (count or 0) >= MAX_WATCHED:
            raise conflict(
                "watchlist_full", f"A watchlist holds at most {MAX_WATCHED} lots; remove one first"
            )
        await uow.session.execute(
            insert(WatchedLot)
            .values(user_id=user.sub, lot_id=lot_id)
            .on_conflict_do_nothing(index_elements=[WatchedLot.user_id, WatchedLot.lot_id])
        )


async def unwatch(context: AppContext, user: Identity, lot_id: int) -> None:
    """Take the lot off the user's watchlist; not watching it is not an error."""
    async with context.db.unit_of_work() as uow:
        if await uow.session.get(Lot, lot_id) is None:
            raise NotFound("Lot not found")
        await uow.session.execute(
            delete(WatchedLot).where(WatchedLot.user_id == user.sub, WatchedLot.lot_id == lot_id)
        )


async def watched_lots(context: AppContext, user: Identity) -> list[dict[str, Any]]:
    query = (
        select(Lot)
        .join(WatchedLot, WatchedLot.lot_id == Lot.id)
        .where(WatchedLot.user_id == user.sub)
        .order_by(WatchedLot.created_at.desc(), Lot.id.desc())
        .limit(MAX_WATCHED)
    )
    async with context.db.unit_of_work() as uow:
        lots = (await uow.session.scalars(query)).all()
        return [lot_view(context, lot) for lot in lots]
