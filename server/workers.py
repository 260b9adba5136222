"""`WORKERS=N`: N server processes on one port, for more than one core.

`serve` with `WORKERS` above 1 starts N children (spawned, each a whole
server: its own event loop, database pool and scheduler) that bind the same
`HOST:PORT` with SO_REUSEPORT, so the kernel spreads incoming connections
over them. They share PostgreSQL, as separate replicas always could, and
Socket.IO events through Redis (`REDIS_URL` is required, checked at start-up).

A WebSocket is one connection, so a websocket-only client talks to one
process for its whole life and needs no sticky sessions. Long-polling is many
requests, possibly on several connections that land on different processes,
which engine.io refuses (its session lives in one process): clients that may
poll need the sticky proxy and one port per replica (docs/OPERATIONS.md).

The parent only supervises: SIGTERM or SIGINT is passed on to every child as
SIGTERM (each stops gracefully), and if a child dies on its own the others
are stopped too and the parent exits non-zero, for the service manager to
restart the whole group. Without `DATABASE_URL` the parent starts the embedded
PostgreSQL once and hands its URL to the children.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from server.settings import Settings

log = logging.getLogger("server.workers")

STOP_PATIENCE_SECONDS = 30.0


def _child(settings: Settings, index: int) -> None:
    # Its own process group: a Ctrl-C in the terminal reaches the parent, which
    # passes one SIGTERM on; two signals at once would cut a graceful stop short.
    os.setpgid(0, 0)
    from server.cli import serve_one_worker

    raise SystemExit(serve_one_worker(settings))


def serve_workers(settings: Settings) -> int:
    """Run `settings.workers` server processes on one port until told to stop."""
    embedded = None
    if settings.database_url is None:
        from server.core.embedded_pg import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.data_dir)
        settings = settings.with_overrides(database_url=embedded.start())
    spawn = multiprocessing.get_context("spawn")
    children: list[BaseProcess] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            log.info("stopping %d workers", len(children))
        stopping = True
        for child in children:
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(settings.workers):
            child: BaseProcess = spawn.Process(
                target=_child, args=(settings, index), name=f"worker-{index}"
            )
            child.start()
            children.append(child)
        log.info(
            "%d workers serving on %s:%s (pids %s)",
            len(children),
            settings.host,
            settings.port,
            ", ".join(str(child.pid) for child in children),
        )
        failed = _supervise(children, lambda: stopping, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            child.join(STOP_PATIENCE_SECONDS)
            if child.exitcode is None:
                log.error("worker pid %s did not stop; killing it", child.pid)
                child.kill()
                child.join(5)
        if embedded is not None:
            embedded.stop()
    return 1 if failed else 0


def _supervise(
    children: list[BaseProcess],
    stopping: Callable[[], bool],
    stop: Callable[[int, FrameType | None], None],
) -> bool:
    """Wait until every child has exited; True when one died without being told to."""
    failed = False
    running = list(children)
    while running:
        wait([child.sentinel for child in running])
        for child in [child for child in running if child.exitcode is not None]:
            running.remove(child)
            if not stopping() and not failed:
                failed = True
                log.error(
                    "worker pid %s exited with code %s; stopping the others",
                    child.pid,
                    child.exitcode,
                )
                stop(signal.SIGTERM, None)
            elif child.exitcode != 0:
                failed = True
    return failed
