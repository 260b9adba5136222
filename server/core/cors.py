"""CORS for the REST API: browsers on the origins in `CORS_ORIGINS` may call it.

An empty list means same origin only: no CORS headers at all, and preflights
are refused. `*` allows every origin. The API authenticates with a bearer
token, never a cookie, so credentials are not part of it.

Socket.IO (`/socket.io/`) is left alone: engine.io checks the Origin of its
own requests against the same list (see `server.realtime.hub`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from server.core.errors import Forbidden
from server.core.http import error_body, json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOWED_METHODS = "GET, HEAD, POST"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, X-Request-Id"
EXPOSED_HEADERS = "X-Request-Id"
PREFLIGHT_MAX_AGE = "600"
SOCKETIO_PREFIX = "/socket.io/"


def cors_middleware(origins: Iterable[str]) -> Middleware:
    """A middleware that answers preflights and labels responses for allowed origins."""
    allowed = frozenset(origins)
    allow_any = "*" in allowed

    def is_allowed(origin: str) -> bool:
        return allow_any or origin in allowed

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or request.path.startswith(SOCKETIO_PREFIX):
            return await handler(request)

        if _is_preflight(request):
            if not is_allowed(origin):
                refusal = Forbidden(f"Origin {origin} may not call this API")
                return json_response(error_body(refusal), status=403)
            return web.Response(
                status=204,
                headers={
                    hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
                    hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOWED_METHODS,
                    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOWED_HEADERS,
                    hdrs.ACCESS_CONTROL_MAX_AGE: PREFLIGHT_MAX_AGE,
                    hdrs.VARY: "Origin",
                },
            )

        response = await handler(request)
        if allowed and not response.prepared:
            # The answer depends on Origin, so caches must keep one per origin.
            response.headers.add(hdrs.VARY, "Origin")
            if is_allowed(origin):
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
                response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED_HEADERS
        return response

    return cors


def _is_preflight(request: web.Request) -> bool:
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    )
