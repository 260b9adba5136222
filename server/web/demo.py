"""What the pages need from the server: their config, and in dev mode a login.

`POST /api/dev/login` mints a token for a demo user without any password, so
it exists only when the server runs in dev mode; otherwise it answers 404
like any unknown path.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from server.contract.base import parse
from server.contract.users import DevLoginRequest
from server.core.auth import issue_token
from server.core.context import context_of
from server.core.http import json_response, read_json
from server.core.money import THREE_DECIMAL, ZERO_DECIMAL
from server.devtools.seed import DEMO_USERS
from server.settings import Settings
from server.web.pages import browser_stand_in_base, stripe_js_url

#: A dev login lasts a working day; the page asks again when it lapses.
DEV_TOKEN_TTL_SECONDS = 12 * 3600
_SUB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def demo_config(settings: Settings) -> dict[str, Any]:
    """Public facts only: the publishable key, where Stripe.js lives, currency digits."""
    config: dict[str, Any] = {
        "dev_mode": settings.dev_mode,
        "stripe": {
            "publishable_key": settings.stripe_publishable_key,
            "js_url": stripe_js_url(settings),
            "stand_in": settings.stripe_api_base is not None,
            # Where the page confirms cards on a stand-in: the browser's address of it.
            "api_base": browser_stand_in_base(settings),
        },
        "currencies": {
            "zero_decimal": sorted(ZERO_DECIMAL),
            "three_decimal": sorted(THREE_DECIMAL),
        },
        "demo_users": [],
        "desk_users": [],
        # So the seller desk can refuse a too-large image before uploading it.
        "media": {"max_bytes": settings.media_max_bytes},
    }
    if settings.dev_mode:
        config["demo_users"] = [
            {"sub": sub, "role": role, "name": name}
            for sub, role, name in DEMO_USERS
            if role == "bidder"
        ]
        # The seller and admin desks offer their own demo users.
        config["desk_users"] = [
            {"sub": sub, "role": role, "name": name}
            for sub, role, name in DEMO_USERS
            if role != "bidder"
        ]
    return config


async def get_config(request: web.Request) -> web.Response:
    return json_response(demo_config(context_of(request).settings))


async def dev_login(request: web.Request) -> web.Response:
    settings = context_of(request).settings
    if not settings.dev_mode:
        raise web.HTTPNotFound()
    sub = parse(DevLoginRequest, await read_json(request)).sub
    known = {demo_sub: (role, name) for demo_sub, role, name in DEMO_USERS}
    role, name = known.get(sub, ("bidder", sub))
    token = issue_token(settings, sub=sub, role=role, name=name, ttl_seconds=DEV_TOKEN_TTL_SECONDS)
    return json_response(
        {
            "token": token,
            "expires_in": DEV_TOKEN_TTL_SECONDS,
            "user": {"sub": sub, "role": role, "name": name},
        }
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/demo/config", get_config)
    app.router.add_post("/api/dev/login", dev_login)
