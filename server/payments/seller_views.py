"""The payments for a seller's lots, read-only: what was paid, refunded, still awaited.

A seller sees the money side of their own lots and nothing of the buyers but
their alias on that lot, the same pseudonym the lot page shows: no id, no
e-mail, no card. Admins see every seller's with `seller_id=`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.auctions.lifecycle import bidder_alias
from server.auctions.models import Lot
from server.contract.payments import SellerPaymentsQuery
from server.contract.query import parse_query
from server.core.context import AppContext, context_of
from server.core.http import json_response, require_identity
from server.core.pagination import decode_cursor, encode_cursor
from server.payments.models import Payment
from server.payments.presenters import breakdown_of
from server.payments.views import PRIVATE


def seller_payment_view(context: AppContext, payment: Payment, lot: Lot) -> dict[str, Any]:
    return {
        "id": payment.id,
        "lot_id": payment.lot_id,
        "lot_title": lot.title,
        "sale_id": lot.sale_id,
        "lot_number": lot.lot_number,
        "buyer": bidder_alias(context, lot.id, payment.buyer_id),
        "offer_number": payment.offer_number,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "breakdown": breakdown_of(payment),
        "refunded_amount": payment.refunded_amount,
        "disputed": payment.disputed,
        "expires_at": payment.expires_at,
        "paid_at": payment.paid_at,
        "created_at": payment.created_at,
    }


async def seller_payments(request: web.Request) -> web.Response:
    """`?status=&lot_id=&limit=&cursor=` (and `seller_id=` for admins), newest first.

    Lots' own payments; a per_sale invoice's payment (no lot) is read on the invoice.
    """
    caller = require_identity(request, "seller", "admin")
    query = parse_query(SellerPaymentsQuery, request.query)
    seller_id = query.seller_id if caller.is_admin and query.seller_id else caller.sub
    statement = (
        select(Payment, Lot)
        .join(Lot, Lot.id == Payment.lot_id)
        .where(Payment.seller_id == seller_id)
        .order_by(Payment.id.desc())
        .limit(query.limit + 1)
    )
    if query.status is not None:
        statement = statement.where(Payment.status == query.status)
    if query.lot_id is not None:
        statement = statement.where(Payment.lot_id == query.lot_id)
    before_id = decode_cursor(query.cursor)
    if before_id is not None:
        statement = statement.where(Payment.id < before_id)
    context = context_of(request)
    async with context.db.unit_of_work() as uow:
        rows = (await uow.session.execute(statement)).all()
        items = [seller_payment_view(context, payment, lot) for payment, lot in rows[: query.limit]]
    more = len(rows) > query.limit
    cursor = encode_cursor(rows[query.limit - 1][0].id) if more else None
    response = json_response({"items": items, "next_cursor": cursor})
    response.headers.update(PRIVATE)
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/seller/payments", seller_payments)
