"""HTTP transport for payments (SPEC section 6)."""

from __future__ import annotations

from aiohttp import web

from server.core.context import context_of
from server.core.http import json_response, read_json, require_identity
from server.core.validation import lookup_id
from server.payments import service, webhooks


async def create_intent(request: web.Request) -> web.Response:
    """The live PaymentInfo awaiting the caller for a lot; idempotent."""
    buyer = require_identity(request)
    lot_id = lookup_id(await read_json(request), "lot_id")
    info = await service.payment_for_lot(context_of(request), buyer.sub, lot_id)
    return json_response(info)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/payments/create-intent", create_intent)
    app.router.add_post("/api/payments/webhook", webhooks.receive)
