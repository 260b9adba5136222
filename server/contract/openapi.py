"""The OpenAPI 3.1 document of the HTTP API, served at `/api/openapi.json`.

Every schema in it is generated from the contract models the handlers parse
with (`server.contract`). What stays written by hand is this table: each
operation's path, who may call it, its models and its status codes.
tests/test_openapi.py checks that every route the app serves is in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from server.contract import cards, invoices, lots, media, payments, sales, users
from server.contract.base import NO_NUL_PATTERN
from server.contract.common import Error, Health, Readiness
from server.contract.query import Query
from server.contract.schema import Schema, component_schemas, parameters, ref
from server.core.http import json_response
from server.settings import Settings

JSON = "application/json"

ERRORS = {
    400: ("validation_error", "The request is not valid; `fields` names each bad field"),
    401: ("unauthorized", "A valid bearer token is required"),
    403: ("forbidden", "The caller's role or relation to the resource does not allow this"),
    404: ("not_found", "No such resource, or not the caller's"),
    409: ("conflict", "The resource's state does not allow this; the code names the state"),
    413: ("validation_error", "The request body is larger than allowed (1 MiB; an image 10 MB)"),
    429: ("rate_limited", "Too many requests"),
    502: ("refund_failed", "Stripe refused the request"),
    503: ("unavailable", "A service this depends on is unavailable; retry later"),
}
#: Path parameters by name: ids are positive integers, a user is their token's `sub`.
PATH_PARAMETERS: dict[str, Schema] = {
    "lot_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "payment_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "image_id": {"type": "string", "pattern": media.IMAGE_ID_PATTERN},
    "sale_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "invoice_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "sub": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NO_NUL_PATTERN},
    "card_id": {"type": "string", "pattern": "^pm_[A-Za-z0-9_]{1,250}$"},
}


@dataclass(frozen=True)
class Operation:
    """One row of the table: the rest of the operation is generated from its models."""

    method: str
    path: str
    summary: str
    response: type[BaseModel] | Schema | None
    ok: int = 200
    errors: tuple[int, ...] = ()
    auth: bool = False
    body: type[BaseModel] | None = None
    query: type[Query] | None = None
    responses: dict[str, Schema] = field(default_factory=dict)
    #: Models the hand-written `responses` refer to.
    refers_to: tuple[type[BaseModel], ...] = ()
    extra: Schema = field(default_factory=dict)


def _auth(*roles: str) -> tuple[int, ...]:
    return (401, 403) if roles else (401,)


OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/healthz", "Process alive", Health),
    Operation(
        "get",
        "/readyz",
        "Database reachable and migrated to head",
        Readiness,
        responses={
            "503": {"description": "Not ready", "content": {JSON: {"schema": ref(Readiness)}}}
        },
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics. Not public: 404 unless METRICS_TOKEN is set (then "
        "`Authorization: Bearer <METRICS_TOKEN>`, not a user's JWT) or in dev mode; "
        "with METRICS_PORT it is served on that port only",
        None,
        errors=(401, 404),
        responses={
            "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
        },
    ),
    Operation("get", "/api/openapi.json", "This document", {"type": "object"}),
    Operation(
        "get",
        "/api/asyncapi.json",
        "The AsyncAPI 3 document of the Socket.IO events",
        {"type": "object"},
    ),
    Operation(
        "post",
        "/api/lots",
        "Create a lot (seller, admin); with `sale_id`, the next lot of that sale (its"
        " seller, admin): 404 for no such sale, 409 `sale_closed` once it takes no lots",
        lots.Lot,
        ok=201,
        errors=(400, *_auth("seller"), 404, 409, 413),
        auth=True,
        body=lots.NewLot,
    ),
    Operation(
        "post",
        "/api/sales",
        "Create a sale: a catalogue whose lots close one after another (seller, admin)",
        sales.Sale,
        ok=201,
        errors=(400, *_auth("seller"), 413),
        auth=True,
        body=sales.NewSale,
    ),
    Operation(
        "get",
        "/api/sales",
        "List sales, newest first",
        sales.SalePage,
        errors=(400,),
        query=sales.SalesQuery,
    ),
    Operation(
        "get",
        "/api/sales/{sale_id}",
        "A sale with its lots in catalogue order",
        sales.SaleDetail,
        errors=(404,),
    ),
    Operation(
        "get",
        "/api/lots",
        "List lots, newest first",
        lots.LotPage,
        errors=(400,),
        query=lots.LotsQuery,
    ),
    Operation("get", "/api/lots/{lot_id}", "A lot", lots.Lot, errors=(404,)),
    Operation(
        "get",
        "/api/lots/{lot_id}/bids",
        "A lot's bids, newest first",
        lots.BidList,
        errors=(400, 404),
        query=lots.BidsQuery,
    ),
    Operation(
        "get",
        "/api/me/bids",
        "The lots the caller bid on, with their maximum (secret: only they see it) "
        "and whether they lead",
        lots.MyBidList,
        errors=(401,),
        auth=True,
    ),
    Operation(
        "post",
        "/api/lots/{lot_id}/close",
        "Close now: the hammer falls (admin, the lot's seller)",
        lots.Lot,
        errors=(*_auth("seller"), 404, 409),
        auth=True,
    ),
    Operation(
        "post",
        "/api/lots/{lot_id}/cancel",
        "Withdraw a lot that is not yet closed (admin, the lot's seller)",
        lots.Lot,
        errors=(*_auth("seller"), 404, 409),
        auth=True,
    ),
    Operation(
        "patch",
        "/api/lots/{lot_id}",
        "Change a lot before anyone bids (its seller, admin): the named fields, checked with"
        " the rest as a new lot is. 409 `lot_has_bids` once a bid or maximum is on it,"
        " `lot_not_open` once closed",
        lots.Lot,
        errors=(400, *_auth("seller"), 404, 409, 413),
        auth=True,
        body=lots.LotChanges,
    ),
    Operation(
        "post",
        "/api/lots/{lot_id}/images",
        "Add an image to a lot (its seller, admin) until it closes: multipart/form-data with"
        " one part `file`, a JPEG, PNG or WebP image (read from its bytes, not its name) of at"
        " most MEDIA_MAX_BYTES (10 MB); stored re-encoded without its metadata, with a"
        " thumbnail. 409 `lot_not_open` once closed, `too_many_images` past 20",
        media.Image,
        ok=201,
        errors=(400, *_auth("seller"), 404, 409, 413),
        auth=True,
        extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                            "required": ["file"],
                            "additionalProperties": False,
                        },
                        "encoding": {"file": {"contentType": "image/jpeg, image/png, image/webp"}},
                    }
                },
            }
        },
    ),
    Operation(
        "put",
        "/api/lots/{lot_id}/images/order",
        "Put a lot's images in this order, the first being the cover (its seller, admin)."
        " 409 `images_changed` unless it names each image of the lot once, `lot_not_open`"
        " once closed",
        lots.Lot,
        errors=(400, *_auth("seller"), 404, 409, 413),
        auth=True,
        body=media.ImageOrder,
    ),
    Operation(
        "delete",
        "/api/lots/{lot_id}/images/{image_id}",
        "Remove an image of a lot and its files (its seller, admin), at any time",
        lots.Lot,
        errors=(*_auth("seller"), 404),
        auth=True,
    ),
    Operation(
        "post",
        "/api/payments/create-intent",
        "The payment awaiting the caller for a lot; idempotent."
        " 409 `no_pending_payment` when there is none",
        payments.PaymentInfo,
        errors=(400, 401, 404, 409, 413, 503),
        auth=True,
        body=payments.CreateIntent,
    ),
    Operation(
        "get",
        "/api/payments/my-payments",
        "The caller's payments, newest first",
        payments.PaymentPage,
        errors=(400, 401),
        auth=True,
        query=payments.PaymentsQuery,
    ),
    Operation(
        "get",
        "/api/payments/{payment_id}",
        "A payment with its attempts and refunds (its buyer, admin)",
        payments.Payment,
        errors=(401, 404),
        auth=True,
    ),
    Operation(
        "get",
        "/api/payments/{payment_id}/receipt",
        "The receipt; `Accept: text/html` gives a printable page (its buyer, admin)."
        " 409 `no_receipt` until the payment succeeded",
        None,
        errors=(401, 404, 409),
        auth=True,
        responses={
            "200": {
                "description": "OK",
                "content": {
                    JSON: {"schema": ref(payments.Receipt)},
                    "text/html": {"schema": {"type": "string"}},
                },
            }
        },
        refers_to=(payments.Receipt,),
    ),
    Operation(
        "post",
        "/api/payments/{payment_id}/receipt-link",
        "A signed link to the printable receipt that works without an Authorization header,"
        " for 15 minutes (its buyer, admin). 409 `no_receipt` until the payment succeeded",
        payments.ReceiptLink,
        errors=(401, 404, 409),
        auth=True,
    ),
    Operation(
        "post",
        "/api/invoices/{invoice_id}/link",
        "A signed link to the printable invoice that works without an Authorization header,"
        " for 15 minutes (its buyer, admin)",
        payments.ReceiptLink,
        errors=(401, 404),
        auth=True,
    ),
    Operation(
        "post",
        "/api/payments/{payment_id}/refund",
        "Refund all that is left (default) or `amount`, never more than was paid"
        " (admin). 201 once refunded, 202 while Stripe reports it pending",
        payments.RefundResult,
        ok=201,
        errors=(400, *_auth("admin"), 404, 409, 413, 502, 503),
        auth=True,
        body=payments.RefundRequest,
        responses={
            "202": {
                "description": "Accepted; Stripe reports the refund pending",
                "content": {JSON: {"schema": ref(payments.RefundResult)}},
            }
        },
    ),
    Operation(
        "post",
        "/api/payments/{payment_id}/decline",
        "Turn down a second-chance offer (its buyer): no strike, the lot moves on."
        " 409 `not_second_chance` for the winner's own payment, `no_pending_payment`"
        " once it no longer awaits payment",
        payments.Payment,
        errors=(401, 404, 409, 503),
        auth=True,
    ),
    Operation(
        "post",
        "/api/payments/webhook",
        "Stripe events, verified by `Stripe-Signature` over the raw body. 200 once recorded"
        " (also redeliveries and ignored events); 400 for a bad signature, a body that is not"
        " a Stripe event, or one holding a NUL character (`\\u0000`), which PostgreSQL"
        " cannot store",
        payments.WebhookReceipt,
        body=payments.StripeEvent,
        responses={
            "400": {
                "description": "Bad signature or payload",
                "content": {JSON: {"schema": ref(Error)}},
            },
            "413": {
                "description": "`validation_error`: larger than 1 MiB",
                "content": {JSON: {"schema": ref(Error)}},
            },
            "500": {"description": "Applying failed; Stripe delivers again"},
        },
        extra={
            "parameters": [
                {
                    "name": "Stripe-Signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ]
        },
    ),
    Operation(
        "get",
        "/api/admin/payments",
        "Any user's payments (admin); `attention=true`: those Stripe refused",
        payments.PaymentPage,
        errors=(400, *_auth("admin")),
        auth=True,
        query=payments.AdminPaymentsQuery,
    ),
    Operation(
        "post",
        "/api/admin/payments/{payment_id}/retry",
        "Ask Stripe again now for what the payment waits on: its intent (CREATING), the"
        " cancellation of an ended payment's intent, or a refused refund (admin)."
        " 409 `nothing_to_retry` otherwise",
        payments.Payment,
        errors=(*_auth("admin"), 404, 409),
        auth=True,
    ),
    Operation(
        "post",
        "/api/admin/payments/{payment_id}/release",
        "End an awaiting payment without a strike: cancel its intent where possible, then"
        " the expiry policy (admin). 409 `no_pending_payment` otherwise",
        payments.Payment,
        errors=(*_auth("admin"), 404, 409, 503),
        auth=True,
    ),
    Operation(
        "get",
        "/api/seller/payments",
        "Payments for the caller's lots, newest first, read-only (seller; admins any seller's"
        " with `seller_id`): buyers by their alias on the lot only; a per_sale invoice's"
        " payment is one item per lot with that lot's line; `limit` counts payments",
        payments.SellerPaymentPage,
        errors=(400, *_auth("seller")),
        auth=True,
        query=payments.SellerPaymentsQuery,
    ),
    Operation(
        "post",
        "/api/auth/refresh",
        "A fresh token for the caller's sign-in, as long-lived as the old one (at most 12 h);"
        " 401 once the sign-in (`auth_time`, else `iat`) is over 24 h old or the token has"
        " no `iat`",
        users.RefreshedToken,
        errors=(401,),
        auth=True,
    ),
    Operation(
        "get",
        "/api/me",
        "The caller: role, strikes and whether they may bid, with the strike rule in words",
        users.Me,
        errors=(401,),
        auth=True,
    ),
    Operation(
        "get",
        "/api/me/watchlist",
        "The lots the caller watches, latest first (at most 500)",
        lots.LotList,
        errors=(401,),
        auth=True,
    ),
    Operation(
        "put",
        "/api/me/watchlist/{lot_id}",
        "Watch a lot; watching it already is not an error. 409 `watchlist_full` past 500",
        lots.Watching,
        errors=(401, 404, 409),
        auth=True,
    ),
    Operation(
        "delete",
        "/api/me/watchlist/{lot_id}",
        "Stop watching a lot; not watching it is not an error",
        lots.Watching,
        errors=(401, 404),
        auth=True,
    ),
    Operation(
        "get",
        "/api/admin/users",
        "Users, most strikes first (admin); `suspended=true`: those who may not bid",
        users.UserList,
        errors=(400, *_auth("admin")),
        auth=True,
        query=users.AdminUsersQuery,
    ),
    Operation(
        "get",
        "/api/me/invoices",
        "The caller's invoices (per_sale sales), newest first",
        invoices.InvoicePage,
        errors=(400, 401),
        auth=True,
        query=invoices.InvoicesQuery,
    ),
    Operation(
        "get",
        "/api/invoices/{invoice_id}",
        "An invoice with its lines and totals (its buyer, admin);"
        " `Accept: text/html` gives a printable page",
        None,
        errors=(401, 404),
        auth=True,
        responses={
            "200": {
                "description": "OK",
                "content": {
                    JSON: {"schema": ref(invoices.Invoice)},
                    "text/html": {"schema": {"type": "string"}},
                },
            }
        },
        refers_to=(invoices.Invoice,),
    ),
    Operation(
        "get",
        "/api/admin/invoices",
        "Any buyer's invoices, by sale, buyer and status (admin): the checkout desk",
        invoices.InvoicePage,
        errors=(400, *_auth("admin")),
        auth=True,
        query=invoices.AdminInvoicesQuery,
    ),
    Operation(
        "post",
        "/api/admin/invoices/{invoice_id}/mark-paid",
        "Money for an ISSUED invoice taken outside Stripe (admin): any open PaymentIntent is"
        " cancelled first, then the invoice is PAID and its lots SOLD."
        " 409 `invoice_not_payable` otherwise, `invoice_paid_by_card` when the card won",
        invoices.Invoice,
        errors=(400, *_auth("admin"), 404, 409, 413, 503),
        auth=True,
        body=invoices.MarkPaid,
    ),
    Operation(
        "post",
        "/api/admin/invoices/{invoice_id}/refund",
        "Refund a paid invoice (admin): one line (a lot returned), or an amount taken from"
        " the newest lines first, or (neither) all that is left",
        invoices.Invoice,
        ok=201,
        errors=(400, *_auth("admin"), 404, 409, 413, 502, 503),
        auth=True,
        body=invoices.InvoiceRefundRequest,
    ),
    Operation(
        "get",
        "/api/admin/users/{sub}",
        "A user, their strikes and suspension (admin)",
        users.User,
        errors=(*_auth("admin"), 404),
        auth=True,
    ),
    Operation(
        "post",
        "/api/admin/users/{sub}/lift-suspension",
        "Clear a suspended user's strikes so they may bid again (admin)."
        " 409 `not_suspended` otherwise",
        users.User,
        errors=(*_auth("admin"), 404, 409),
        auth=True,
    ),
    Operation(
        "post",
        "/api/me/cards/setup",
        "A SetupIntent (usage off_session) to save a card with Stripe.js `confirmCardSetup`;"
        " the caller's Stripe Customer is created on first use",
        cards.CardSetup,
        errors=(401, 503),
        auth=True,
    ),
    Operation(
        "post",
        "/api/me/cards",
        "Store the card a confirmed SetupIntent of the caller saved (the page's re-fetch on"
        " return; the webhook does the same). A new card becomes the default."
        " 404 for another user's setup, 409 `setup_incomplete` before it is confirmed",
        cards.SavedCard,
        ok=201,
        errors=(400, 401, 404, 409, 413, 503),
        auth=True,
        body=cards.SaveCard,
    ),
    Operation(
        "get",
        "/api/me/cards",
        "The caller's cards on file",
        cards.CardList,
        errors=(401,),
        auth=True,
    ),
    Operation(
        "delete",
        "/api/me/cards/{card_id}",
        "Detach the card at Stripe and forget it; the newest other card becomes the default",
        None,
        ok=204,
        errors=(401, 404, 503),
        auth=True,
    ),
    Operation(
        "post",
        "/api/me/cards/{card_id}/default",
        "Make this card the one charged at the hammer",
        cards.SavedCard,
        errors=(401, 404),
        auth=True,
    ),
    Operation(
        "get",
        "/api/demo/config",
        "What the demo page needs: publishable key, Stripe.js location, currencies",
        users.DemoConfig,
    ),
    Operation(
        "post",
        "/api/dev/login",
        "Development mode only (404 otherwise): a token for a demo user, no password",
        users.DevLogin,
        errors=(400, 404, 413),
        body=users.DevLoginRequest,
    ),
)


def _operation(operation: Operation) -> Schema:
    responses: dict[str, Schema] = {str(operation.ok): {"description": "OK"}}
    if operation.ok == 201:
        responses["201"]["description"] = "Created"
    schema = operation.response
    if schema is not None:
        content = ref(schema) if isinstance(schema, type) else schema
        responses[str(operation.ok)]["content"] = {JSON: {"schema": content}}
    for status in operation.errors:
        code, meaning = ERRORS[status]
        responses[str(status)] = {
            "description": f"`{code}`: {meaning}",
            "content": {JSON: {"schema": ref(Error)}},
        }
    responses.update(operation.responses)
    result: Schema = {"summary": operation.summary, "responses": dict(sorted(responses.items()))}
    if operation.auth:
        result["security"] = [{"bearerAuth": []}]
    found = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
        for name in re.findall(r"\{(\w+)\}", operation.path)
    ]
    if operation.query is not None:
        found += parameters(operation.query)
    if found:
        result["parameters"] = found
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": ref(operation.body)}},
        }
    for key, value in operation.extra.items():
        result[key] = [*result.get(key, []), *value] if isinstance(value, list) else value
    return result


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [Error]
    for operation in OPERATIONS:
        for model in (operation.response, operation.body):
            if isinstance(model, type):
                found.append(model)
        found += operation.refers_to
    return found


def document(settings: Settings | None = None) -> dict[str, Any]:
    paths: dict[str, dict[str, Schema]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    schemas = component_schemas(_models())
    premium_bps = settings.buyer_premium_bps if settings is not None else 0
    schemas["NewLot"] = lots.new_lot_schema(schemas["NewLot"], premium_bps=premium_bps)
    schemas["NewSale"]["x-also-checked"] = sales.NEW_SALE_ALSO_CHECKED
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Auction payment server",
            "version": "1",
            "description": (
                "Live auctions over Socket.IO, winners' payments through Stripe. "
                "Amounts are integers in the currency's minor unit. Errors are "
                '`{"error": {"code", "message"}}`; a `validation_error` also has '
                "`fields`, each bad field with its message. The Socket.IO events (namespace "
                "`/`, path `/socket.io`: join_lot, place_bid, bid_placed, payment_required, "
                "...) are described by the AsyncAPI 3 document at `/api/asyncapi.json`, "
                "generated from the same models the socket handlers validate with; "
                "`clients/js` in the repository is a typed client for them."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


DOCUMENT = web.AppKey("openapi_document", dict[str, Any])


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(request.app[DOCUMENT])


def setup_routes(app: web.Application, settings: Settings | None = None) -> None:
    app[DOCUMENT] = document(settings)
    app.router.add_get("/api/openapi.json", openapi_json)
