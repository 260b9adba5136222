"""Liveness and readiness (`/metrics` is in server.core.metrics_endpoint).

`/readyz` is 503 only for what stops this process from working (the database
unreachable or not migrated). A Redis outage is reported but stays 200
(`"status": "degraded", "redis": "unreachable"`): taking every replica out of
the load balancer because their shared Redis is down would turn lost
cross-process events into a total outage.
"""

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
    body: dict[str, object] = {"status": "ready", "revision": current}
    link = context.hub.redis_link
    if link is not None:
        # Degraded, not failing: this process still serves its own clients; only
        # events from the other processes are missing until Redis is back.
        body["redis"] = "connected" if link.reachable else "unreachable"
        if not link.reachable:
            body["status"] = "degraded"
    return json_response(body)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
