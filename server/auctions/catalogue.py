"""The catalogue: which lots a visitor sees, filtered, searched and paged.

Every status is listed unless the query narrows it, so a fresh visitor sees
lots awaiting payment and results as well as open ones. Newest first pages by
id (keyset); soonest end first pages by position, since an anti-sniping
extension can move a lot within that order anyway; so does catalogue order
(a sale's lots by number).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select

from server.auctions.lifecycle import lot_view, utcnow
from server.auctions.models import Lot, LotStatus
from server.contract.lots import CatalogueView, LotSort
from server.core.context import AppContext

#: The lots whose hammer has fallen: results, whether paid for yet or not.
RESULTS = (LotStatus.PENDING_PAYMENT, LotStatus.SOLD, LotStatus.UNSOLD)
_VIEW_STATUSES: dict[CatalogueView, tuple[str, ...]] = {
    "open": (LotStatus.OPEN,),
    "upcoming": (LotStatus.SCHEDULED,),
    "closing_soon": (LotStatus.OPEN,),
    "results": RESULTS,
}


#: Orders paged by position: the cursor is how many lots earlier pages held.
POSITIONAL: dict[str, tuple[Any, ...]] = {
    "ending": (Lot.ends_at.asc(), Lot.id.asc()),
    "lot_number": (
        Lot.sale_id.asc().nulls_last(),
        Lot.lot_number.asc().nulls_last(),
        Lot.id.asc(),
    ),
}


@dataclass(frozen=True, slots=True)
class LotFilter:
    status: str | None = None
    view: CatalogueView | None = None
    q: str | None = None
    seller_id: str | None = None
    sale_id: int | None = None
    closing_within: int = 3600
    sort: LotSort = "newest"


def _like_pattern(text: str) -> str:
    """`text` as a literal part of an ILIKE pattern (its % and _ matched as themselves)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(where: LotFilter) -> Select[Lot]:
    query = select(Lot)
    if where.status is not None:
        query = query.where(Lot.status == where.status)
    if where.view is not None:
        query = query.where(Lot.status.in_(_VIEW_STATUSES[where.view]))
        if where.view == "closing_soon":
            query = query.where(Lot.ends_at <= utcnow() + timedelta(seconds=where.closing_within))
    if where.q is not None:
        query = query.where(Lot.title.ilike(_like_pattern(where.q), escape="\\"))
    if where.seller_id is not None:
        query = query.where(Lot.seller_id == where.seller_id)
    if where.sale_id is not None:
        query = query.where(Lot.sale_id == where.sale_id)
    return query


async def list_lots(
    context: AppContext, where: LotFilter, *, limit: int, cursor: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of lots and the cursor of the next (None on the last page).

    Newest first: `cursor` is the id the page starts below. The other orders:
    `cursor` is how many lots earlier pages held.
    """
    query = _filtered(where).limit(limit + 1)
    if where.sort in POSITIONAL:
        query = query.order_by(*POSITIONAL[where.sort]).offset(cursor or 0)
    else:
        query = query.order_by(Lot.id.desc())
        if cursor is not None:
            query = query.where(Lot.id < cursor)
    async with context.db.unit_of_work() as uow:
        lots = list((await uow.session.scalars(query)).all())
        items = [lot_view(context, lot) for lot in lots[:limit]]
    if len(lots) <= limit:
        return items, None
    if where.sort in POSITIONAL:
        return items, (cursor or 0) + limit
    return items, lots[limit - 1].id
