"""Reading invoices back: one invoice as its buyer or an admin sees it, and listings.

An invoice is visible to its buyer and to admins; to anyone else it does not
exist (the same 404 as an id never issued), like a payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auctions.models import Lot
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.currencies import CURRENCIES
from server.core.errors import NotFound
from server.payments.models import Payment
from server.sales.models import Invoice, InvoiceLine, Sale


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    buyer_id: str | None = None
    sale_id: int | None = None
    status: str | None = None


def line_view(line: InvoiceLine, lot: Lot) -> dict[str, Any]:
    return {
        "id": line.id,
        "lot_id": line.lot_id,
        "lot_number": lot.lot_number,
        "lot_title": lot.title,
        "hammer": line.hammer,
        "premium": line.premium,
        "tax": line.tax,
        "total": line.total,
        "refunded": line.refunded_amount,
        "returned_at": line.returned_at,
    }


def invoice_view(
    invoice: Invoice,
    sale_title: str,
    lines: list[tuple[InvoiceLine, Lot]],
    payment: Payment | None = None,
    *,
    for_admin: bool = False,
) -> dict[str, Any]:
    """The invoice; `attention` (its payment's: what the desk must do) for admins only."""
    return {
        "id": invoice.id,
        "sale_id": invoice.sale_id,
        "sale_title": sale_title,
        "buyer_id": invoice.buyer_id,
        "status": invoice.status,
        "currency": invoice.currency,
        "lines": [line_view(line, lot) for line, lot in lines],
        "totals": {
            "hammer": invoice.hammer,
            "premium": invoice.premium,
            "tax": invoice.tax,
            "total": invoice.total,
            "refunded": invoice.refunded_amount,
        },
        "tax_rate_bps": invoice.tax_rate_bps,
        "tax_on": invoice.tax_on,
        "payment": {
            "payment_id": payment.id if payment is not None else None,
            "payable_by_card": invoice.total <= CURRENCIES[invoice.currency].maximum,
            "method": invoice.paid_method,
            "reference": invoice.paid_reference,
            "paid_at": invoice.paid_at,
            "receipt_number": invoice.receipt_number,
        },
        "attention": payment.attention if for_admin and payment is not None else None,
        "issued_at": invoice.issued_at,
        "end_reason": invoice.end_reason,
        "created_at": invoice.created_at,
    }


async def _views(
    session: AsyncSession, invoices: list[Invoice], *, for_admin: bool
) -> list[dict[str, Any]]:
    if not invoices:
        return []
    ids = [invoice.id for invoice in invoices]
    rows = (
        await session.execute(
            select(InvoiceLine, Lot)
            .join(Lot, Lot.id == InvoiceLine.lot_id)
            .where(InvoiceLine.invoice_id.in_(ids))
            .order_by(InvoiceLine.id)
        )
    ).all()
    by_invoice: dict[int, list[tuple[InvoiceLine, Lot]]] = {invoice_id: [] for invoice_id in ids}
    for line, lot in rows:
        by_invoice[line.invoice_id].append((line, lot))
    sale_ids = {invoice.sale_id for invoice in invoices}
    found = await session.execute(select(Sale.id, Sale.title).where(Sale.id.in_(sale_ids)))
    titles: dict[int, str] = {sale_id: title for sale_id, title in found}
    # The invoice's card payment: the latest made for it (one, unless re-issued).
    latest = (
        select(func.max(Payment.id)).where(Payment.invoice_id.in_(ids)).group_by(Payment.invoice_id)
    )
    paid_with = {
        payment.invoice_id: payment
        for payment in await session.scalars(select(Payment).where(Payment.id.in_(latest)))
    }
    return [
        invoice_view(
            invoice,
            titles[invoice.sale_id],
            by_invoice[invoice.id],
            paid_with.get(invoice.id),
            for_admin=for_admin,
        )
        for invoice in invoices
    ]


async def invoice_for(context: AppContext, invoice_id: int, viewer: Identity) -> dict[str, Any]:
    """The invoice, if `viewer` is its buyer or an admin; otherwise not found."""
    async with context.db.unit_of_work() as uow:
        invoice = await uow.session.get(Invoice, invoice_id)
        if invoice is None or not (viewer.is_admin or invoice.buyer_id == viewer.sub):
            raise NotFound("Invoice not found")
        return (await _views(uow.session, [invoice], for_admin=viewer.is_admin))[0]


async def list_invoices(
    context: AppContext,
    where: InvoiceFilter,
    *,
    limit: int,
    before_id: int | None,
    for_admin: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; a page of invoices and the id the next page starts below."""
    query = select(Invoice).order_by(Invoice.id.desc()).limit(limit + 1)
    if where.buyer_id is not None:
        query = query.where(Invoice.buyer_id == where.buyer_id)
    if where.sale_id is not None:
        query = query.where(Invoice.sale_id == where.sale_id)
    if where.status is not None:
        query = query.where(Invoice.status == where.status)
    if before_id is not None:
        query = query.where(Invoice.id < before_id)
    async with context.db.unit_of_work() as uow:
        invoices = list((await uow.session.scalars(query)).all())
        items = await _views(uow.session, invoices[:limit], for_admin=for_admin)
    next_id = invoices[limit - 1].id if len(invoices) > limit else None
    return items, next_id
