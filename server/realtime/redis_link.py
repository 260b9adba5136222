"""The Redis link between server processes, and what happens while it is down.

python-socketio's `AsyncRedisManager` delivers every emit to this process's
clients first, then publishes it for the other processes. While Redis is down
that publish fails (two ERROR lines per emit, eight per bid), the other
processes' events do not arrive, and the subscriber's reconnect backoff grows
to 60 s, so fan-out comes back up to a minute after Redis does. Events lost
in between are never replayed: a watcher would stay on a stale price.

`ResilientRedisManager` changes three things:

- the subscriber retries every `max_backoff` seconds at most (0.25 s, then
  doubling, capped at 2 s by default);
- the outage is logged once when it starts, at most once a minute while it
  lasts, and once when it ends, with counts, instead of a line per failure;
  `RedisLink` keeps the state for `/readyz` and the metrics;
- once subscribed again, it tells this process's clients to re-sync: every lot
  room gets `resync {lot_id, seq, reason: "redis_reconnected"}` (`seq` the
  lot's latest), and a client re-joins the lot for a fresh snapshot, as it does
  on a `seq` gap. Private
  events another process sent meanwhile are not replayed; `payment_required`
  comes again on the next connect, and `my_payments` lists it any time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio

from server.core.logging import isolated
from server.core.metrics import Metrics

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.25
#: While down, at most one "still unreachable" warning per this many seconds.
REMINDER_SECONDS = 60.0


class RedisLink:
    """Whether this process's Redis subscription is live, and what failed meanwhile."""

    def __init__(self) -> None:
        #: None until the first subscription; then True or False.
        self.up: bool | None = None
        self.down_since: float | None = None
        self.failed_publishes = 0
        self._reminded_at = 0.0
        self.metrics: Metrics | None = None
        #: Reads lots' latest `seq` (set by the app factory; the database is not ours here).
        self.latest_seqs: Callable[[list[int]], Awaitable[dict[int, int]]] | None = None

    @property
    def reachable(self) -> bool:
        return self.up is not False

    def went_down(self, exc: BaseException, retry_in: float) -> None:
        now = time.monotonic()
        if self.up is not False:
            self.up = False
            self.down_since = now
            self._reminded_at = now
            self.failed_publishes = 0
            if self.metrics is not None:
                self.metrics.redis_up.set(0)
            log.warning(
                "redis unreachable (%s): events from other processes are lost until it "
                "is back; retrying every %.2g s at most",
                type(exc).__name__,
                retry_in,
            )
        elif now - self._reminded_at >= REMINDER_SECONDS:
            self._reminded_at = now
            log.warning(
                "redis still unreachable after %.0f s (%s); %s publishes failed so far",
                now - (self.down_since or now),
                type(exc).__name__,
                self.failed_publishes,
            )

    def publish_failed(self, exc: BaseException, retry_in: float) -> None:
        self.failed_publishes += 1
        if self.metrics is not None:
            self.metrics.redis_publish_failures.inc()
        self.went_down(exc, retry_in)

    def subscribed(self) -> bool:
        """Record a live subscription; True when it ends an outage."""
        was_down = self.up is False
        if self.metrics is not None:
            self.metrics.redis_up.set(1)
            if was_down:
                self.metrics.redis_reconnects.inc()
        if was_down:
            log.warning(
                "redis reachable again after %.1f s; %s publishes failed meanwhile",
                time.monotonic() - (self.down_since or time.monotonic()),
                self.failed_publishes,
            )
        self.up, self.down_since = True, None
        return was_down


class ResilientRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, *, channel: str, max_backoff: float = 2.0) -> None:
        # A connect that hangs (a firewalled Redis) must not hold an emit for long.
        super().__init__(url, channel=channel, redis_options={"socket_connect_timeout": 2.0})
        self.max_backoff = max_backoff
        self.link = RedisLink()

    async def _publish(self, data: Any) -> Any:
        error: BaseException | None = None
        for _attempt in range(2):  # a stale connection gets one fresh one
            try:
                if not getattr(self, "connected", False):
                    self._redis_connect()
                return await self.redis.publish(self.channel, self.json.dumps(data))
            except Exception as exc:
                self.connected = False
                error = exc
        assert error is not None
        self.link.publish_failed(error, retry_in=self.max_backoff)
        return None

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        # This task was started by whichever request emitted first: not its ids.
        with isolated(task="redis-subscriber"):
            async for message in self._subscription():
                yield message

    async def _subscription(self) -> AsyncIterator[Any]:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                self._redis_connect()
                await self.pubsub.subscribe(self.channel)
                # redis-py may subscribe lazily; a PING proves Redis is there.
                await self.redis.ping()
                delay = FIRST_RETRY_SECONDS
                if self.link.subscribed():
                    await self.tell_clients_to_resync()
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.link.went_down(exc, retry_in=self.max_backoff)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def tell_clients_to_resync(self) -> None:
        """`resync` to every lot room of this process (see the module docstring)."""
        lot_ids = []
        for room in self.rooms.get("/", {}):
            kind, _, key = str(room).partition(":")
            if kind == "lot" and key.isdigit():
                lot_ids.append(int(key))
        seqs: dict[int, int] = {}
        if lot_ids and self.link.latest_seqs is not None:
            try:
                seqs = await self.link.latest_seqs(lot_ids)
            except Exception as exc:
                log.warning("resync without seqs: could not read them (%s)", type(exc).__name__)
        for lot_id in lot_ids:
            data = {"lot_id": lot_id, "seq": seqs.get(lot_id, 0), "reason": "redis_reconnected"}
            try:
                await self.emit(
                    "resync", data, namespace="/", room=f"lot:{lot_id}", ignore_queue=True
                )
            except Exception:
                log.exception("could not send resync to lot %s", lot_id)
        log.info("told %s lot rooms to re-sync after the redis outage", len(lot_ids))
