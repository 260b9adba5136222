"""The payments for a seller's lots, read-only: what was paid, refunded, still awaited.

A seller sees the money side of their own lots and nothing of the buyers but
their alias on that lot, the same pseudonym the lot page shows: no id, no
e-mail, no card. Admins see every seller's with `seller_id=`. A per_sale
invoice's payment shows as one item per lot on it, in the same shape as a
lot's payment, with that lot's line of the invoice as its money.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, case, func, select

from server.auctions.lifecycle import bidder_alias
from server.auctions.models import Lot
from server.contract.payments import SellerPaymentsQuery
from server.contract.query import parse_query
from server.core.context import AppContext, context_of
from server.core.http import json_response, private, require_identity
from server.core.money import Breakdown
from server.core.pagination import decode_cursor, page
from server.payments.models import Payment, PaymentStatus
from server.payments.presenters import breakdown_of
from server.sales.models import Invoice, InvoiceLine, InvoiceStatus

#: An invoice whose money was taken (by card or at the desk), refunded since or not.
PAID_INVOICE = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED)

#: An item's status. A lot's payment: the payment's. A line of a per_sale invoice: the
#: invoice's payment's until the invoice is paid (by card or at the desk), then the line's
#: own money: SUCCEEDED, PARTIALLY_REFUNDED or REFUNDED by what was given back for that lot.
item_status: ColumnElement[str] = case(
    (
        Invoice.status.in_(PAID_INVOICE),
        case(
            (InvoiceLine.refunded_amount == 0, PaymentStatus.SUCCEEDED.value),
            (
                InvoiceLine.refunded_amount
                < InvoiceLine.hammer + InvoiceLine.premium + InvoiceLine.tax,
                PaymentStatus.PARTIALLY_REFUNDED.value,
            ),
            else_=PaymentStatus.REFUNDED.value,
        ),
    ),
    else_=Payment.status,
).label("item_status")

#: The lot an item is about: the payment's own, or the invoice line's.
item_lot_id: ColumnElement[int] = func.coalesce(Payment.lot_id, InvoiceLine.lot_id)


def seller_payment_view(
    context: AppContext,
    payment: Payment,
    lot: Lot,
    line: InvoiceLine | None = None,
    invoice: Invoice | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """One item: a lot's payment, or one line (this lot) of an invoice's payment."""
    if line is None:
        amount, breakdown = payment.amount, breakdown_of(payment)
        refunded, paid_at = payment.refunded_amount, payment.paid_at
    else:
        assert invoice is not None
        amount, refunded, paid_at = line.total, line.refunded_amount, invoice.paid_at
        parts = Breakdown(hammer=line.hammer, premium=line.premium, total=line.total)
        breakdown = {**parts.as_dict(), "tax": line.tax}
    return {
        "id": payment.id,
        "lot_id": lot.id,
        "lot_title": lot.title,
        "sale_id": lot.sale_id,
        "lot_number": lot.lot_number,
        "buyer": bidder_alias(context, lot.id, payment.buyer_id),
        "offer_number": payment.offer_number,
        "status": status or payment.status,
        "amount": amount,
        "currency": payment.currency,
        "breakdown": breakdown,
        "refunded_amount": refunded,
        "disputed": payment.disputed,
        "expires_at": payment.expires_at,
        "paid_at": paid_at,
        "created_at": payment.created_at,
    }


async def seller_payments(request: web.Request) -> web.Response:
    """`?status=&lot_id=&limit=&cursor=` (and `seller_id=` for admins), newest first.

    A lot's payment is one item. A per_sale invoice's payment is one item per lot
    on it (the invoice's lots are all the sale's seller's), in line order, with
    that line's money; `limit` counts payments, so an invoice is never split
    across pages, and the cursor is still the last payment's id.
    """
    caller = require_identity(request, "seller", "admin")
    query = parse_query(SellerPaymentsQuery, request.query)
    seller_id = query.seller_id if caller.is_admin and query.seller_id else caller.sub
    items = (
        select(Payment, Lot, InvoiceLine, Invoice, item_status)
        .outerjoin(InvoiceLine, InvoiceLine.invoice_id == Payment.invoice_id)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .join(Lot, Lot.id == item_lot_id)
        .where(Payment.seller_id == seller_id)
    )
    if query.status is not None:
        items = items.where(item_status == query.status)
    if query.lot_id is not None:
        items = items.where(item_lot_id == query.lot_id)
    before_id = decode_cursor(query.cursor)
    if before_id is not None:
        items = items.where(Payment.id < before_id)
    found = items.with_only_columns(Payment.id).distinct().subquery()
    newest = select(found.c.id).order_by(found.c.id.desc()).limit(query.limit + 1)
    context = context_of(request)
    async with context.db.unit_of_work() as uow:
        ids = list((await uow.session.scalars(newest)).all())
        shown = ids[: query.limit]
        rows = (
            await uow.session.execute(
                items.where(Payment.id.in_(shown)).order_by(
                    Payment.id.desc(), InvoiceLine.id.nulls_first()
                )
            )
        ).all()
        listed = [
            seller_payment_view(context, payment, lot, line, invoice, status)
            for payment, lot, line, invoice, status in rows
        ]
    return private(json_response(page(listed, shown[-1] if len(ids) > query.limit else None)))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/seller/payments", seller_payments)
