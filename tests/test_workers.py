"""`WORKERS=2`: two server processes on one port, sharing PostgreSQL and Redis.

`python -m server serve` runs as a child process with WORKERS=2; the test
talks to its one port with real websocket-only Socket.IO clients, whose
connections the kernel spreads over both workers (SO_REUSEPORT).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from server.auctions.models import Bid
from tests.conftest import WEBHOOK_SECRET
from tests.support import services
from tests.support.factories import bid, create_lot
from tests.support.processes import ProcessGroup, ServerProcess, child_environment
from tests.support.services import PATIENCE, ROOT, redis_url

pytestmark = pytest.mark.multiprocess

METRICS_TOKEN = "workers-metrics-" + "m" * 16


@pytest.fixture
def redis() -> str:
    url = redis_url()
    if url is None:
        pytest.skip(
            "Redis is not available (set TEST_REDIS_URL or run one on 127.0.0.1:6379); "
            "WORKERS > 1 shares Socket.IO events through it"
        )
    return url


@pytest.fixture
def contract_env(test_database: services.TestDatabase, localstripe: Any, settings: Any) -> dict:
    return {
        "DATABASE_URL": test_database.url,
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        "STRIPE_PUBLISHABLE_KEY": settings.stripe_publishable_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JWT_SECRET": settings.jwt_secret,
    }


@pytest.fixture
async def two_workers(
    contract_env: dict, redis: str, make_token: Any, db: Any, tmp_path: Path
) -> AsyncIterator[ServerProcess]:
    group = ProcessGroup(contract_env, tmp_path, make_token)
    try:
        [server] = await group.start(1, REDIS_URL=redis, WORKERS="2", METRICS_TOKEN=METRICS_TOKEN)
        await every_worker_answers(server, 2)
        yield server
    finally:
        await group.stop_all()


async def every_worker_answers(server: ServerProcess, workers: int, timeout: float = 30) -> None:
    """Wait until `workers` distinct processes have served a request on the shared port.

    `/readyz` answers as soon as the first worker listens; until the others bind,
    the kernel hands every connection to that one. The access log names the pid
    that served each request, so fresh connections show when all are listening.
    """
    deadline = asyncio.get_running_loop().time() + timeout * PATIENCE
    while True:
        for _ in range(8):
            connector = aiohttp.TCPConnector(force_close=True)
            async with (
                aiohttp.ClientSession(connector=connector) as http,
                http.get(server.url + "/healthz") as response,
            ):
                assert response.status == 200
        pids = {
            entry.get("pid")
            for entry in server.log_entries()
            if entry.get("path") == "/healthz" and entry.get("status") == 200
        }
        if len(pids) >= workers:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {len(pids)} of {workers} workers answered: {pids}")
        await asyncio.sleep(0.2)


def workers_of(server: ServerProcess) -> list[int]:
    """The worker pids the parent announced, each checked to be its live child."""
    [entry] = [e for e in server.log_entries() if "workers serving on" in e["msg"]]
    pids = [int(pid) for pid in entry["msg"].split("(pids ")[1].rstrip(")").split(", ")]
    path = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    assert set(pids) <= {int(part) for part in path.read_text().split()}
    return pids


async def sockets_seen(url: str, samples: int = 24) -> set[float]:
    """`auction_sockets_connected` as answered over `samples` fresh connections."""
    seen = set()
    for _ in range(samples):
        connector = aiohttp.TCPConnector(force_close=True)
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(
                url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
            ) as response,
        ):
            body = await response.text()
        for family in text_string_to_metric_families(body):
            if family.name == "auction_sockets_connected":
                seen.add(family.samples[0].value)
    return seen


async def test_two_workers_share_one_port_the_bids_and_every_event(two_workers, db):
    server = two_workers
    assert len(workers_of(server)) == 2
    lot = await create_lot(server, starting_price=100, bid_increment=1)
    watchers = [await server.socket(None) for _ in range(10)]
    for watcher in watchers:
        assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    bidders = [await server.socket(f"worker-bidder-{n}") for n in range(8)]
    total = len(watchers) + len(bidders)
    # Each process counts only its own sockets: neither holds all of them, nor none.
    seen = await sockets_seen(server.url)
    assert seen and all(0 < value < total for value in seen), seen

    async def bid_on(client: Any, rounds: int) -> list[dict[str, Any]]:
        acks = []
        for _ in range(rounds):
            current = (await client.call("join_lot", {"lot_id": lot["id"]}))["lot"]
            acks.append(await client.call("place_bid", bid(lot["id"], current["min_next_bid"])))
        return acks

    results = await asyncio.gather(*(bid_on(client, 5) for client in bidders))
    accepted = [a for acks in results for a in acks if a["ok"]]
    refused = {a["error"]["code"] for acks in results for a in acks if not a["ok"]}
    assert accepted and refused <= {"bid_too_low", "already_highest"}, refused
    async with db.sessions() as session:
        history = (
            await session.execute(
                select(Bid.id, Bid.amount).where(Bid.lot_id == lot["id"]).order_by(Bid.id)
            )
        ).all()
    assert sorted(a["bid"]["id"] for a in accepted) == [bid_id for bid_id, _ in history]
    assert all(a < b for (_, a), (_, b) in itertools.pairwise(history))
    last = history[-1][1]
    for watcher in watchers:
        await watcher.wait_for("bid_placed", lambda e: e["amount"] == last, timeout=10)
        assert sorted(e["bid_id"] for e in watcher.events["bid_placed"]) == [
            bid_id for bid_id, _ in history
        ]


async def test_sigterm_stops_every_worker_gracefully(two_workers):
    server = two_workers
    workers = workers_of(server)
    server.signal(signal.SIGTERM)
    assert await server.wait_exit(30) == 0
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


async def test_a_worker_that_dies_takes_the_group_down_for_a_restart(two_workers):
    server = two_workers
    first, _ = workers_of(server)
    os.kill(first, signal.SIGKILL)
    assert await server.wait_exit(30) == 1
    assert "exited with code -9; stopping the others" in server.log()


def test_workers_without_redis_refuse_to_start(contract_env):
    env = child_environment({**contract_env, "WORKERS": "2", "PORT": "18999"})
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "configuration error: WORKERS > 1 needs REDIS_URL: "
        "the processes share Socket.IO events through Redis"
    )


@pytest.mark.parametrize("value", ["0", "-1", "two", "65"])
def test_a_malformed_workers_value_names_the_variable(contract_env, value):
    from server.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match=r"^WORKERS must"):
        Settings.from_env({**contract_env, "WORKERS": value, "REDIS_URL": "redis://x"})
