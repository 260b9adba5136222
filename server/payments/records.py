"""Reading payments back: listings, one payment's history, and who may see it.

A payment is visible to its buyer and to admins. To anyone else it does not
exist: a stranger gets the same 404 as for a payment id never issued, so ids
cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auctions.models import Lot
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.errors import NotFound
from server.payments.models import Payment, PaymentAttempt, Refund
from server.payments.presenters import payment_record
from server.sales.models import Invoice, Sale


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    buyer_id: str | None = None
    status: str | None = None
    disputed: bool | None = None
    attention: bool | None = None
    lot_id: int | None = None


async def list_payments(
    context: AppContext,
    where: PaymentFilter,
    *,
    limit: int,
    before_id: int | None,
    for_admin: bool,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; returns a page of records and the id the next page starts below."""
    query = (
        select(Payment, func.coalesce(Lot.title, Sale.title))
        .outerjoin(Lot, Lot.id == Payment.lot_id)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .outerjoin(Sale, Sale.id == Invoice.sale_id)
        .order_by(Payment.id.desc())
        .limit(limit + 1)
    )
    if where.buyer_id is not None:
        query = query.where(Payment.buyer_id == where.buyer_id)
    if where.status is not None:
        query = query.where(Payment.status == where.status)
    if where.disputed is not None:
        query = query.where(Payment.disputed.is_(where.disputed))
    if where.attention is not None:
        flagged = Payment.attention.is_not(None)
        query = query.where(flagged if where.attention else ~flagged)
    if where.lot_id is not None:
        query = query.where(Payment.lot_id == where.lot_id)
    if before_id is not None:
        query = query.where(Payment.id < before_id)
    async with context.db.unit_of_work() as uow:
        rows = (await uow.session.execute(query)).all()
    items = [
        {**payment_record(context, payment, for_admin=for_admin), "lot_title": title}
        for payment, title in rows[:limit]
    ]
    next_id = rows[limit - 1][0].id if len(rows) > limit else None
    return items, next_id


async def visible_payment(session: AsyncSession, payment_id: int, viewer: Identity) -> Payment:
    """The payment, if `viewer` is its buyer or an admin; otherwise not found."""
    payment = await session.get(Payment, payment_id)
    if payment is None or not (viewer.is_admin or payment.buyer_id == viewer.sub):
        raise NotFound("Payment not found")
    return payment


async def require_visible(context: AppContext, payment_id: int, viewer: Identity) -> None:
    """Not found unless `viewer` may see the payment: a stranger learns nothing of it."""
    async with context.db.unit_of_work() as uow:
        await visible_payment(uow.session, payment_id, viewer)


async def payment_details(context: AppContext, payment_id: int, viewer: Identity) -> dict[str, Any]:
    """The Payment with every attempt (oldest first) and every refund."""
    async with context.db.unit_of_work() as uow:
        payment = await visible_payment(uow.session, payment_id, viewer)
        return await _details(context, uow.session, payment, for_admin=viewer.is_admin)


async def admin_payment_details(context: AppContext, payment_id: int) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        payment = await uow.session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("Payment not found")
        return await _details(context, uow.session, payment, for_admin=True)


async def _details(
    context: AppContext, session: AsyncSession, payment: Payment, *, for_admin: bool
) -> dict[str, Any]:
    attempts = (
        await session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.payment_id == payment.id)
            .order_by(PaymentAttempt.id)
        )
    ).all()
    refunds = (
        await session.scalars(
            select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)
        )
    ).all()
    if payment.invoice_id is not None:
        title = await session.scalar(
            select(Sale.title)
            .join(Invoice, Invoice.sale_id == Sale.id)
            .where(Invoice.id == payment.invoice_id)
        )
    else:
        title = await session.scalar(select(Lot.title).where(Lot.id == payment.lot_id))
    record = payment_record(
        context, payment, attempts=list(attempts), refunds=list(refunds), for_admin=for_admin
    )
    record["lot_title"] = title
    return record


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "reason": refund.reason,
        "status": refund.status,
        "requested_by": refund.requested_by,
        "created_at": refund.created_at,
    }


async def refund_record(context: AppContext, refund_id: int) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        refund = await uow.session.get(Refund, refund_id)
        if refund is None:
            raise NotFound("Refund not found")
        return refund_view(refund)
