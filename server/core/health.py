"""Liveness and readiness."""

from __future__ import annotations

from aiohttp import web

from server.core.context import context_of
from server.core.http import json_response
from server.core.migrations import current_revision, head_revision


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    context = context_of(request)
    head = head_revision()
    try:
        current = await current_revision(context.db.engine)
    except Exception as exc:
        return json_response(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status=503,
        )
    if current != head:
        return json_response(
            {
                "status": "unavailable",
                "database": "not migrated",
                "revision": current,
                "head": head,
            },
            status=503,
        )
    return json_response({"status": "ready", "revision": current})


async def metrics(request: web.Request) -> web.Response:
    context = context_of(request)
    await context.metrics.refresh(context.db)
    body = context.metrics.render()
    return web.Response(
        body=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
