"""The Engine.IO endpoint, mounted with a guard in front of long-polling POSTs.

engine.io's own handler (python-engineio 4.x) has two answers we do not want:

- a POST over `max_http_buffer_size` makes it disconnect the session and wait
  for the session's queue to drain, which only a GET poll does: the request
  hangs until the client gives up, holding a handler;
- a POST to a session it has just closed raises `KeyError` (a 500).

So the guard answers both itself, before engine.io sees the request: 413 at
once when `Content-Length` is over the limit (the body is never read), and 400
when the session is unknown or closed. Everything else goes to engine.io
unchanged. The session of a refused oversized POST is left alone: its client
is told by the 413, and a session nobody polls times out on its own (ping).
"""

from __future__ import annotations

from typing import Any

import engineio
from aiohttp import web
from socketio import AsyncServer

from server.core.errors import ValidationError
from server.core.http import error_body, json_response


class PollingGuard:
    def __init__(self, eio: engineio.AsyncServer) -> None:
        self.eio = eio

    async def post(self, request: web.Request) -> web.StreamResponse:
        limit = int(self.eio.max_http_buffer_size)
        if request.content_length is not None and request.content_length > limit:
            return _refusal(413, f"A polling request carries at most {limit} bytes")
        sid = request.query.get("sid")
        session: Any = self.eio.sockets.get(sid) if sid is not None else None
        if session is None or session.closed:
            return _refusal(400, "Unknown or closed Engine.IO session")
        try:
            response: web.StreamResponse = await self.eio.handle_request(request)
        except KeyError:
            # Closed between the check above and engine.io's own lookup.
            return _refusal(400, "Unknown or closed Engine.IO session")
        return response


def _refusal(status: int, message: str) -> web.Response:
    response = json_response(error_body(ValidationError(message)), status=status)
    # A refused body may still be on its way: do not read it, close the connection.
    response.force_close()
    return response


def attach(app: web.Application, sio: AsyncServer, path: str = "/socket.io/") -> None:
    """What `sio.attach(app)` does, with POSTs going through `PollingGuard`."""
    guard = PollingGuard(sio.eio)
    app.router.add_get(path, sio.eio.handle_request)
    app.router.add_post(path, guard.post)
    app.router.add_route("OPTIONS", path, sio.eio.handle_request)
