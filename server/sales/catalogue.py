"""Sales as catalogues: creating one, numbering its lots, their staggered closes, reading it.

Lot number n (from 1) of a sale closes at `lots_close_from + (n - 1) *
lot_interval_seconds`, the way timed sales close lot by lot; a bid near a
lot's end still extends that lot alone (anti-sniping is per lot). Numbers are
handed out under the sale's row lock, so concurrent additions get 1, 2, 3...
in order, and an addition never races the sale's close (`close_sale_if_done`
takes the same lock).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.auctions import service as auctions
from server.auctions.lifecycle import lot_view, utcnow
from server.auctions.models import Lot, LotStatus
from server.contract.lots import NewLot, SaleTerms
from server.contract.sales import NewSale
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import Forbidden, NotFound, conflict
from server.sales.models import Sale, SaleStatus


def lot_close_time(sale: Sale, lot_number: int) -> datetime:
    """When lot `lot_number` of `sale` is scheduled to close (before any extension)."""
    return sale.lots_close_from + timedelta(seconds=(lot_number - 1) * sale.lot_interval_seconds)


def shown_status(sale: Sale, now: datetime | None = None) -> str:
    """OPEN is shown as SCHEDULED before the sale's start."""
    if sale.status == SaleStatus.OPEN and sale.starts_at > (now or utcnow()):
        return SaleStatus.SCHEDULED
    return sale.status


def sale_view(sale: Sale) -> dict[str, Any]:
    return {
        "id": sale.id,
        "title": sale.title,
        "currency": sale.currency,
        "settlement": sale.settlement,
        "buyer_premium_bps": sale.buyer_premium_bps,
        "starts_at": sale.starts_at,
        "lots_close_from": sale.lots_close_from,
        "lot_interval_seconds": sale.lot_interval_seconds,
        "seller_id": sale.seller_id,
        "created_by": sale.created_by,
        "status": shown_status(sale),
        "lot_count": sale.lot_count,
        "last_lot_closes_at": lot_close_time(sale, sale.lot_count) if sale.lot_count else None,
        "closed_at": sale.closed_at,
        "created_at": sale.created_at,
    }


async def create_sale(context: AppContext, actor: Identity, draft: NewSale) -> dict[str, Any]:
    """Create the sale `draft` describes (checked by `parse(NewSale, ...)`); the actor sells."""
    premium = draft.buyer_premium_bps
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, actor)
        sale = Sale(
            title=draft.title,
            currency=draft.currency,
            settlement=draft.settlement,
            buyer_premium_bps=context.settings.buyer_premium_bps if premium is None else premium,
            starts_at=draft.starts_at or utcnow(),
            lots_close_from=draft.lots_close_from,
            lot_interval_seconds=draft.lot_interval_seconds,
            seller_id=actor.sub,
            created_by=actor.sub,
            status=SaleStatus.OPEN,
            lot_count=0,
        )
        uow.session.add(sale)
        await uow.session.flush()
        await uow.session.refresh(sale)
        return sale_view(sale)


async def sale_terms(context: AppContext, sale_id: int) -> SaleTerms:
    """What a new lot of the sale is checked against; not found when there is no such sale."""
    async with context.db.unit_of_work() as uow:
        sale = await uow.session.get(Sale, sale_id)
        if sale is None:
            raise NotFound("Sale not found")
        return SaleTerms(
            currency=sale.currency,
            premium_bps=sale.buyer_premium_bps,
            next_close=lot_close_time(sale, sale.lot_count + 1),
        )


async def add_lot(context: AppContext, actor: Identity, draft: NewLot) -> dict[str, Any]:
    """Add the lot to its sale's catalogue as the next number, closing on the sale's schedule.

    Its seller is the sale's. 403 unless the actor is the sale's seller or an admin;
    409 `sale_closed` once the sale has closed or its next lot's close time has passed.
    """
    assert draft.sale_id is not None
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, actor)
        sale = await uow.session.scalar(
            select(Sale).where(Sale.id == draft.sale_id).with_for_update()
        )
        if sale is None:
            raise NotFound("Sale not found")
        if not (actor.is_admin or actor.sub == sale.seller_id):
            raise Forbidden("Only the sale's seller or an admin can add lots to it")
        now = utcnow()
        number = sale.lot_count + 1
        ends_at = lot_close_time(sale, number)
        if sale.status != SaleStatus.OPEN or ends_at <= now:
            raise conflict(
                "sale_closed",
                f"Lot {number} of this sale would close at {ends_at.isoformat()}: "
                "the sale no longer takes lots",
            )
        sale.lot_count = number
        lot = await auctions.add_lot(
            uow,
            context,
            seller_id=sale.seller_id,
            draft=draft,
            ends_at=ends_at,
            actor=actor,
            starts_at=draft.starts_at or max(sale.starts_at, now),
            sale_id=sale.id,
            lot_number=number,
        )
        return lot_view(context, lot)


async def get_sale(context: AppContext, sale_id: int) -> dict[str, Any]:
    """The sale with its lots in catalogue order."""
    async with context.db.unit_of_work() as uow:
        sale = await uow.session.get(Sale, sale_id)
        if sale is None:
            raise NotFound("Sale not found")
        lots = (
            await uow.session.scalars(
                select(Lot).where(Lot.sale_id == sale_id).order_by(Lot.lot_number)
            )
        ).all()
        return {**sale_view(sale), "lots": [lot_view(context, lot) for lot in lots]}


async def list_sales(
    context: AppContext, *, status: str | None, limit: int, before_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; a page and the id the next page starts below."""
    query = select(Sale).order_by(Sale.id.desc()).limit(limit + 1)
    now = utcnow()
    if status == SaleStatus.SCHEDULED:
        query = query.where(Sale.status == SaleStatus.OPEN, Sale.starts_at > now)
    elif status == SaleStatus.OPEN:
        query = query.where(Sale.status == SaleStatus.OPEN, Sale.starts_at <= now)
    elif status is not None:
        query = query.where(Sale.status == status)
    if before_id is not None:
        query = query.where(Sale.id < before_id)
    async with context.db.unit_of_work() as uow:
        sales = (await uow.session.scalars(query)).all()
    next_id = sales[limit - 1].id if len(sales) > limit else None
    return [sale_view(sale) for sale in sales[:limit]], next_id


async def close_sale_if_done(uow: UnitOfWork, sale_id: int) -> Sale | None:
    """Close the sale once none of its lots is SCHEDULED or OPEN; the Sale when this call did.

    Call it in the transaction that moved one of its lots out of OPEN (the hammer, a
    withdrawal). It takes the sale's row lock, so of two lots closing at once exactly
    one call sees the other's lot closed and returns the sale: that call issues the
    invoices. Flushes, never commits.
    """
    # FOR NO KEY UPDATE: closes of other lots hold a KEY SHARE on the sale (their new
    # invoice row's foreign key), which FOR UPDATE would wait on, in a deadlock.
    sale = await uow.session.scalar(
        select(Sale).where(Sale.id == sale_id).with_for_update(key_share=True)
    )
    if sale is None or sale.status != SaleStatus.OPEN:
        return None
    still_open = await uow.session.scalar(
        select(Lot.id)
        .where(Lot.sale_id == sale_id, Lot.status.in_((LotStatus.SCHEDULED, LotStatus.OPEN)))
        .limit(1)
    )
    if still_open is not None:
        return None
    sale.status = SaleStatus.CLOSED
    sale.closed_at = utcnow()
    await uow.session.flush()
    return sale
