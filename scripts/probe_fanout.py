"""In-process probe of the realtime layer: idle background, broadcast CPU and memory per socket.

Usage (no database needed; scripts/_venv.sh's interpreter):

    $VENV/bin/python scripts/probe_fanout.py --sockets 1000 --idle 45 --emits 20

The server half runs here: the project's own Socket.IO server
(`make_socketio_server`: lean engine.io sockets, the fan-out manager, the
collector tuned as `collector_ctx` does) on aiohttp, with a namespace that puts
every connection in one room. A child process opens N raw Engine.IO v4
websockets (answering pings, counting events). Measured in the server process:

- idle: process CPU over `--idle` seconds with N connected sockets and nothing
  broadcast (pings and the read deadlines), per socket per second;
- broadcast: process CPU over `--emits` room emits 0.2 s apart, the pongs and
  pings in that time included, per delivered message; and the emit calls alone;
- RSS growth per socket, and the tasks and timers alive per socket.

Not a test and no assertions: the figures depend on the machine's load (print
`uptime` with them); docs/BENCHMARKS.md records before/after pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import socketio
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.realtime.hub import make_socketio_server  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.support.services import free_port  # noqa: E402

ROOM = "lot:1"
PAYLOAD = {
    "lot_id": 1,
    "seq": 0,
    "bid_id": 1,
    "amount": 200,
    "bidder": "Bidder 7f3a",
    "auto": False,
    "bid_count": 1,
    "ends_at": "2026-12-06T12:00:00+00:00",
    "min_next_bid": 210,
    "reserve_met": True,
    "created_at": "2026-12-06T10:00:00+00:00",
}


def settings() -> Settings:
    return Settings.from_env(
        {"DATABASE_URL": "postgresql+asyncpg://probe@127.0.0.1/probe"},
        dev=True,
    )


class Room(socketio.AsyncNamespace):  # type: ignore[misc]
    async def on_connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        await self.enter_room(sid, ROOM)


async def open_socket(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", compress=0)
    assert (await ws.receive_str()).startswith("0")
    await ws.send_str("40")
    assert (await ws.receive_str()).startswith("40")
    return ws


async def watch(ws: aiohttp.ClientWebSocketResponse, counts: list[int]) -> None:
    async for message in ws:
        if message.data == "2":
            await ws.send_str("3")
        elif message.data.startswith("42"):
            counts[0] += 1


def clients(url: str, count: int, pipe: Any) -> None:
    async def run() -> None:
        counts = [0]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            sockets = []
            for start in range(0, count, 100):
                batch = [open_socket(http, url) for _ in range(min(100, count - start))]
                sockets.extend(await asyncio.gather(*batch))
            watchers = [asyncio.create_task(watch(ws, counts)) for ws in sockets]
            pipe.send("connected")
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
            pipe.send(counts[0])
            for ws in sockets:
                await ws.close()
            for task in watchers:
                task.cancel()

    asyncio.run(run())


class Pauses:
    """The collector's pauses by generation, as `auction_gc_pause_seconds` observes them."""

    def __init__(self) -> None:
        self.started = 0.0
        self.reset()

    def reset(self) -> None:
        self.seconds: dict[int, list[float]] = {0: [], 1: [], 2: []}

    def observe(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.seconds[info["generation"]].append(time.perf_counter() - self.started)

    def __str__(self) -> str:
        return ", ".join(
            f"gen{generation} {len(pauses)} x, max {max(pauses, default=0) * 1000:.1f} ms, "
            f"total {sum(pauses) * 1000:.1f} ms"
            for generation, pauses in self.seconds.items()
        )


class NoSyscalls:
    """A transport whose methods are C built-ins that do nothing: the fan-out loop's own cost."""

    __slots__ = ()
    write = staticmethod(len)
    get_write_buffer_size = staticmethod(int)  # 0
    is_closing = staticmethod(bool)  # False


async def python_only(sio: Any, emits: int, sockets: int) -> None:
    """CPU per recipient of `emits` broadcasts with every websocket's writes stubbed out."""
    direct = sio.manager.registry.sockets
    saved = {sid: target.transport for sid, target in direct.items()}
    for target in direct.values():
        target.transport = NoSyscalls()
    batches: list[float] = []  # ns per recipient, per batch of 10 emits
    try:
        for batch in range(max(1, emits // 10)):
            began = time.process_time()
            for n in range(10):
                await sio.emit("bid_placed", {**PAYLOAD, "seq": batch * 10 + n}, room=ROOM)
            batches.append((time.process_time() - began) / (10 * sockets) * 1e9)
    finally:
        for sid, transport in saved.items():
            direct[sid].transport = transport
    print(
        f"fan-out loop without the system calls: min {min(batches):.0f} ns, median "
        f"{statistics.median(batches):.0f} ns per recipient ({len(batches)} batches of 10 "
        f"emits to {sockets} sockets)",
        flush=True,
    )


def cpu() -> float:
    times = os.times()
    return times.user + times.system


async def profile(path: str | None, seconds: float, native: bool = False) -> Any:
    """py-spy recording this process for `seconds` into `path` (raw collapsed stacks)."""
    if not path:
        return None
    return await asyncio.create_subprocess_exec(
        *("py-spy", "record", "-p", str(os.getpid()), "-d", str(max(1, round(seconds)))),
        *("-r", "500", "--format", "raw", "-o", path),
        *(["--native"] if native else ["--nonblocking"]),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def probe(args: argparse.Namespace) -> None:
    sio = make_socketio_server(settings())
    sio.register_namespace(Room("/"))
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    gc.set_threshold(*args.gc_thresholds)
    gc.collect()
    gc.freeze()  # as server.core.collector does once the server has started
    pauses = Pauses()
    gc.callbacks.append(pauses.observe)
    me = psutil.Process()
    loop = asyncio.get_running_loop()
    ours, theirs = multiprocessing.Pipe()
    rss_before = me.memory_info().rss
    tasks_before = len(asyncio.all_tasks())
    timers_before = len(getattr(loop, "_scheduled", []))
    child = multiprocessing.Process(
        target=clients, args=(f"http://127.0.0.1:{port}", args.sockets, theirs)
    )
    child.start()
    await loop.run_in_executor(None, ours.recv)
    await asyncio.sleep(2.0)
    rss_after = me.memory_info().rss
    per_socket_kib = (rss_after - rss_before) / args.sockets / 1024
    tasks = (len(asyncio.all_tasks()) - tasks_before) / args.sockets
    timers = (len(getattr(loop, "_scheduled", [])) - timers_before) / args.sockets
    print(
        f"sockets {args.sockets}: RSS +{per_socket_kib:.1f} KiB per socket, "
        f"{tasks:.2f} tasks per socket"
        + (f", {timers:.2f} timers per socket" if hasattr(loop, "_scheduled") else ""),
        flush=True,
    )

    spy = await profile(args.profile, args.idle)
    pauses.reset()
    idle_from, idle_cpu = time.monotonic(), cpu()
    await asyncio.sleep(args.idle)
    idle_seconds = time.monotonic() - idle_from
    idle_used = cpu() - idle_cpu
    print(
        f"idle {idle_seconds:.0f} s: {idle_used * 1000:.0f} ms CPU = "
        f"{idle_used / idle_seconds * 100:.2f} % of a core, "
        f"{idle_used / idle_seconds / args.sockets * 1e6:.2f} us per socket per second",
        flush=True,
    )

    if spy is not None:
        await spy.wait()
    spy = await profile(args.profile_emits, args.emits * 0.2 + 1, native=True)
    print(f"  collector during idle: {pauses}", flush=True)
    pauses.reset()
    emit_cpu = 0.0
    phase_from, phase_cpu = time.monotonic(), cpu()
    for n in range(args.emits):
        before = cpu()
        await sio.emit("bid_placed", {**PAYLOAD, "seq": n, "amount": 200 + n}, room=ROOM)
        emit_cpu += cpu() - before
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    phase_used = cpu() - phase_cpu
    phase_seconds = time.monotonic() - phase_from
    if spy is not None:
        await spy.wait()
    if args.python_only:
        await python_only(sio, args.python_only, args.sockets)
    ours.send("count")
    delivered = await loop.run_in_executor(None, ours.recv)
    child.join(30)
    print(
        f"broadcast {args.emits} emits over {phase_seconds:.1f} s, delivered {delivered}: "
        f"{phase_used / max(delivered, 1) * 1e6:.2f} us CPU per message (phase), "
        f"{emit_cpu / max(delivered, 1) * 1e6:.2f} us (emit calls alone)",
        flush=True,
    )
    print(f"  collector during the broadcast: {pauses}", flush=True)
    gc.callbacks.remove(pauses.observe)
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=45.0)
    parser.add_argument("--emits", type=int, default=20)
    parser.add_argument(
        "--gc-thresholds",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        default=(50_000, 20, 100),
        help="the collector's thresholds (GC_THRESHOLDS), default 50000,20,100",
    )
    parser.add_argument(
        "--python-only", type=int, default=0, help="that many emits with writes stubbed out"
    )
    parser.add_argument("--profile", help="py-spy's raw stacks of the idle phase to this file")
    parser.add_argument("--profile-emits", help="py-spy's raw stacks (native) of the broadcast")
    args = parser.parse_args()
    print(f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)
    try:
        import uvloop
    except ImportError:
        asyncio.run(probe(args))
    else:
        uvloop.run(probe(args))
    print(f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)


if __name__ == "__main__":
    main()
