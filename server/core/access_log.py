"""One access-log line per HTTP request, safe to ship anywhere.

aiohttp's own access log prints the request line, query string included, and
query strings are where careless clients put tokens; this one logs the method,
the path without its query string, the status, the duration in milliseconds
and (through the bound correlation ids) the request id. Never headers, never
bodies, never the query. Logger `server.access` at INFO: `LOG_LEVEL=WARNING`
silences it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.core.logging import bind, correlation

log = logging.getLogger("server.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: nginx's code for "the client went away before we answered".
CLIENT_CLOSED = 499


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Runs inside `request_context_middleware`, so the line carries the request id."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        if log.isEnabledFor(logging.INFO):
            _log_line(request, status, (time.perf_counter() - started) * 1000)


def _log_line(request: web.Request, status: int, duration_ms: float) -> None:
    path = request.rel_url.path  # no query string, whatever the client sent
    request_id = correlation().get("request_id", "-")
    with bind(method=request.method, path=path, status=status, duration_ms=round(duration_ms, 1)):
        # The id is in the text too, for the plain (dev) format.
        log.info("%s %s %s %.1fms %s", request.method, path, status, duration_ms, request_id)
