"""Client-side processes for scripts/bench: many python-socketio AsyncClients each.

Each worker runs in its own process (multiprocessing, spawn) so the load
generator does not share one event loop with the clients it measures. A worker
receives one job dict and sends back one result dict through a Pipe; every
loop is bounded by the job's duration or counts.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

import socketio


async def _connect(url: str, token: str | None) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    auth = {"token": token} if token is not None else None
    await sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=20)
    return sio


async def _connect_many(
    url: str, tokens: list[str | None], concurrency: int = 50
) -> list[socketio.AsyncClient]:
    gate = asyncio.Semaphore(concurrency)

    async def one(token: str | None) -> socketio.AsyncClient:
        async with gate:
            return await _connect(url, token)

    return list(await asyncio.gather(*(one(t) for t in tokens)))


async def _disconnect_all(clients: list[socketio.AsyncClient]) -> None:
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


# --- bids: an open-loop load at a fixed offered rate --------------------------------------------


async def _bids(job: dict[str, Any]) -> dict[str, Any]:
    clients = await _connect_many(job["url"], job["tokens"])
    lots: list[int] = job["lots"]
    t0: float = job["t0"]
    workers: int = job["workers"]
    index: int = job["index"]
    rate: float = job["rate"]
    duration: float = job["duration"]
    max_spread: int = job.get("max_spread", 0)
    latencies: list[float] = []
    codes: dict[str, int] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def one(client: socketio.AsyncClient, lot_id: int) -> None:
        amount = 1000 + int((time.time() - t0) * 20_000) * workers + index
        payload: dict[str, Any] = {
            "lot_id": lot_id,
            "amount": amount,
            "request_id": uuid.uuid4().hex,
        }
        if max_spread:
            # A proxy war: each bid leaves a maximum a little above it, so later bids
            # meet standing maxima and the house answers with automatic bids.
            payload["max_amount"] = amount + random.randint(1, max_spread)
        started = time.perf_counter()
        try:
            ack = await client.call("place_bid", payload, timeout=30)
        except Exception:
            codes["timeout"] = codes.get("timeout", 0) + 1
            return
        latencies.append(time.perf_counter() - started)
        code = "ok" if ack.get("ok") else ack["error"]["code"]
        codes[code] = codes.get(code, 0) + 1

    # Wait for the common start so all workers offer load at once.
    await asyncio.sleep(max(0.0, job["start_at"] - time.time()))
    interval = 1.0 / rate
    begin = time.perf_counter()
    sent = 0
    while True:
        now = time.perf_counter() - begin
        if now >= duration:
            break
        due = int(now / interval) + 1
        while sent < due:
            task = asyncio.create_task(one(random.choice(clients), random.choice(lots)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(interval / 2 if interval < 0.01 else 0.005)
    if tasks:
        await asyncio.wait(tasks, timeout=35)
    await _disconnect_all(clients)
    return {"latencies": latencies, "codes": codes, "sent": sent}


# --- watchers: join a lot and stamp each bid_placed -----------------------------------------------


async def _watch(job: dict[str, Any], conn: Connection) -> dict[str, Any]:
    clients = await _connect_many(job["url"], job["tokens"])
    received: list[tuple[int, float]] = []

    def make_handler() -> Any:
        async def on_bid(data: dict[str, Any]) -> None:
            received.append((int(data["bid_id"]), time.time()))

        return on_bid

    lot_id = job.get("lot_id")
    if lot_id is not None:
        for client in clients:
            client.on("bid_placed", make_handler())
        gate = asyncio.Semaphore(50)

        async def join(client: socketio.AsyncClient) -> None:
            async with gate:
                for attempt in range(6):  # a busy server says `unavailable`: retry, as apps do
                    ack = await client.call("join_lot", {"lot_id": lot_id}, timeout=30)
                    if ack["ok"] or ack["error"]["code"] != "unavailable":
                        break
                    await asyncio.sleep(0.5 * 2**attempt)
                assert ack["ok"], ack

        await asyncio.gather(*(join(c) for c in clients))
    conn.send({"ready": len(clients)})
    # Stay until the parent says stop (bounded: at most job["max_seconds"]).
    deadline = time.time() + job.get("max_seconds", 300)
    while time.time() < deadline:
        if conn.poll():
            conn.recv()
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(job.get("drain", 0.0))
    await _disconnect_all(clients)
    return {"received": received}


def run(job: dict[str, Any], conn: Connection) -> None:
    """Process entry point."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        if job["kind"] == "bids":
            result = asyncio.run(_bids(job))
        else:
            result = asyncio.run(_watch(job, conn))
    except Exception as error:  # reported to the parent, which prints it
        result = {"error": repr(error)}
    conn.send(result)
    conn.close()
