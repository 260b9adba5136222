"""Encode once, write once per socket: room broadcasts without a task per recipient.

python-socketio already encodes a broadcast's packet once, but then creates a
task per recipient that puts the packet on the engine.io socket's queue, and
each socket's writer task wakes, encodes the engine.io packet again and writes
a WebSocket frame. With a thousand watchers that is two thousand task switches
per bid. Yet the frame is the same bytes for every websocket recipient
(server-to-client frames are unmasked and, here, never compressed).

`FanoutManager.emit` therefore builds the Socket.IO packet, the engine.io
message and the WebSocket frame once and hands the frame to each websocket
recipient's transport with one `transport.write`, synchronously, in room order.
Everything the fast path cannot serve keeps python-socketio's own path:
long-polling and mid-upgrade sockets, binary payloads, emits with a callback,
compressed websockets, and any socket whose engine.io queue still holds
packets (so nothing overtakes what is already queued for it).

A recipient that cannot keep up is not allowed to stall the rest or to grow
memory without bound: when its transport already buffers more than
`max_buffer_bytes` (or its engine.io queue holds more than
`MAX_QUEUED_PACKETS`), its connection is aborted. The client library
reconnects, re-joins its lots and compares `seq` to fetch what it missed.

The manager is a mixin of python-socketio's `AsyncManager`, so
`AsyncRedisManager` keeps working: every process applies the fast path to its
own sockets when the emit reaches it through Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.async_drivers.aiohttp import WebSocket as EngineIOWebSocket
from socketio import packet as sio_packet

from server.core.metrics import Metrics
from server.realtime.lean_socket import (
    DirectSocket,
    PacketQueue,
    serve_websocket,
    websocket_text_frame,
)
from server.realtime.redis_link import ResilientRedisManager

log = logging.getLogger(__name__)

#: Default cap on bytes waiting in one socket's transport before it is dropped.
DEFAULT_MAX_BUFFER_BYTES = 256 * 1024
#: Packets waiting on one socket's engine.io queue before it is dropped.
MAX_QUEUED_PACKETS = 256


class WebsocketRegistry:
    """engine.io sid -> the websocket behind it, for as long as its handler runs."""

    def __init__(self) -> None:
        self.sockets: dict[str, DirectSocket] = {}

    def websocket_class(self) -> Callable[[Any, Any], Any]:
        """A drop-in for engine.io's aiohttp `WebSocket` that registers each connection."""
        registry = self

        class RegisteredWebSocket(EngineIOWebSocket):  # type: ignore[misc]
            def __init__(self, handler: Any, server: Any) -> None:
                super().__init__(registry._tracking(handler), server)

        return RegisteredWebSocket

    def _tracking(self, handler: Any) -> Callable[[Any], Awaitable[None]]:
        eio_socket = getattr(handler, "__self__", None)

        async def run(ws: Any) -> None:
            sid = getattr(eio_socket, "sid", None)
            request = ws.environ.get("aiohttp.request")
            response = ws._sock
            transport = request.transport if request is not None else None
            queue = getattr(eio_socket, "queue", None)
            if (
                sid is None
                or transport is None
                or response.compress
                or not isinstance(queue, PacketQueue)
            ):
                await handler(ws)  # not servable directly: the normal path serves it
                return
            direct = DirectSocket(transport, request.protocol, response, eio_socket, queue)
            self.sockets[sid] = direct
            try:
                await serve_websocket(eio_socket, ws, direct)
            finally:
                if self.sockets.get(sid) is direct:
                    del self.sockets[sid]

        return run


class FanoutManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's manager with a direct websocket path for broadcasts."""

    registry: WebsocketRegistry
    metrics: Metrics | None = None
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES

    def install(
        self,
        sio: socketio.AsyncServer,
        *,
        metrics: Metrics | None = None,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    ) -> None:
        """Register this server's websockets as they open; count into `metrics`."""
        self.registry = WebsocketRegistry()
        self.metrics = metrics
        self.max_buffer_bytes = max_buffer_bytes
        # A copy: the driver table is shared by every engine.io server in the process.
        sio.eio._async = {**sio.eio._async, "websocket": self.registry.websocket_class()}

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        registry = getattr(self, "registry", None)
        if callback is not None or registry is None or namespace not in self.rooms:
            return await super().emit(  # type: ignore[no-any-return]
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback
            )
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        if isinstance(encoded, list):  # binary attachments: several frames, normal path
            return await super().emit(  # type: ignore[no-any-return]
                event, data, namespace, room=room, skip_sid=skip_sid
            )
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        message = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = websocket_text_frame(message.encode())
        queued = self._write_all(frame, message, namespace, room, skipped, registry.sockets)
        if queued:
            await asyncio.wait(queued)

    def _write_all(
        self,
        frame: bytes,
        message: Any,
        namespace: str,
        room: Any,
        skipped: list[Any],
        direct: dict[str, DirectSocket],
    ) -> list[asyncio.Task[None]]:
        """Write `frame` to every direct recipient now; return the normal path's tasks.

        Per recipient this is the hot loop of a broadcast, so it reads each socket's
        state once and looks at the rarer conditions (a backlog, a paused writer)
        only when the transport already buffers something.
        """
        limit = self.max_buffer_bytes
        slow: list[str] = []  # engine.io sids served by python-socketio's path
        written = dropped = 0
        deepest = 0
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skipped:
                continue
            target = direct.get(eio_sid)
            if target is None:
                slow.append(eio_sid)
                continue
            transport = target.transport
            buffered = transport.get_write_buffer_size()
            pending = target.queue.unwritten  # put and not yet written
            if buffered:
                deepest = max(deepest, buffered)
                if buffered > limit or pending > MAX_QUEUED_PACKETS:
                    self._drop(eio_sid, target, buffered, pending)
                    dropped += 1
                    continue
                if target.protocol.writing_paused:  # only ever with bytes buffered
                    slow.append(eio_sid)
                    continue
            elif pending > MAX_QUEUED_PACKETS:
                self._drop(eio_sid, target, buffered, pending)
                dropped += 1
                continue
            socket = target.eio
            if (
                pending
                or not socket.upgraded
                or socket.upgrading
                or socket.closing
                or socket.closed
                or transport.is_closing()
            ):
                slow.append(eio_sid)
            else:
                transport.write(frame)
                written += 1
        if self.metrics is not None:
            self.metrics.observe_fanout(written, len(slow), dropped, deepest)
        send = self.server._send_eio_packet
        return [asyncio.create_task(send(eio_sid, message)) for eio_sid in slow]

    def _drop(self, eio_sid: str, target: DirectSocket, buffered: int, pending: int) -> None:
        """Abort a recipient that cannot keep up; its client reconnects and re-syncs by seq."""
        log.warning(
            "dropping slow socket %s: %s bytes buffered, %s packets queued",
            eio_sid,
            buffered,
            pending,
        )
        target.transport.abort()


class FanoutRedisManager(ResilientRedisManager, FanoutManager):
    """The Redis manager whose local delivery (on every process) takes the fast path.

    Method order: Redis and pub/sub first (publish, listen, outage handling), then
    `FanoutManager.emit` where `AsyncPubSubManager` hands an emit to local delivery.
    """
