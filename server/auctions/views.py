"""HTTP transport for lots (SPEC section 6)."""

from __future__ import annotations

from aiohttp import web

from server.auctions import service
from server.auctions.models import LotStatus
from server.core.context import context_of
from server.core.errors import ValidationError
from server.core.http import json_response, read_json, require_identity
from server.core.pagination import decode_cursor, encode_cursor
from server.core.validation import path_id, query_int

MANAGERS = ("seller", "admin")


async def create_lot(request: web.Request) -> web.Response:
    seller = require_identity(request, *MANAGERS)
    draft = service.parse_lot_draft(await read_json(request))
    lot = await service.create_lot(context_of(request), seller, draft)
    return json_response(lot, status=201)


async def list_lots(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in LotStatus.__members__:
        raise ValidationError(f"'status' must be one of {', '.join(LotStatus.__members__)}")
    limit = query_int(request.query, "limit", default=50, minimum=1, maximum=200)
    items, next_id = await service.list_lots(
        context_of(request),
        status=status,
        limit=limit,
        before_id=decode_cursor(request.query.get("cursor")),
    )
    cursor = encode_cursor(next_id) if next_id is not None else None
    return json_response({"items": items, "next_cursor": cursor})


async def get_lot(request: web.Request) -> web.Response:
    lot_id = path_id(request.match_info["lot_id"])
    return json_response(await service.get_lot(context_of(request), lot_id))


async def list_bids(request: web.Request) -> web.Response:
    lot_id = path_id(request.match_info["lot_id"])
    limit = query_int(request.query, "limit", default=100, minimum=1, maximum=1000)
    items = await service.list_bids(context_of(request), lot_id, limit=limit)
    return json_response({"items": items})


async def close_lot(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    lot_id = path_id(request.match_info["lot_id"])
    context = context_of(request)
    await service.close_lot(context, lot_id, actor=actor)
    return json_response(await service.get_lot(context, lot_id))


async def cancel_lot(request: web.Request) -> web.Response:
    actor = require_identity(request, *MANAGERS)
    lot_id = path_id(request.match_info["lot_id"])
    return json_response(await service.cancel_lot(context_of(request), lot_id, actor))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/lots", create_lot)
    app.router.add_get("/api/lots", list_lots)
    app.router.add_get("/api/lots/{lot_id}", get_lot)
    app.router.add_get("/api/lots/{lot_id}/bids", list_bids)
    app.router.add_post("/api/lots/{lot_id}/close", close_lot)
    app.router.add_post("/api/lots/{lot_id}/cancel", cancel_lot)
