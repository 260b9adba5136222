"""Lean engine.io sockets: less memory per idle websocket, no task per packet.

python-engineio gives every websocket an `asyncio.Queue` (four deques of
760 bytes each), a writer task parked on that queue under `wait_for`, a task
per ping cycle sleeping 20 s, and a task plus a `wait_for` timer for every
packet it reads. With thousands of idle watchers that was about a quarter of
the memory per connection (measured with tracemalloc; docs/BENCHMARKS.md).
Here, without forking engine.io:

- `PacketQueue` replaces the queue (`create_queue`): lists, created empty;
- pings and ping timeouts run on shared timers (`server.realtime.heartbeat`),
  not a sleeping task per socket and a `wait_for` per socket visited;
- `serve_websocket` runs a socket that opened as a websocket: it reads in the
  request's own task, under one deadline that is only rearmed when it
  expires, and queued packets (acks, pings, private events) are written
  straight to the transport when nothing is waiting ahead of them, else by a
  writer task that exists only while there is a backlog.

Sockets that start on long-polling keep engine.io's own loop (with the lean
queue and the shared ping timers), upgrade included.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

import engineio
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

from server.realtime.heartbeat import PingWheel, watch_sockets

log = logging.getLogger(__name__)

_TEXT_FINAL = 0x81  # FIN bit + opcode 1 (text)


def websocket_text_frame(text: str) -> bytes:
    """An unmasked, uncompressed, final WebSocket text frame (RFC 6455 section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _TEXT_FINAL, size)
    elif size < 65536:
        header = struct.pack("!BBH", _TEXT_FINAL, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FINAL, 127, size)
    return header + payload


@dataclass(slots=True)
class DirectSocket:
    """One websocket the server may write frames to directly, and its send backlog."""

    transport: asyncio.Transport
    protocol: Any  # aiohttp's RequestHandler: `writing_paused` says the kernel is full
    response: Any  # aiohttp's WebSocketResponse
    eio: AsyncSocket  # the engine.io socket it carries
    queue: PacketQueue  # that socket's send queue
    #: Writes what waits on the queue while the transport cannot take it at once.
    writer: asyncio.Task[None] | None = field(default=None)
    #: No more writes: the socket was told to close, or a write failed.
    finished: bool = False

    def writable(self) -> bool:
        return not self.protocol.writing_paused and not self.transport.is_closing()


class PacketQueue:
    """What engine.io needs of its send queue, in lists that start empty.

    `sink`, once a lean websocket serves the socket, is told about each packet
    put here and writes it; otherwise `get` hands packets to engine.io's loop.
    """

    __slots__ = ("_getters", "_items", "_joiners", "sink", "unwritten")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self.unwritten = 0  # put and not yet written (taken but unwritten ones count too)
        self._getters: list[asyncio.Future[None]] = []
        self._joiners: list[asyncio.Future[None]] = []
        self.sink: LeanWriter | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self.unwritten += 1
        if self.sink is not None:
            self.sink.wake()
        else:
            self._wake_getter()

    def _wake_getter(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_getter()  # it was woken for a packet it will not take
                raise
        return self._items.pop(0)

    def task_done(self) -> None:
        if self.unwritten <= 0:
            raise ValueError("task_done() called too many times")
        self.unwritten -= 1
        if not self.unwritten:
            joiners, self._joiners = self._joiners, []
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        if self.unwritten:
            joiner = asyncio.get_running_loop().create_future()
            self._joiners.append(joiner)
            await joiner


class LeanWriter:
    """Writes a lean websocket's queued packets: at once when it can, else in a task."""

    __slots__ = ("direct", "queue", "ws")

    def __init__(self, queue: PacketQueue, ws: Any, direct: DirectSocket) -> None:
        self.queue = queue
        self.ws = ws
        self.direct = direct

    def wake(self) -> None:
        direct, queue = self.direct, self.queue
        if direct.writer is not None:
            return  # the writer task takes it, in order
        items = queue._items
        while items:
            pkt = items[0]
            if direct.finished:
                items.pop(0)
                queue.task_done()
                continue
            if pkt is not None and direct.writable():
                encoded = pkt.encode()
                if isinstance(encoded, str):
                    items.pop(0)
                    direct.transport.write(websocket_text_frame(encoded))
                    queue.task_done()
                    continue
            direct.writer = asyncio.get_running_loop().create_task(self._drain())
            return

    async def _drain(self) -> None:
        direct, queue = self.direct, self.queue
        try:
            while queue._items:
                pkt = queue._items.pop(0)
                try:
                    if direct.finished:
                        continue
                    if pkt is None:
                        direct.finished = True
                        await self.ws.close()
                    else:
                        await self.ws.send(pkt.encode())
                except Exception:
                    direct.finished = True  # engine.io's writer stops at the first failure
                finally:
                    queue.task_done()
        finally:
            direct.writer = None


class LeanEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    """engine.io's server with the lean queue, and pings and ping timeouts on shared timers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ping_wheel = PingWheel()

    def create_queue(self, *args: Any, **kwargs: Any) -> PacketQueue:
        return PacketQueue()

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        job = getattr(target, "__func__", None)
        if job is AsyncSocket._send_ping:
            self.ping_wheel.ping_later(target.__self__, self.ping_interval)
            return None  # engine.io keeps nothing of a ping's task
        if job is engineio.AsyncServer._service_task:
            return asyncio.ensure_future(watch_sockets(self))
        return super().start_background_task(target, *args, **kwargs)


class LeanSocketIO(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on `LeanEngineIO`."""

    def _engineio_server_class(self) -> type[LeanEngineIO]:
        return LeanEngineIO


async def serve_websocket(eio_socket: AsyncSocket, ws: Any, direct: DirectSocket) -> None:
    """engine.io's websocket loop for a socket that opened as a websocket, lean.

    Same protocol and the same ending as `AsyncSocket._websocket_handler`: a
    silent client is dropped after `ping_interval + ping_timeout`, the
    websocket is closed once reading stops, then the socket closes.
    """
    queue = eio_socket.queue
    if eio_socket.connected or not isinstance(queue, PacketQueue):
        await eio_socket._websocket_handler(ws)  # an upgrade from polling
        return
    server = eio_socket.server
    eio_socket.connected = True
    eio_socket.upgraded = True
    writer = LeanWriter(queue, ws, direct)
    queue.sink = writer
    writer.wake()  # the OPEN packet is already queued
    await _read(eio_socket, ws, server.ping_interval + server.ping_timeout)
    queue.put_nowait(None)  # close the websocket once what is queued is written
    try:
        if direct.writer is not None:
            # Shielded: aiohttp cancels this handler when the client has gone, and a
            # cancelled writer would leave the socket open and its disconnect unheard.
            await asyncio.shield(direct.writer)
    finally:
        await eio_socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _read(eio_socket: AsyncSocket, ws: Any, silence: float) -> None:
    """Receive packets until the client leaves, fails or stays silent for `silence` s."""
    loop = asyncio.get_running_loop()
    limit = eio_socket.server.max_http_buffer_size
    heard = loop.time()
    try:
        async with asyncio.timeout(None) as deadline:

            def check() -> None:
                idle = loop.time() - heard
                if idle >= silence:
                    deadline.reschedule(loop.time())
                else:
                    holder[0] = loop.call_later(silence - idle, check)

            holder = [loop.call_later(silence, check)]
            try:
                while True:
                    data = await ws.wait()
                    heard = loop.time()
                    if not data or len(data) > limit:
                        break
                    try:
                        await eio_socket.receive(eio_packet.Packet(encoded_packet=data))
                    except eio_exceptions.UnknownPacketError:
                        pass
                    except eio_exceptions.SocketIsClosedError:
                        break
                    except Exception:
                        log.exception("engine.io receive error")
            finally:
                holder[0].cancel()
    except asyncio.CancelledError:
        pass  # the connection went away (aiohttp cancels its handler): close below
    except Exception:  # noqa: S110 - a failed read ends the socket, as in engine.io
        pass
