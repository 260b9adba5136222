"""HTTP transport for lots (SPEC section 6); `POST /api/lots` is in `server.sales.views`."""

from __future__ import annotations

from aiohttp import web

from server.auctions import catalogue, editing, service
from server.contract.base import parse
from server.contract.lots import BidsQuery, LotChanges, LotsQuery
from server.contract.query import parse_query, path_id
from server.core.context import context_of
from server.core.http import json_response, read_json, require_identity
from server.core.pagination import decode_cursor, page

MANAGERS = ("seller", "admin")


async def edit_lot(request: web.Request) -> web.Response:
    """Change a lot before the first bid (its seller, admin); the same rules as creating it."""
    actor = require_identity(request, *MANAGERS)
    lot_id = path_id(request.match_info["lot_id"])
    changes = parse(LotChanges, await read_json(request))
    return json_response(await editing.edit_lot(context_of(request), lot_id, actor, changes))


async def list_lots(request: web.Request) -> web.Response:
    """The catalogue: every status unless narrowed, filtered, searched and paged."""
    query = parse_query(LotsQuery, request.query)
    where = catalogue.LotFilter(
        status=query.status,
        view=query.view,
        q=query.q,
        seller_id=query.seller_id,
        sale_id=query.sale_id,
        closing_within=query.closing_within,
        sort=query.sort,
    )
    items, next_cursor = await catalogue.list_lots(
        context_of(request), where, limit=query.limit, cursor=decode_cursor(query.cursor)
    )
    return json_response(page(items, next_cursor))


async def get_lot(request: web.Request) -> web.Response:
    lot_id = path_id(request.match_info["lot_id"])
    return json_response(await service.get_lot(context_of(request), lot_id))


async def list_bids(request: web.Request) -> web.Response:
    lot_id = path_id(request.match_info["lot_id"])
    query = parse_query(BidsQuery, request.query)
    items = await service.list_bids(context_of(request), lot_id, limit=query.limit)
    return json_response({"items": items})


async def my_bids(request: web.Request) -> web.Response:
    user = require_identity(request)
    return json_response({"items": await service.my_bids(context_of(request), user)})


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
    app.router.add_get("/api/lots", list_lots)
    app.router.add_get("/api/lots/{lot_id}", get_lot)
    app.router.add_patch("/api/lots/{lot_id}", edit_lot)
    app.router.add_get("/api/lots/{lot_id}/bids", list_bids)
    app.router.add_get("/api/me/bids", my_bids)
    app.router.add_post("/api/lots/{lot_id}/close", close_lot)
    app.router.add_post("/api/lots/{lot_id}/cancel", cancel_lot)
