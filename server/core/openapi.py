"""The OpenAPI 3.1 document of the HTTP API (SPEC section 6), served at `/api/openapi.json`.

Written by hand so that it says what the contract says; the schemas are in
`server.core.openapi_schemas`. tests/test_openapi.py checks that every route
the app serves is described here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core.http import json_response
from server.core.openapi_schemas import (
    LOT_STATUS,
    PAYMENT_STATUS,
    SCHEMAS,
    Schema,
    integer,
    obj,
    ref,
    string,
)

JSON = "application/json"

ERRORS = {
    400: ("validation_error", "The request is not valid"),
    401: ("unauthorized", "A valid bearer token is required"),
    403: ("forbidden", "The caller's role or relation to the resource does not allow this"),
    404: ("not_found", "No such resource, or not the caller's"),
    409: ("conflict", "The resource's state does not allow this; the code names the state"),
    413: ("validation_error", "The request body is larger than 1 MiB"),
    429: ("rate_limited", "Too many requests"),
    502: ("refund_failed", "Stripe refused the request"),
    503: ("unavailable", "A service this depends on is unavailable; retry later"),
}


def _responses(ok: int, schema: Schema | None, *errors: int, text: str = "OK") -> Schema:
    responses: Schema = {str(ok): {"description": text}}
    if schema is not None:
        responses[str(ok)]["content"] = {JSON: {"schema": schema}}
    for status in errors:
        code, meaning = ERRORS[status]
        responses[str(status)] = {
            "description": f"`{code}`: {meaning}",
            "content": {JSON: {"schema": ref("Error")}},
        }
    return responses


def _op(
    summary: str,
    responses: Schema,
    *,
    auth: bool = False,
    body: Schema | None = None,
    params: list[Schema] | None = None,
) -> Schema:
    operation: Schema = {"summary": summary, "responses": responses}
    if auth:
        operation["security"] = [{"bearerAuth": []}]
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return operation


def _path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": integer(minimum=1)}


def _query(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema}


LOT_ID = [_path_id("lot_id")]
PAYMENT_ID = [_path_id("payment_id")]
USER_SUB = [{"name": "sub", "in": "path", "required": True, "schema": string(minLength=1)}]
PAGE = [_query("limit", integer(minimum=1, maximum=200)), _query("cursor", string())]
PAYMENT_STATUS_QUERY = _query("status", string(enum=PAYMENT_STATUS))


def _lot_paths() -> dict[str, Schema]:
    lot = ref("Lot")
    return {
        "/api/lots": {
            "post": _op(
                "Create a lot (seller, admin)",
                _responses(201, lot, 400, 401, 403, 413, text="Created"),
                auth=True,
                body=ref("NewLot"),
            ),
            "get": _op(
                "List lots, newest first",
                _responses(200, ref("LotPage"), 400),
                params=[_query("status", string(enum=LOT_STATUS)), *PAGE],
            ),
        },
        "/api/lots/{lot_id}": {"get": _op("A lot", _responses(200, lot, 400, 404), params=LOT_ID)},
        "/api/lots/{lot_id}/bids": {
            "get": _op(
                "A lot's bids, newest first",
                _responses(200, ref("BidList"), 400, 404),
                params=[*LOT_ID, _query("limit", integer(minimum=1, maximum=1000))],
            )
        },
        "/api/lots/{lot_id}/close": {
            "post": _op(
                "Close now: the hammer falls (admin, the lot's seller)",
                _responses(200, lot, 400, 401, 403, 404, 409),
                auth=True,
                params=LOT_ID,
            )
        },
        "/api/lots/{lot_id}/cancel": {
            "post": _op(
                "Withdraw a lot that is not yet closed (admin, the lot's seller)",
                _responses(200, lot, 400, 401, 403, 404, 409),
                auth=True,
                params=LOT_ID,
            )
        },
    }


def _payment_paths() -> dict[str, Schema]:
    refund_errors = _responses(201, ref("RefundResult"), 400, 401, 403, 404, 409, 502, 503)
    return {
        "/api/payments/create-intent": {
            "post": _op(
                "The payment awaiting the caller for a lot; idempotent."
                " 409 `no_pending_payment` when there is none",
                _responses(200, ref("PaymentInfo"), 400, 401, 404, 409, 503),
                auth=True,
                body=obj({"lot_id": integer(minimum=1)}),
            )
        },
        "/api/payments/my-payments": {
            "get": _op(
                "The caller's payments, newest first",
                _responses(200, ref("PaymentPage"), 400, 401),
                auth=True,
                params=[PAYMENT_STATUS_QUERY, *PAGE],
            )
        },
        "/api/payments/{payment_id}": {
            "get": _op(
                "A payment with its attempts and refunds (its buyer, admin)",
                _responses(200, ref("Payment"), 400, 401, 404),
                auth=True,
                params=PAYMENT_ID,
            )
        },
        "/api/payments/{payment_id}/receipt": {
            "get": _op(
                "The receipt; `Accept: text/html` gives a printable page (its buyer, admin)."
                " 409 `no_receipt` until the payment succeeded",
                {
                    **_responses(200, None, 400, 401, 404, 409),
                    "200": {
                        "description": "OK",
                        "content": {
                            JSON: {"schema": ref("Receipt")},
                            "text/html": {"schema": string()},
                        },
                    },
                },
                auth=True,
                params=PAYMENT_ID,
            )
        },
        "/api/payments/{payment_id}/refund": {
            "post": _op(
                "Refund all that is left (default) or `amount`, never more than was paid"
                " (admin). 201 once refunded, 202 while Stripe reports it pending",
                {
                    **refund_errors,
                    "202": {
                        "description": "Accepted; Stripe reports the refund pending",
                        "content": {JSON: {"schema": ref("RefundResult")}},
                    },
                },
                auth=True,
                body=ref("RefundRequest"),
                params=PAYMENT_ID,
            )
        },
        "/api/payments/webhook": {
            "post": _op(
                "Stripe events, verified by `Stripe-Signature` over the raw body",
                {
                    "200": {"description": "Recorded (also redeliveries and ignored events)"},
                    "400": {
                        "description": "Bad signature or payload",
                        "content": {JSON: {"schema": ref("Error")}},
                    },
                    "500": {"description": "Applying failed; Stripe delivers again"},
                },
                body={"type": "object", "description": "A Stripe event"},
                params=[
                    {
                        "name": "Stripe-Signature",
                        "in": "header",
                        "required": True,
                        "schema": string(),
                    }
                ],
            )
        },
    }


def _admin_paths() -> dict[str, Schema]:
    return {
        "/api/admin/payments": {
            "get": _op(
                "Any user's payments (admin)",
                _responses(200, ref("PaymentPage"), 400, 401, 403),
                auth=True,
                params=[
                    PAYMENT_STATUS_QUERY,
                    _query("disputed", {"type": "boolean"}),
                    _query("buyer_id", string()),
                    _query("lot_id", integer(minimum=1)),
                    *PAGE,
                ],
            )
        },
        "/api/admin/users/{sub}": {
            "get": _op(
                "A user, their strikes and suspension (admin)",
                _responses(200, ref("User"), 401, 403, 404),
                auth=True,
                params=USER_SUB,
            )
        },
        "/api/admin/users/{sub}/lift-suspension": {
            "post": _op(
                "Clear a suspended user's strikes so they may bid again (admin)."
                " 409 `not_suspended` otherwise",
                _responses(200, ref("User"), 401, 403, 404, 409),
                auth=True,
                params=USER_SUB,
            )
        },
    }


def _demo_paths() -> dict[str, Schema]:
    return {
        "/api/demo/config": {
            "get": _op(
                "What the demo page needs: publishable key, Stripe.js location, currencies",
                _responses(200, {"type": "object"}),
            )
        },
        "/api/dev/login": {
            "post": _op(
                "Development mode only (404 otherwise): a token for a demo user, no password",
                _responses(200, ref("DevLogin"), 400, 404),
                body=obj({"sub": string(minLength=1, maxLength=64)}),
            )
        },
    }


def _paths() -> dict[str, Schema]:
    health = ref("Health")
    return {
        "/healthz": {"get": _op("Process alive", _responses(200, health))},
        "/readyz": {
            "get": _op(
                "Database reachable and migrated to head",
                {
                    "200": {"description": "Ready", "content": {JSON: {"schema": health}}},
                    "503": {"description": "Not ready", "content": {JSON: {"schema": health}}},
                },
            )
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics",
                {"200": {"description": "OK", "content": {"text/plain": {"schema": string()}}}},
            )
        },
        "/api/openapi.json": {"get": _op("This document", _responses(200, {"type": "object"}))},
        **_lot_paths(),
        **_payment_paths(),
        **_admin_paths(),
        **_demo_paths(),
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Auction payment server",
            "version": "1",
            "description": (
                "Live auctions over Socket.IO, winners' payments through Stripe. "
                "Amounts are integers in the currency's minor unit. Errors are "
                '`{"error": {"code", "message"}}`.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(request.app[DOCUMENT])


DOCUMENT = web.AppKey("openapi_document", dict[str, Any])


def setup_routes(app: web.Application) -> None:
    app[DOCUMENT] = document()
    app.router.add_get("/api/openapi.json", openapi_json)
