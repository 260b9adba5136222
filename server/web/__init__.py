"""The demo bidding page: the page itself, its vendored client, its config and a dev login."""

from __future__ import annotations

from aiohttp import web

from server.web import demo, pages


def setup_routes(app: web.Application) -> None:
    pages.setup_routes(app)
    demo.setup_routes(app)
