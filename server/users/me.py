"""What a signed-in user reads and keeps about themselves: `/api/me` and the watchlist."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.contract.query import path_id
from server.core.context import AppContext, context_of
from server.core.http import json_response, private, require_identity
from server.users import sessions, watchlist
from server.users.models import User
from server.users.views import user_view


def strikes_explained(strikes: int, limit: int) -> str:
    """What strikes are and where the user stands, in their words."""
    rule = (
        "A strike is given when the time to pay for a lot you won runs out without payment. "
        f"With {limit} strikes you can no longer bid until an admin lifts the suspension."
    )
    if strikes >= limit:
        return f"You have {strikes} strikes, so you cannot bid for now. " + rule
    if strikes == 0:
        return "You have no strikes. " + rule
    left = limit - strikes
    more = "strike" if left == 1 else "strikes"
    return f"You have {strikes} of {limit} strikes: {left} more {more} and bidding stops. " + rule


def me_view(context: AppContext, user: User) -> dict[str, Any]:
    limit = context.settings.nonpayment_strikes
    return {
        **user_view(context, user),
        "nonpayment_strikes": limit,
        "strikes_explained": strikes_explained(user.strikes, limit),
    }


async def get_me(request: web.Request) -> web.Response:
    """The caller as the server knows them: role, strikes, whether they may bid."""
    identity = require_identity(request)
    context = context_of(request)
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, identity)
        await uow.session.flush()
        user = await uow.session.get(User, identity.sub, populate_existing=True)
        assert user is not None
        view = me_view(context, user)
    return private(json_response(view))


async def get_watchlist(request: web.Request) -> web.Response:
    user = require_identity(request)
    items = await watchlist.watched_lots(context_of(request), user)
    return private(json_response({"items": items}))


async def watch_lot(request: web.Request) -> web.Response:
    user = require_identity(request)
    lot_id = path_id(request.match_info["lot_id"])
    await watchlist.watch(context_of(request), user, lot_id)
    return private(json_response({"lot_id": lot_id, "watching": True}))


async def unwatch_lot(request: web.Request) -> web.Response:
    user = require_identity(request)
    lot_id = path_id(request.match_info["lot_id"])
    await watchlist.unwatch(context_of(request), user, lot_id)
    return private(json_response({"lot_id": lot_id, "watching": False}))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/me", get_me)
    sessions.setup_routes(app)
    app.router.add_get("/api/me/watchlist", get_watchlist)
    app.router.add_put("/api/me/watchlist/{lot_id}", watch_lot)
    app.router.add_delete("/api/me/watchlist/{lot_id}", unwatch_lot)
