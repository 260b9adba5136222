"""HTTP transport for cards on file (SPEC section 14). Thin: parse, call the service.

Cards are private to their owner: another user's card id is a 404 and changes
nothing. Responses say `Cache-Control: private, no-store`; the setup answer
holds a client secret.
"""

from __future__ import annotations

import re

from aiohttp import web

from server.cards import service
from server.contract.base import parse
from server.contract.cards import SaveCard
from server.core.context import context_of
from server.core.errors import NotFound
from server.core.http import PRIVATE, json_response, private, read_json, require_identity

_CARD_ID = re.compile(r"^pm_[A-Za-z0-9_]{1,250}$")


def _card_id(request: web.Request) -> str:
    card_id = request.match_info["card_id"]
    if not _CARD_ID.fullmatch(card_id):
        raise NotFound("Card not found")
    return card_id


async def setup_card(request: web.Request) -> web.Response:
    """A SetupIntent for the page to confirm with Stripe.js (`confirmCardSetup`)."""
    user = require_identity(request)
    return private(json_response(await service.start_setup(context_of(request), user)))


async def save_card(request: web.Request) -> web.Response:
    """The page's re-fetch after `confirmCardSetup`: store the card the SetupIntent saved."""
    user = require_identity(request)
    body = parse(SaveCard, await read_json(request))
    card = await service.save_from_setup_intent(context_of(request), user, body.setup_intent_id)
    return private(json_response(card, status=201))


async def list_cards(request: web.Request) -> web.Response:
    user = require_identity(request)
    items = await service.list_cards(context_of(request), user.sub)
    return private(json_response({"items": items}))


async def delete_card(request: web.Request) -> web.Response:
    """Detach the card at Stripe and forget it."""
    user = require_identity(request)
    await service.remove_card(context_of(request), user, _card_id(request))
    return web.Response(status=204, headers=PRIVATE)


async def default_card(request: web.Request) -> web.Response:
    user = require_identity(request)
    card = await service.choose_default(context_of(request), user, _card_id(request))
    return private(json_response(card))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/me/cards/setup", setup_card)
    app.router.add_get("/api/me/cards", list_cards)
    app.router.add_post("/api/me/cards", save_card)
    app.router.add_delete("/api/me/cards/{card_id}", delete_card)
    app.router.add_post("/api/me/cards/{card_id}/default", default_card)
