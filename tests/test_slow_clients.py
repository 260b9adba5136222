"""Slow and greedy clients against a real `python -m server serve` (issue 18 item 6).

Thousands of half-open connections (silent TCP, partial headers, an upgrade
request never finished) are closed once the header timeout passes, one
address may hold only so many connections, and a normal client is served all
along. The attackers connect from 127.0.0.2, the normal client from
127.0.0.1, so the per-address cap tells them apart as it would in the wild.
Timeouts are shortened through the `AUCTION_*` settings to keep this quick.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import METRICS_AUTH, METRICS_TOKEN
from tests.test_multiprocess import start_processes  # noqa: F401  (fixture)

pytestmark = pytest.mark.multiprocess

ATTACKER = "127.0.0.2"
KINDS: tuple[bytes, ...] = (
    b"",  # silent TCP
    b"GET /api/lots HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers that never end
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n",  # an upgrade never finished
)


async def _open(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    async def one(i: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        if KINDS[i % 3]:
            writer.write(KINDS[i % 3])
        return reader, writer

    opened = []
    for start in range(0, count, 200):
        opened += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 200))))
    return opened


async def _closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1024), timeout) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _peak_fds(pid: int, within: float) -> int:
    peak, deadline = 0, time.monotonic() + within
    while time.monotonic() < deadline:
        peak = max(peak, _fds(pid))
        await asyncio.sleep(0.05)
    return peak


async def _served(url: str) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as response:
        assert response.status == 200
    return time.monotonic() - started


async def test_half_open_connections_are_closed_after_the_header_timeout(
    start_processes: Callable[..., Any],  # noqa: F811  (the fixture imported above)
) -> None:
    (server,) = await start_processes(
        1,
        # Longer than opening the 2000 connections takes on a busy machine, so that they
        # are all open at once before the first is closed.
        AUCTION_HTTP_HEADER_TIMEOUT_SECONDS="8",
        AUCTION_HTTP_IDLE_TIMEOUT_SECONDS="8",
        AUCTION_MAX_CONNECTIONS_PER_IP="0",  # off: only the timeout protects
        METRICS_TOKEN=METRICS_TOKEN,
    )
    baseline = _fds(server.pid)
    attackers = await _open(server.port, 2000)
    try:
        peak = await _peak_fds(server.pid, within=2.5)
        assert peak >= baseline + 500, peak  # the server really accepted and held many
        assert await _served(server.url) < 1.0  # a normal client meanwhile
        results = await asyncio.gather(*(_closed_by_server(r, 30) for r, _ in attackers))
        assert sum(results) == len(attackers), f"{results.count(False)} still open"
        assert _fds(server.pid) <= baseline + 20
        assert await _served(server.url) < 1.0
    finally:
        for _, writer in attackers:
            writer.close()
    metrics = (await server.request("GET", "/metrics", headers=METRICS_AUTH))[1]
    assert 'auction_connections_closed_total{reason="header_timeout"} 2000.0' in metrics
    warnings = [e for e in server.log_entries() if e["logger"] == "server.core.connections"]
    assert 1 <= len(warnings) <= 2, warnings


async def test_one_address_is_capped_under_a_low_fd_limit(
    start_processes: Callable[..., Any],  # noqa: F811
) -> None:
    (server,) = await start_processes(
        1,
        # Long enough that only the cap closes anything, however slow a busy machine is
        # (aiohttp 3.14 also closes a connection idle since connect after the idle timeout).
        AUCTION_HTTP_HEADER_TIMEOUT_SECONDS="600",
        AUCTION_HTTP_IDLE_TIMEOUT_SECONDS="600",
        AUCTION_MAX_CONNECTIONS_PER_IP="100",
        METRICS_TOKEN=METRICS_TOKEN,
    )
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (512, 512))
    baseline = _fds(server.pid)
    attackers = await _open(server.port, 2000)
    try:
        refused = await asyncio.gather(*(_closed_by_server(r, 0.5) for r, _ in attackers[100:]))
        assert all(refused), f"{refused.count(False)} over the cap were kept"
        assert _fds(server.pid) <= baseline + 100 + 10
        for _ in range(5):
            assert await _served(server.url) < 1.0
        still = await asyncio.gather(*(_closed_by_server(r, 0.1) for r, _ in attackers[:100]))
        assert not any(still)  # within the cap and the timeouts: kept
    finally:
        for _, writer in attackers:
            writer.close()
    metrics = (await server.request("GET", "/metrics", headers=METRICS_AUTH))[1]
    assert 'auction_connections_closed_total{reason="per_ip_cap"} 1900.0' in metrics
    # No accept() failures (EMFILE) or protocol errors: the cap kept descriptors free.
    errors = [
        e
        for e in server.log_entries()
        if e["level"] == "error" and e["logger"].split(".")[0] in ("asyncio", "aiohttp")
    ]
    assert errors == [], errors[:3]
