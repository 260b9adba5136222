"""Keeping a sign-in alive: `POST /api/auth/refresh` trades a valid token for a fresh one.

A page calls it before its token lapses, so an expired token never signs the
user out in the middle of a sale. The new token names the same user, role,
e-mail and name, lives as long as the old one did (at most `MAX_TOKEN_SECONDS`)
and carries `auth_time`, the start of the sign-in: past `MAX_SESSION_SECONDS`
from it there is no refresh and the user signs in again. A token without
`iat` cannot say how old its sign-in is, so it is not refreshed. Tokens come
from `JWT_SECRET` (SPEC 3), which this server holds, so it may issue them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from server.core.auth import bearer_token, identity_from_claims, issue_token, token_claims
from server.core.context import context_of
from server.core.errors import Unauthorized
from server.core.http import json_response

MAX_SESSION_SECONDS = 24 * 3600
MAX_TOKEN_SECONDS = 12 * 3600


async def refresh(request: web.Request) -> web.Response:
    settings = context_of(request).settings
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized("Authorization: Bearer <token> is required")
    claims = token_claims(token, settings)
    identity = identity_from_claims(claims)
    issued, expires = claims.get("iat"), claims.get("exp")
    if type(issued) is not int or type(expires) is not int or expires <= issued:
        raise Unauthorized("This sign-in cannot be extended: sign in again")
    started = claims.get("auth_time", issued)
    if type(started) is not int or started > issued:
        raise Unauthorized("This sign-in cannot be extended: sign in again")
    now = int(time.time())
    if now - started > MAX_SESSION_SECONDS:
        raise Unauthorized("You signed in over a day ago: sign in again")
    lifetime = min(expires - issued, MAX_TOKEN_SECONDS)
    fresh = issue_token(
        settings,
        sub=identity.sub,
        role=identity.role,
        email=identity.email,
        name=identity.name,
        ttl_seconds=lifetime,
        auth_time=started,
    )
    response = json_response(
        {
            "token": fresh,
            "expires_in": lifetime,
            "expires_at": datetime.fromtimestamp(now + lifetime, UTC),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/auth/refresh", refresh)
