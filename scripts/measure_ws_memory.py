"""Server memory per idle Socket.IO connection, with and without per-message deflate.

Usage (the database must exist; it is migrated first):

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/ws_memory \\
        .venv/bin/python scripts/measure_ws_memory.py --connections 1000

For each mode it starts a fresh `python -m server serve`, opens a few warm-up
connections, reads the server's RSS, opens N idle websocket connections that
each join the `/` namespace as a watcher, waits for the server to settle,
and reads the RSS again. "deflate" clients offer `permessage-deflate`, as every
browser does (aiohttp, under engine.io, accepts it by default); "plain" clients
do not, which is what the server sees when compression is off. Not a test:
the numbers depend on the machine; docs/OPERATIONS.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.services import free_port  # noqa: E402

SECRETS = {
    "STRIPE_SECRET_KEY": "sk_test_" + "m" * 24,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "m" * 24,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "m" * 24,
    "JWT_SECRET": "measure-" + "m" * 32,
    "STRIPE_API_BASE": "http://127.0.0.1:9",  # never called: no lots close
}


async def open_socket(http: aiohttp.ClientSession, url: str, deflate: bool):  # type: ignore[no-untyped-def]
    """One Engine.IO v4 websocket that has joined namespace `/` anonymously."""
    ws = await http.ws_connect(
        f"{url}/socket.io/?EIO=4&transport=websocket", compress=15 if deflate else 0
    )
    opening = await ws.receive_str()  # 0{"sid":...,"pingInterval":...}
    assert opening.startswith("0"), opening
    await ws.send_str("40")
    joined = await ws.receive_str()  # 40{"sid":...}
    assert joined.startswith("40"), joined
    return ws


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def measure(url: str, pid: int, count: int, deflate: bool) -> tuple[int, int]:
    """(RSS before, RSS after) opening `count` idle connections."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        warm = [await open_socket(http, url, deflate) for _ in range(20)]
        await asyncio.sleep(1.0)
        before = rss(pid)
        sockets = []
        for start in range(0, count, 100):
            batch = [open_socket(http, url, deflate) for _ in range(min(100, count - start))]
            sockets.extend(await asyncio.gather(*batch))
        await asyncio.sleep(2.0)
        after = rss(pid)
        for ws in [*warm, *sockets]:
            await ws.close()
    return before, after


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready")


async def run_mode(count: int, deflate: bool) -> float:
    port = free_port()
    env = {**os.environ, **SECRETS, "PORT": str(port), "HOST": "127.0.0.1"}
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measuring
        [sys.executable, "-m", "server", "serve"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url)
        before, after = await measure(url, server.pid, count, deflate)
    finally:
        server.terminate()
        server.wait(30)
    per_connection = (after - before) / count
    mode = "deflate" if deflate else "plain"
    print(
        f"{mode:8} {count} connections: RSS {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB, "
        f"{per_connection / 1024:.1f} KiB per connection"
    )
    return per_connection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database this script may migrate")
    subprocess.run(
        [sys.executable, "-m", "server", "migrate"],
        cwd=ROOT,
        check=True,
        env={**os.environ, **SECRETS},
    )
    for _ in range(args.rounds):
        for deflate in (False, True):
            asyncio.run(run_mode(args.connections, deflate))


if __name__ == "__main__":
    main()
