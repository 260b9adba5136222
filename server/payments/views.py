"""HTTP transport for payments (SPEC section 6), and the admins' view of all payments.

Payment records are private to their buyer (and admins): responses say
`Cache-Control: private, no-store` so no shared cache keeps them.
"""

from __future__ import annotations

import re

from aiohttp import web

from server.contract.base import parse
from server.contract.payments import AdminPaymentsQuery, CreateIntent, PaymentsQuery, RefundRequest
from server.contract.query import parse_query, path_id
from server.core.context import context_of
from server.core.errors import AppError, Forbidden, Unavailable
from server.core.http import json_response, private, read_json, require_identity
from server.core.pagination import decode_cursor, page
from server.payments import admin, receipt_links, receipts, records, refunds, webhooks
from server.payments.gateway import StripeUnavailable
from server.sales import awaiting, refunding, release

_QVALUE = re.compile(r"([01])(?:\.(\d{0,3}))?")


async def create_intent(request: web.Request) -> web.Response:
    """The live PaymentInfo awaiting the caller for a lot; idempotent."""
    buyer = require_identity(request)
    body = parse(CreateIntent, await read_json(request))
    info = await awaiting.payment_for_lot(context_of(request), buyer.sub, body.lot_id)
    return private(json_response(info))  # it holds the client secret


async def my_payments(request: web.Request) -> web.Response:
    viewer = require_identity(request)
    query = parse_query(PaymentsQuery, request.query)
    where = records.PaymentFilter(buyer_id=viewer.sub, status=query.status)
    return await _page(request, query, where, for_admin=False)


async def admin_payments(request: web.Request) -> web.Response:
    """Any user's payments, for admins.

    `?status=&disputed=&attention=&buyer_id=&lot_id=&limit=&cursor=`; `attention=true`
    lists the payments Stripe permanently refused something for.
    """
    require_identity(request, "admin")
    query = parse_query(AdminPaymentsQuery, request.query)
    where = records.PaymentFilter(
        buyer_id=query.buyer_id,
        status=query.status,
        disputed=query.disputed,
        attention=query.attention,
        lot_id=query.lot_id,
    )
    return await _page(request, query, where, for_admin=True)


async def get_payment(request: web.Request) -> web.Response:
    viewer = require_identity(request)
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    record = await records.payment_details(context_of(request), payment_id, viewer)
    return private(json_response(record))


async def get_receipt(request: web.Request) -> web.Response:
    """The receipt as JSON, or as a printable page for `Accept: text/html`."""
    viewer = require_identity(request)
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    receipt = await receipts.receipt_for(context_of(request), payment_id, viewer)
    if prefers_html(request.headers.get("Accept")):
        response = receipts.printable(receipts.receipt_html(receipt))
    else:
        response = json_response(receipt)
    response.headers["Vary"] = "Accept"
    return private(response)


async def refund_payment(request: web.Request) -> web.Response:
    """Refund a paid payment (admins): all that is left by default, or `amount`.

    Answers once Stripe has answered: 201 with the refund (202 when Stripe
    reports it pending), 503 when Stripe could not be reached (the refund stays
    reserved and the reconcile job sends it), 502 when Stripe refused it.
    """
    admin = require_identity(request)
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    if not admin.is_admin:
        # Another user's payment is a 404, never a 403 (SPEC 6): only its buyer
        # learns that refunds are for admins.
        await records.require_visible(context_of(request), payment_id, admin)
        raise Forbidden("Refunds are made by admins")
    body = parse(RefundRequest, await read_json(request))
    context = context_of(request)
    # An invoice's payment: the refund is booked to the invoice's lines as well.
    booked = await refunding.refund_invoice_payment(
        context, payment_id, amount=body.amount, reason=body.reason, admin=admin.sub
    )
    refund_id, sent = booked or await refunds.refund_payment(
        context, payment_id, amount=body.amount, reason=body.reason, requested_by=admin.sub
    )
    refund = await records.refund_record(context, refund_id)
    if isinstance(sent.error, StripeUnavailable):
        raise Unavailable(
            "Stripe could not be reached; the refund is reserved and will be sent automatically",
            details={"refund": refund},
        )
    if sent.error is not None:
        raise AppError(
            sent.error.message,
            code="refund_failed",
            status=502,
            details={**sent.error.details, "refund": refund},
        )
    payment = await records.admin_payment_details(context, payment_id)
    status = 201 if refund["status"] == "succeeded" else 202
    return private(json_response({"refund": refund, "payment": payment}, status=status))


async def decline_payment(request: web.Request) -> web.Response:
    """The buyer turns down a second-chance offer: no strike, the lot moves on (SPEC 12.5)."""
    buyer = require_identity(request)
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    context = context_of(request)
    await release.release_payment(context, payment_id, reason="declined", buyer_id=buyer.sub)
    record = await records.payment_details(context, payment_id, buyer)
    return private(json_response(record))


async def admin_retry_payment(request: web.Request) -> web.Response:
    """Ask Stripe again now for what the payment waits on (its intent, a cancel, a refund)."""
    who = require_identity(request, "admin")
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    context = context_of(request)
    await admin.retry(context, payment_id, admin=who.sub)
    return private(json_response(await records.admin_payment_details(context, payment_id)))


async def admin_release_payment(request: web.Request) -> web.Response:
    """End an awaiting payment without a strike and apply the expiry policy."""
    require_identity(request, "admin")
    payment_id = path_id(request.match_info["payment_id"], "Payment")
    context = context_of(request)
    await admin.release(context, payment_id)
    return private(json_response(await records.admin_payment_details(context, payment_id)))


async def _page(
    request: web.Request, query: PaymentsQuery, where: records.PaymentFilter, *, for_admin: bool
) -> web.Response:
    items, next_id = await records.list_payments(
        context_of(request),
        where,
        limit=query.limit,
        before_id=decode_cursor(query.cursor),
        for_admin=for_admin,
    )
    return private(json_response(page(items, next_id)))


def prefers_html(accept: str | None) -> bool:
    """True when the Accept header ranks text/html above application/json."""
    ranks = {"text/html": (-1, 0), "application/json": (-1, 0)}
    for part in (accept or "").split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        weight = _weight(params)
        for offer in ranks:
            kind = offer.split("/")[0]
            specificity = {offer: 2, f"{kind}/*": 1, "*/*": 0}.get(media, -1)
            if specificity > ranks[offer][0]:
                ranks[offer] = (specificity, weight)
    html, as_json = ranks["text/html"][1], ranks["application/json"][1]
    return html > 0 and html > as_json


def _weight(params: list[str]) -> int:
    """A media range's q in thousandths (`q=0.8` is 800); a malformed q counts as 0."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() != "q":
            continue
        match = _QVALUE.fullmatch(value.strip())
        if match is None:
            return 0
        thousandths = int(match.group(1)) * 1000 + int(((match.group(2) or "") + "000")[:3])
        return thousandths if thousandths <= 1000 else 0
    return 1000


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/payments/create-intent", create_intent)
    app.router.add_post("/api/payments/webhook", webhooks.receive)
    app.router.add_get("/api/payments/my-payments", my_payments)
    app.router.add_get("/api/payments/{payment_id}", get_payment)
    app.router.add_get("/api/payments/{payment_id}/receipt", get_receipt)
    receipt_links.setup_routes(app)
    app.router.add_post("/api/payments/{payment_id}/refund", refund_payment)
    app.router.add_post("/api/payments/{payment_id}/decline", decline_payment)
    app.router.add_get("/api/admin/payments", admin_payments)
    app.router.add_post("/api/admin/payments/{payment_id}/retry", admin_retry_payment)
    app.router.add_post("/api/admin/payments/{payment_id}/release", admin_release_payment)
