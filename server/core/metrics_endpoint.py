"""`GET /metrics`, which is not public: a bearer token, a separate listener, or both.

The numbers are harmless one by one, but together they tell anyone how busy the
auctions are and how payments fail, so the public port does not serve them unless
the operator asks:

- `METRICS_TOKEN` set: every `/metrics` wants `Authorization: Bearer <token>`.
- `METRICS_PORT` set: `/metrics` moves to its own listener on `METRICS_HOST`
  (default `HOST`) and port, which a proxy never exposes; the public port answers 404.
- Neither: the public port answers 404, except in dev mode (`python -m server dev`),
  which is a local convenience and keeps it open.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from server.core.context import CONTEXT, AppContext, context_of
from server.core.errors import NotFound, Unauthorized
from server.core.http import error_middleware
from server.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def served_on_main_port(settings: Settings) -> bool:
    if settings.metrics_port is not None:
        return False
    return settings.metrics_token is not None or settings.dev_mode


def bearer_matches(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def metrics_view(*, on_main_port: bool) -> Handler:
    async def metrics(request: web.Request) -> web.Response:
        context = context_of(request)
        settings = context.settings
        if on_main_port and not served_on_main_port(settings):
            raise NotFound("No such resource")
        token = settings.metrics_token
        if token is not None and not bearer_matches(request, token):
            raise Unauthorized("/metrics wants the METRICS_TOKEN as a bearer token")
        await context.metrics.refresh(context.db)
        return web.Response(
            body=context.metrics.render(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
        )

    return metrics


def metrics_app(context: AppContext) -> web.Application:
    """The separate listener's application: `/metrics` and nothing else."""
    app = web.Application(middlewares=[error_middleware])
    app[CONTEXT] = context
    app.router.add_get("/metrics", metrics_view(on_main_port=False))
    return app


async def metrics_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    """Serve `metrics_app` on METRICS_HOST:METRICS_PORT for as long as the server runs."""
    context = app[CONTEXT]
    settings = context.settings
    if settings.metrics_port is None:
        yield
        return
    host = settings.metrics_host or settings.host
    runner = web.AppRunner(metrics_app(context), access_log=None)
    await runner.setup()
    # One process per port: counters are per process, so a port shared by several
    # workers would hand each scrape a different process's numbers.
    site = web.TCPSite(runner, host, settings.metrics_port)
    await site.start()
    log.info("metrics on http://%s:%s/metrics", host, settings.metrics_port)
    try:
        yield
    finally:
        await runner.cleanup()


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_view(on_main_port=True))
