"""Admin endpoints for users: strikes for unpaid wins, and lifting a suspension.

A user with `NONPAYMENT_STRIKES` expired payment windows may not bid (SPEC 8).
Only an admin can give them another chance; who did so, and when, is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.auctions.lifecycle import utcnow
from server.contract.query import parse_query
from server.contract.users import AdminUsersQuery
from server.core.context import AppContext, context_of
from server.core.errors import NotFound, conflict
from server.core.http import json_response, require_identity
from server.users.models import User

log = logging.getLogger(__name__)

MAX_SUB_LENGTH = 255


def user_view(context: AppContext, user: User) -> dict[str, Any]:
    return {
        "sub": user.id,
        "role": user.role,
        "email": user.email,
        "name": user.name,
        "strikes": user.strikes,
        "suspended": user.strikes >= context.settings.nonpayment_strikes,
        "suspension_lifted_at": user.suspension_lifted_at,
        "created_at": user.created_at,
    }


def _sub(request: web.Request) -> str:
    sub = request.match_info["sub"]
    if not sub or len(sub) > MAX_SUB_LENGTH or "\x00" in sub:
        raise NotFound("User not found")
    return sub


async def get_user(request: web.Request) -> web.Response:
    require_identity(request, "admin")
    sub = _sub(request)
    context = context_of(request)
    async with context.db.unit_of_work() as uow:
        user = await uow.session.get(User, sub)
        if user is None:
            raise NotFound("User not found")
        return json_response(user_view(context, user))


async def list_users(request: web.Request) -> web.Response:
    """Users for admins, most strikes first; `suspended=true`: those who may not bid."""
    require_identity(request, "admin")
    query = parse_query(AdminUsersQuery, request.query)
    context = context_of(request)
    limit = context.settings.nonpayment_strikes
    statement = select(User).order_by(User.strikes.desc(), User.id).limit(query.limit)
    if query.suspended is True:
        statement = statement.where(User.strikes >= limit)
    elif query.suspended is False:
        statement = statement.where(User.strikes < limit)
    async with context.db.unit_of_work() as uow:
        users = (await uow.session.scalars(statement)).all()
        items = [user_view(context, user) for user in users]
    return json_response({"items": items})


async def lift_suspension(request: web.Request) -> web.Response:
    """Clear a suspended bidder's strikes so they may bid again."""
    admin = require_identity(request, "admin")
    sub = _sub(request)
    context = context_of(request)
    async with context.db.unit_of_work() as uow:
        user = await uow.session.scalar(select(User).where(User.id == sub).with_for_update())
        if user is None:
            raise NotFound("User not found")
        if user.strikes < context.settings.nonpayment_strikes:
            raise conflict("not_suspended", "This user is not suspended", strikes=user.strikes)
        strikes, user.strikes = user.strikes, 0
        user.suspension_lifted_at = utcnow()
        await uow.session.flush()
        view = user_view(context, user)
    log.warning("suspension of user %s (%s strikes) lifted by admin %s", sub, strikes, admin.sub)
    return json_response(view)


def setup_routes(app: web.Application) -> None:
    # `.+`: subjects may contain slashes (some identity providers use URLs).
    app.router.add_post("/api/admin/users/{sub:.+}/lift-suspension", lift_suspension)
    app.router.add_get("/api/admin/users", list_users)
    app.router.add_get("/api/admin/users/{sub:.+}", get_user)
