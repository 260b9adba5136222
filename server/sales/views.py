"""HTTP transport for sales and invoices (SPEC 15), and new lots, standalone or in a sale.

`POST /api/lots` lives here because a lot may join a sale: the sale is read
first, so the lot's prices are checked with the sale's premium and currency,
and every problem is still reported at once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auctions import service as auctions
from server.contract.base import MAX_ID, parse
from server.contract.invoices import (
    AdminInvoicesQuery,
    InvoiceRefundRequest,
    InvoicesQuery,
    MarkPaid,
)
from server.contract.lots import NewLot
from server.contract.query import parse_query, path_id
from server.contract.sales import NewSale, SalesQuery
from server.core.context import context_of
from server.core.errors import AppError, Unavailable
from server.core.http import json_response, private, read_json, require_identity
from server.core.pagination import decode_cursor, page
from server.payments.gateway import StripeUnavailable
from server.payments.receipts import printable
from server.payments.views import prefers_html
from server.sales import catalogue, desk, invoice_page, invoice_records, refunding

MANAGERS = ("seller", "admin")


async def create_lot(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    context = context_of(request)
    body = await read_json(request)
    sale_id = _whole(body.get("sale_id"))
    terms = await catalogue.sale_terms(context, sale_id) if sale_id is not None else None
    draft = parse(NewLot, body, premium_bps=context.settings.buyer_premium_bps, sale=terms)
    if draft.sale_id is None:
        lot = await auctions.create_lot(context, actor, draft)
    else:
        lot = await catalogue.add_lot(context, actor, draft)
    return json_response(lot, status=201)


def _whole(value: Any) -> int | None:
    """An id as the contract would read it (`5` or `5.0`); None when it is no id at all."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        value = int(value)
    if type(value) is int and 0 < value <= MAX_ID:
        return value
    return None


async def create_sale(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    draft = parse(NewSale, await read_json(request))
    return json_response(await catalogue.create_sale(context_of(request), actor, draft), status=201)


async def list_sales(request: web.Request) -> web.Response:
    query = parse_query(SalesQuery, request.query)
    items, next_id = await catalogue.list_sales(
        context_of(request),
        status=query.status,
        limit=query.limit,
        before_id=decode_cursor(query.cursor),
    )
    return json_response(page(items, next_id))


async def get_sale(request: web.Request) -> web.Response:
    sale_id = path_id(request.match_info["sale_id"], "Sale")
    return json_response(await catalogue.get_sale(context_of(request), sale_id))


async def my_invoices(request: web.Request) -> web.Response:
    viewer = require_identity(request)
    query = parse_query(InvoicesQuery, request.query)
    where = invoice_records.InvoiceFilter(buyer_id=viewer.sub, status=query.status)
    return await _invoice_page(request, where, query)


async def admin_invoices(request: web.Request) -> web.Response:
    """The checkout desk's list: `?sale_id=&buyer=&status=&limit=&cursor=` (admins)."""
    require_identity(request, "admin")
    query = parse_query(AdminInvoicesQuery, request.query)
    where = invoice_records.InvoiceFilter(
        buyer_id=query.buyer, sale_id=query.sale_id, status=query.status
    )
    return await _invoice_page(request, where, query, for_admin=True)


async def _invoice_page(
    request: web.Request,
    where: invoice_records.InvoiceFilter,
    query: InvoicesQuery,
    *,
    for_admin: bool = False,
) -> web.Response:
    items, next_id = await invoice_records.list_invoices(
        context_of(request),
        where,
        limit=query.limit,
        before_id=decode_cursor(query.cursor),
        for_admin=for_admin,
    )
    return private(json_response(page(items, next_id)))


async def get_invoice(request: web.Request) -> web.Response:
    """The invoice as JSON, or as a printable page for `Accept: text/html` (buyer, admin)."""
    viewer = require_identity(request)
    invoice_id = path_id(request.match_info["invoice_id"], "Invoice")
    invoice = await invoice_records.invoice_for(context_of(request), invoice_id, viewer)
    if prefers_html(request.headers.get("Accept")):
        response = printable(invoice_page.invoice_html(invoice))
    else:
        response = json_response(invoice)
    response.headers["Vary"] = "Accept"
    return private(response)


async def mark_paid(request: web.Request) -> web.Response:
    """Money for an ISSUED invoice taken at the desk (admins): PAID, its lots SOLD."""
    admin = require_identity(request, "admin")
    invoice_id = path_id(request.match_info["invoice_id"], "Invoice")
    body = parse(MarkPaid, await read_json(request))
    context = context_of(request)
    await desk.mark_paid(
        context, invoice_id, method=body.method, reference=body.reference, admin=admin.sub
    )
    return private(json_response(await invoice_records.invoice_for(context, invoice_id, admin)))


async def refund_invoice(request: web.Request) -> web.Response:
    """Refund a paid invoice by line or by amount (admins): 201 with the invoice.

    Paid by card: answered once Stripe has answered, like a payment's refund (202
    while Stripe reports it pending, 503 when Stripe could not be reached: the
    refund stays reserved and is sent again, 502 when Stripe refused it).
    """
    admin = require_identity(request, "admin")
    invoice_id = path_id(request.match_info["invoice_id"], "Invoice")
    body = parse(InvoiceRefundRequest, await read_json(request))
    context = context_of(request)
    sent = await refunding.refund_invoice(
        context,
        invoice_id,
        line_id=body.line_id,
        amount=body.amount,
        reason=body.reason,
        admin=admin.sub,
    )
    invoice = await invoice_records.invoice_for(context, invoice_id, admin)
    if sent is not None and isinstance(sent.error, StripeUnavailable):
        raise Unavailable(
            "Stripe could not be reached; the refund is reserved and will be sent automatically",
            details={"invoice": invoice},
        )
    if sent is not None and sent.error is not None:
        raise AppError(
            sent.error.message,
            code="refund_failed",
            status=502,
            details={**sent.error.details, "invoice": invoice},
        )
    status = 202 if sent is not None and sent.status == "pending" else 201
    return private(json_response(invoice, status=status))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/lots", create_lot)
    app.router.add_post("/api/sales", create_sale)
    app.router.add_get("/api/sales", list_sales)
    app.router.add_get("/api/sales/{sale_id}", get_sale)
    app.router.add_get("/api/me/invoices", my_invoices)
    app.router.add_get("/api/invoices/{invoice_id}", get_invoice)
    app.router.add_get("/api/admin/invoices", admin_invoices)
    app.router.add_post("/api/admin/invoices/{invoice_id}/mark-paid", mark_paid)
    app.router.add_post("/api/admin/invoices/{invoice_id}/refund", refund_invoice)
