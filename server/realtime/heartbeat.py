"""Pings and ping timeouts for every socket on a few shared timers.

engine.io keeps each connection alive with two kinds of per-socket work:

- after each PONG (and at connect) it starts a task that sleeps
  `ping_interval` and then queues a PING (`lean_socket` had made that a
  `loop.call_later` timer per socket);
- its service task visits every socket once per `ping_timeout`, to close the
  ones whose last PING went unanswered for longer than `ping_timeout` and to
  forget closed ones, and between two sockets it waits with
  `asyncio.wait_for`: a task, a timer and a cancellation per socket visited.

With thousands of idle watchers each of those is its own event-loop wake-up,
and together they were most of the server's idle CPU. Here, without forking
engine.io (`LeanEngineIO.start_background_task` routes both to this module):

- `PingWheel` puts sockets whose ping falls due in the same bucket (at most
  `BUCKET_SECONDS` wide, a quarter of the interval for short ones) in one list
  behind one timer; a ping goes out at the start of its bucket, so never later
  than `ping_interval` after the PONG and at most one bucket earlier (a ping
  that comes early is harmless; one that comes late eats into the client's
  grace: python-engineio's client drops a server that has not pinged it within
  `max(ping_interval, ping_timeout) + 5` s of its last PONG);
- `watch_sockets` replaces the service task: once per bucket it visits its
  share of the sockets, so each is still visited once per `ping_timeout`, and
  closes the ones that timed out through engine.io's own `check_ping_timeout`
  (same reason, same CLOSE packet).

A silent websocket is also dropped by its own read deadline
(`lean_socket.serve_websocket`), as in engine.io.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet

log = logging.getLogger(__name__)

#: The widest a bucket of pings (and the sweep's step) gets.
BUCKET_SECONDS = 1.0


def bucket_width(interval: float) -> float:
    """How finely pings due after `interval` are grouped: 1 s, or a quarter of a short interval."""
    return min(BUCKET_SECONDS, interval / 4)


def ping_now(socket: Any) -> None:
    """What engine.io's `_send_ping` does once its sleep is over."""
    if socket.closing or socket.closed:
        return
    socket.last_ping = time.time()
    socket.queue.put_nowait(eio_packet.Packet(eio_packet.PING))


class PingWheel:
    """Sockets waiting for their next PING, grouped by when it falls due; one timer per group."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: dict[float, list[Any]] = {}

    def ping_later(self, socket: Any, interval: float) -> None:
        """Queue a PING for `socket` at the start of the bucket `interval` from now falls in."""
        loop = asyncio.get_running_loop()
        if interval <= 0:
            loop.call_soon(ping_now, socket)
            return
        width = bucket_width(interval)
        # The start of the bucket: early rather than late, as the Python client gives up on
        # a server it has not pinged within `max(interval, timeout) + 5` s of its last PONG.
        due = math.floor((loop.time() + interval) / width) * width
        bucket = self._buckets.get(due)
        if bucket is None:
            bucket = self._buckets[due] = []
            loop.call_at(due, self._ring, due)
        bucket.append(socket)

    def waiting(self) -> int:
        """Sockets with a PING still to come (for tests and probes)."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def _ring(self, due: float) -> None:
        for socket in self._buckets.pop(due, ()):
            ping_now(socket)


def timed_out(server: Any, sockets: list[Any], now: float) -> list[Any]:
    """The service task's visit to each of `sockets`: forget the closed; return the silent.

    Silent: its last PING has waited longer than `ping_timeout` for a PONG.
    """
    registered = server.sockets
    timeout = server.ping_timeout
    silent = []
    for socket in sockets:
        if socket.closed:
            if registered.get(socket.sid) is socket:
                del registered[socket.sid]
        elif not socket.closing and socket.last_ping and now - socket.last_ping > timeout:
            silent.append(socket)
    return silent


async def watch_sockets(server: Any) -> None:
    """engine.io's service task on one timer: every socket visited once per `ping_timeout`.

    Ends when engine.io's `shutdown` sets `service_task_event`, as the original does.
    """
    server.service_task_event = server.create_event()
    left: list[Any] = []  # this round's sockets not yet visited
    share = 0
    while not server.service_task_event.is_set():
        step = bucket_width(server.ping_timeout)
        try:
            async with asyncio.timeout(step):
                await server.service_task_event.wait()
        except TimeoutError:
            pass
        else:
            return
        if not left:
            left = list(server.sockets.values())
            share = math.ceil(len(left) * step / server.ping_timeout)
        batch = left[-share:]
        del left[-share:]
        for socket in timed_out(server, batch, time.time()):
            try:
                await socket.check_ping_timeout()  # closes it: PING_TIMEOUT, a CLOSE packet
            except eio_exceptions.SocketIsClosedError:
                pass
            except Exception:
                log.exception("engine.io ping timeout")
