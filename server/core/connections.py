"""Guards on raw connections, below HTTP: slow clients and one address's share.

aiohttp hands every accepted connection to a `RequestHandler` and waits as
long as the client likes for its first request's headers (in 3.10-3.13; 3.14
arms its keep-alive timer at connect). A slowloris that opens thousands of
connections and never finishes a request holds a file descriptor for each,
until the process can accept nobody. `ConnectionGuard` wraps each connection's
protocol and

- closes a connection whose first request's headers are not complete within
  `header_timeout` seconds (silent TCP, partial headers, an upgrade request
  never finished). Later requests on a kept-alive connection are covered by
  aiohttp's `keepalive_timeout`, which `serve` sets to the idle timeout;
- refuses (closes at once) a connection from an address that already holds
  `max_per_ip` connections. Behind a proxy every connection comes from the
  proxy's address: set the cap to 0 (off) there and cap at the proxy.

Both count in `auction_connections_closed_total{reason}`, and are logged as
one warning per condition and minute with a count (`LogThrottle`). Requests
aiohttp cannot parse are treated alike (`ProtocolErrorLog`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from server.core.context import CONTEXT
from server.core.logthrottle import LogThrottle
from server.core.metrics import Metrics
from server.settings import Settings

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class ConnectionGuard:
    def __init__(
        self, *, header_timeout: float, max_per_ip: int, metrics: Metrics | None = None
    ) -> None:
        self.header_timeout = header_timeout
        self.max_per_ip = max_per_ip
        self.metrics = metrics
        self.open_by_ip: Counter[str] = Counter()
        self._throttle = LogThrottle(log)

    def wrap(self, factory: ProtocolFactory) -> ProtocolFactory:
        return lambda: GuardedConnection(factory(), self)

    def admit(self, ip: str) -> bool:
        if self.max_per_ip and self.open_by_ip[ip] >= self.max_per_ip:
            self._closed("per_ip_cap", "connections refused: an address held %s already", ip)
            return False
        self.open_by_ip[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open_by_ip[ip] -= 1
        if self.open_by_ip[ip] <= 0:
            del self.open_by_ip[ip]

    def timed_out(self, ip: str) -> None:
        self._closed(
            "header_timeout", "connections closed: no complete request headers within %s s", ip
        )

    def _closed(self, reason: str, message: str, ip: str) -> None:
        if self.metrics is not None:
            self.metrics.connections_closed.labels(reason=reason).inc()
        detail = self.max_per_ip if reason == "per_ip_cap" else self.header_timeout
        self._throttle.warning(reason, message, detail)


class GuardedConnection(asyncio.Protocol):
    """Stands between the transport and aiohttp's protocol, passing everything on."""

    __slots__ = ("_tail", "guard", "inner", "ip", "timer", "transport")

    def __init__(self, inner: Any, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.ip: str | None = None
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self.guard.admit(ip):
            transport.abort()
            return
        self.ip, self.transport = ip, transport
        if self.guard.header_timeout > 0:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.guard.header_timeout, self._too_slow)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            # The end of the headers: an empty line (CRLF CRLF, or a bare LF LF).
            seen = self._tail + data
            if b"\n\r\n" in seen or b"\n\n" in seen:
                self.timer.cancel()
                self.timer = None
            else:
                self._tail = seen[-2:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.ip is None:
            return None
        return self.inner.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ip is None:
            return  # refused: aiohttp never saw it
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.guard.release(self.ip)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def _too_slow(self) -> None:
        self.timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.guard.timed_out(self.ip or "unknown")
            self.transport.abort()


class ProtocolErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, minus the tracebacks of malformed requests.

    aiohttp logs a request it cannot parse (a header over 8 KB, a bad request
    line) at ERROR with a traceback whose message quotes the client's bytes: a
    token's claims, say. Any anonymous client can cause that as often as it
    likes. Here each kind becomes one warning per minute with a count, no
    request content, and `auction_http_protocol_errors_total{error}`.
    """

    def __init__(self, metrics: Metrics | None) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.metrics = metrics
        self._throttle = LogThrottle(log)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            name = type(exc).__name__
            if self.metrics is not None:
                self.metrics.http_protocol_errors.labels(error=name).inc()
            self._throttle.warning(
                name, "refused malformed HTTP requests: %s (%s); content not logged", name, exc.code
            )
            return
        super().log(level, msg, *args, **kwargs)


class GuardedAppRunner(web.AppRunner):
    """An `AppRunner` whose sites accept connections through a `ConnectionGuard`."""

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = guard

    @property
    def server(self) -> Any:
        inner = super().server
        return None if inner is None else self.guard.wrap(inner)


# Connections the kernel completes and queues for us while the loop is busy (capped by
# net.core.somaxconn). aiohttp's default is 128. Past it the kernel drops SYNs (the
# client retries after 1 s, 3 s, ...) or a handshake's last ACK (the client believes it
# is connected; the server only learns of it on a SYN-ACK retransmit, up to ~30 s later,
# or never). A burst of reconnecting watchers (a deploy, a network blip on a popular
# lot) overflowed 128 on a busy loop. nginx and Node listen with 511.
LISTEN_BACKLOG = 1024


def serve_app(
    app: web.Application,
    settings: Settings,
    loop: asyncio.AbstractEventLoop,
    *,
    reuse_port: bool = False,
) -> None:
    """Serve `app` on `settings.host:port` until SIGINT or SIGTERM (like `web.run_app`).

    `reuse_port` binds with SO_REUSEPORT, for the processes of `WORKERS`.

    `web.run_app` builds its own `AppRunner`; this is the same sequence with
    `GuardedAppRunner`: set up (the app's start-up), listen, wait for the
    signal, then the graceful cleanup and the loop's own.
    """
    guard = ConnectionGuard(
        header_timeout=settings.http_header_timeout_seconds,
        max_per_ip=settings.max_connections_per_ip,
        metrics=app[CONTEXT].metrics,
    )
    runner = GuardedAppRunner(
        app,
        guard,
        handle_signals=True,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        handler_cancellation=True,
        keepalive_timeout=settings.http_idle_timeout_seconds,
        logger=ProtocolErrorLog(app[CONTEXT].metrics),
    )

    async def run() -> None:
        await runner.setup()
        site = web.TCPSite(
            runner,
            settings.host,
            settings.port,
            reuse_port=reuse_port or None,
            backlog=LISTEN_BACKLOG,
        )
        await site.start()
        log.info("======== Running on %s ========", site.name)
        await asyncio.Event().wait()  # until GracefulExit (a signal) ends the loop

    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run())
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            loop.run_until_complete(runner.cleanup())
        finally:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
