"""The listening socket queues a burst of connections while the server is busy.

When a popular lot's watchers reconnect at once (a deploy, a network blip) the
event loop may be busy for a moment. The kernel completes their handshakes and
queues them until the server accepts; past the listen backlog it drops the
SYNs and each client waits for its retransmit, a second or more. aiohttp's
default backlog is 128; the server listens with `LISTEN_BACKLOG`.

The test stops the server process (SIGSTOP: a loop that does not accept at
all) and opens a burst of connections: every one must complete within a
fraction of a second. It does not start with the `multiprocess` marker, which
would put it in the serial group: it only stops its own server.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

from server.core.connections import LISTEN_BACKLOG
from tests.test_multiprocess import start_processes  # noqa: F401  (fixture)

BURST = 600  # well over aiohttp's default of 128, under LISTEN_BACKLOG


async def _connects(port: int, timeout: float) -> asyncio.StreamWriter | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except TimeoutError:
        return None
    return writer


async def test_a_burst_of_connections_waits_in_the_backlog_while_the_server_is_busy(
    start_processes: Callable[..., Any],  # noqa: F811  (the fixture imported above)
) -> None:
    assert BURST < LISTEN_BACKLOG
    (server,) = await start_processes(1, AUCTION_MAX_CONNECTIONS_PER_IP="0")
    os.kill(server.pid, signal.SIGSTOP)
    writers: list[asyncio.StreamWriter | None] = []
    try:
        # Past a full backlog the kernel drops every SYN and its retransmits for as long as
        # the server is stopped: such a connect never completes, however long it waits. The
        # 5 s only bounds the test (a queued connect completes at once, whatever the load).
        writers = await asyncio.gather(*(_connects(server.port, 5.0) for _ in range(BURST)))
    finally:
        os.kill(server.pid, signal.SIGCONT)
    try:
        dropped = writers.count(None)
        assert dropped == 0, f"{dropped} of {BURST} connections were not queued"
        # Once running again the server accepts the queue and still answers.
        status, _ = await server.request("GET", "/healthz")
        assert status == 200
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
