"""A Redis outage between two real server processes (issue 18 item 8).

Each test runs its own `redis-server` on a free port, so it can stop and
restart it (the shared Redis on 6379 is never touched). While Redis is down,
events of process A do not reach watchers on process B; the processes must
say so once (not per emit), report it in `/readyz` (200, degraded) and the
metrics, retry within seconds, and once Redis is back tell B's lot rooms to
`resync` so nobody stays on a stale price.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import METRICS_AUTH, METRICS_TOKEN
from tests.support.factories import bid, create_lot
from tests.support.services import _answers, free_port, wait_for
from tests.test_multiprocess import start_processes  # noqa: F401  (fixture)

pytestmark = pytest.mark.multiprocess


class OwnRedis:
    """A throwaway redis-server this test may stop and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), *options, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
            self._process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed; this test needs a Redis it can stop")
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def _redis_lines(process: Any, level: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in process.log_entries()
        if entry["level"] == level and "redis" in (entry["msg"] + entry["logger"]).lower()
    ]


async def _readyz(process: Any) -> tuple[int, Any]:
    return await process.request("GET", "/readyz")  # type: ignore[no-any-return]


async def test_fanout_recovers_within_seconds_and_watchers_are_told_to_resync(
    start_processes: Callable[..., Any],  # noqa: F811  (the fixture imported above)
    own_redis: OwnRedis,
    db: Any,
) -> None:
    a, b = await start_processes(2, redis=own_redis.url, METRICS_TOKEN=METRICS_TOKEN)
    lot = await create_lot(a, starting_price=1000, bid_increment=100)
    watcher = await b.socket(None)
    assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    alice, bob = await a.socket("alice"), await a.socket("bob")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    await watcher.wait_for("bid_placed", lambda e: e["amount"] == 1000)
    status, ready = await _readyz(b)
    assert (status, ready["status"], ready["redis"]) == (200, "ready", "connected")

    own_redis.stop()
    for process in (a, b):
        status, ready = await wait_for(lambda p=process: _degraded(p), timeout=10)
        assert (status, ready["status"], ready["redis"]) == (200, "degraded", "unreachable")
    # Bids go on while Redis is down; each would have logged two ERROR lines per emit.
    amounts = [1100 + 100 * i for i in range(6)]
    for i, amount in enumerate(amounts):
        bidder = (bob, alice)[i % 2]
        ack = await bidder.call("place_bid", bid(lot["id"], amount))
        assert ack["ok"], ack
    await asyncio.sleep(0.3)
    assert [e["amount"] for e in watcher.events["bid_placed"]] == [1000]  # lost on B
    assert _redis_lines(a, "error") == []
    assert 1 <= len(_redis_lines(a, "warning")) <= 2, _redis_lines(a, "warning")
    metrics = (await a.request("GET", "/metrics", headers=METRICS_AUTH))[1]
    assert "auction_redis_up 0.0" in metrics
    assert "auction_redis_publish_failures_total 0.0" not in metrics

    own_redis.start()
    back = time.monotonic()
    resync = await watcher.wait_for("resync", timeout=6)
    recovered_in = time.monotonic() - back
    rejoined = await watcher.call("join_lot", {"lot_id": lot["id"]})
    assert rejoined["lot"]["current_bid"] == amounts[-1]
    assert resync == {
        "lot_id": lot["id"],
        "seq": rejoined["lot"]["seq"],
        "reason": "redis_reconnected",
    }
    assert resync["seq"] > watcher.events["bid_placed"][-1]["seq"]  # the client's gap check fires
    # Fan-out works again.
    ack = await bob.call("place_bid", bid(lot["id"], amounts[-1] + 100))
    assert ack["ok"], ack
    await watcher.wait_for("bid_placed", lambda e: e["amount"] == amounts[-1] + 100)
    status, ready = await _readyz(b)
    assert (status, ready["status"], ready["redis"]) == (200, "ready", "connected")
    metrics = (await b.request("GET", "/metrics", headers=METRICS_AUTH))[1]
    assert "auction_redis_up 1.0" in metrics
    assert "auction_redis_reconnects_total 1.0" in metrics
    assert _redis_lines(b, "error") == []
    print(f"resync reached the watcher {recovered_in:.2f} s after Redis restarted")


async def _degraded(process: Any) -> tuple[int, Any] | None:
    status, ready = await _readyz(process)
    return (status, ready) if ready.get("redis") == "unreachable" else None
