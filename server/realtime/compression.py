"""Websocket connections without per-message deflate.

aiohttp (under engine.io) accepts `permessage-deflate` whenever a client
offers it, and every browser does. Deflate keeps a zlib compressor and
decompressor per connection: measured with `scripts/measure_ws_memory.py`,
an idle connection costs about 134 KiB of server memory with it and 34 KiB
without (docs/OPERATIONS.md). Our messages are a few hundred bytes of JSON,
where deflate saves little, so the offer is declined by hiding it from the
handshake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def without_websocket_deflate(
    path_prefix: str = "/socket.io/",
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            request.path.startswith(path_prefix)
            and hdrs.SEC_WEBSOCKET_EXTENSIONS in request.headers
        ):
            headers = CIMultiDict(request.headers)
            del headers[hdrs.SEC_WEBSOCKET_EXTENSIONS]
            request = request.clone(headers=headers)
        return await handler(request)

    return middleware
