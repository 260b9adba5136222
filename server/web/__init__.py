"""The web pages (catalogue, lot, account, desks), their static files, their config, a dev login."""

from __future__ import annotations

from aiohttp import web

from server.web import demo, pages


def setup_routes(app: web.Application) -> None:
    pages.setup_routes(app)
    demo.setup_routes(app)
