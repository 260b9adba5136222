"""`scripts/bench --compare`: the same fan-out against this server, bare python-socketio and Node.

Three servers run side by side for the whole run: this server (started by
scripts/bench with its database and Stripe stand-in), a bare python-socketio +
aiohttp server (scripts/compare/bare_socketio_server.py) and a Node socket.io 4
server (scripts/compare/node_server.js; `socket.io@4` is installed from npm
into BENCH_CACHE, default var/bench-cache, on first use and never committed).
All three speak the same two events (`join_lot`, `place_bid` broadcasting a
`bid_placed` with the same fields and value formats: frames within a few bytes
of the same length), so one python-socketio client driver
(scripts/bench_workers.py, 4 processes) measures each in turn. Rounds are
interleaved (the order rotates every repetition) so drifting machine load
touches every server alike; the load average is printed with every round.

Per round: N anonymous watchers join one lot, two bidders place B bids at 5/s,
each watcher stamps every `bid_placed`; latency is the bidder's send to the
watcher's receipt. Server CPU per delivered message is the server process's
user+system time over the bid phase, less its idle rate measured for 2 s just
before (background jobs and pings), divided by the messages delivered. The
summary uses the gross figure: the 2 s idle sample is short and pings come in
bursts (every socket connected within a few seconds, so they ping together),
which makes the net one noisy. /proc counts CPU in clock ticks (10 ms). Idle
memory per connection is the server's RSS growth over 1,000 (`--quick`) or
2,000 idle websocket connections, measured first on each fresh server.
"""

# A benchmark driver: it runs fixed local commands, and blocking in its own loop is fine.
# ruff: noqa: S603, S607, ASYNC220

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("BENCH_CACHE", ROOT / "var" / "bench-cache"))
SOCKETIO_NODE = "socket.io@4"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime


def node_modules() -> Path:
    """socket.io 4 for Node, installed from npm into the cache folder once."""
    modules = CACHE / "node" / "node_modules"
    if not (modules / "socket.io" / "package.json").exists():
        if shutil.which("npm") is None:
            raise SystemExit("--compare needs node and npm for the Node socket.io server")
        (CACHE / "node").mkdir(parents=True, exist_ok=True)
        print(f"installing {SOCKETIO_NODE} into {CACHE / 'node'} (once)", flush=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(CACHE / "node"),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                SOCKETIO_NODE,
            ],
            check=True,
        )
    return modules


@dataclass
class Target:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    ours: bool = False
    p99s: dict[int, list[float]] = field(default_factory=dict)
    p50s: dict[int, list[float]] = field(default_factory=dict)
    cpu_us: dict[int, list[float]] = field(default_factory=dict)
    #: Per round: the median over its bids of each bid's last receipt (s after the send).
    last_receipts: dict[int, list[float]] = field(default_factory=dict)
    memory_kib: float = float("nan")


class Compare:
    def __init__(self, bench: Any, tools: Any, quick: bool) -> None:
        self.bench = bench
        self.tools = tools
        self.quick = quick
        self.sizes = (1000,) if quick else (1000, 3000)
        self.repetitions = 1 if quick else 2
        self.bids = 10 if quick else 20
        self.idle = 1000 if quick else 2000

    async def start_others(self) -> list[Target]:
        from tests.support.services import free_port

        modules = node_modules()
        logs = self.bench.logs
        env = {**os.environ, "NODE_PATH": str(modules)}
        started = []
        for name, command in (
            ("bare python-socketio", [sys.executable, "scripts/compare/bare_socketio_server.py"]),
            ("node socket.io 4", ["node", "scripts/compare/node_server.js"]),
        ):
            port = free_port()
            log = logs / f"compare-{name.split()[0]}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [*command, str(port)],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.tools.CHILDREN.append(process)
            url = f"http://127.0.0.1:{port}"
            await self.tools.wait_ready(url + "/", process, log)
            started.append(Target(name, url, process))
        return started

    async def lot_for(self, target: Target) -> int:
        if target.ours:
            [lot_id] = await self.bench.create_lots(1, bid_increment=1)
            return int(lot_id)
        return int(uuid.uuid4().int % 1_000_000)

    async def watchers(self, target: Target, count: int, lot_id: int | None) -> list[Any]:
        workers = self.tools.WORKERS
        job = {
            "kind": "watch",
            "url": target.url,
            "max_seconds": 600,
            "drain": 1.0,
            "tokens": [None] * (count // workers),
        }
        if lot_id is not None:
            job["lot_id"] = lot_id
        started = self.bench.spawn([dict(job) for _ in range(workers)])
        for _, pipe in started:
            ready = await self.bench.receive(pipe, 600)
            if "error" in ready:
                raise SystemExit(f"{target.name}: watcher failed: {ready['error']}")
        return started

    async def stop(self, started: list[Any]) -> list[dict[str, Any]]:
        for _, pipe in started:
            pipe.send("stop")
        results = [await self.bench.receive(pipe, 120) for _, pipe in started]
        for process, _ in started:
            process.join(10)
        return results

    async def memory(self, target: Target) -> None:
        await asyncio.sleep(1)
        before = self.tools.rss_kib(target.process.pid)
        started = await self.watchers(target, self.idle, None)
        await asyncio.sleep(3)
        after = self.tools.rss_kib(target.process.pid)
        await self.stop(started)
        target.memory_kib = (after - before) / self.idle
        print(
            f"  idle {self.idle} sockets  {target.name:22} RSS {before / 1024:6.1f} MiB -> "
            f"{after / 1024:6.1f} MiB = {target.memory_kib:5.1f} KiB per connection "
            f"(load {load()})",
            flush=True,
        )

    async def fanout(self, target: Target, watchers: int) -> None:
        lot_id = await self.lot_for(target)
        started = await self.watchers(target, watchers, lot_id)
        bidders = []
        for side in ("a", "b"):
            bidder = socketio.AsyncClient(reconnection=False)
            await bidder.connect(
                target.url,
                auth={"token": self.tools.token(f"cmp-{side}")},
                transports=["websocket"],
            )
            bidders.append(bidder)
        load_before = load()
        # The server's own background (scheduler sweeps, outbox, pings) while nothing is
        # broadcast, subtracted below: Node and bare python-socketio have none.
        idle_from, idle_cpu = time.monotonic(), cpu_seconds(target.process.pid)
        await asyncio.sleep(2.0)
        idle_rate = (cpu_seconds(target.process.pid) - idle_cpu) / (time.monotonic() - idle_from)
        sent: dict[int, float] = {}
        acked: dict[int, float] = {}
        cpu_before, began = cpu_seconds(target.process.pid), time.monotonic()
        clients_before = sum(cpu_seconds(process.pid) for process, _ in started)
        for n in range(self.bids):
            at = time.time()
            ack = await bidders[n % 2].call(
                "place_bid", {"lot_id": lot_id, "amount": 200 + n, "request_id": uuid.uuid4().hex}
            )
            assert ack["ok"], ack
            sent[int(ack["bid"]["id"])] = at
            acked[int(ack["bid"]["id"])] = time.time()
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        gross = cpu_seconds(target.process.pid) - cpu_before
        clients_cpu = sum(cpu_seconds(process.pid) for process, _ in started) - clients_before
        cpu = max(0.0, gross - idle_rate * (time.monotonic() - began))
        results = await self.stop(started)
        for bidder in bidders:
            await bidder.disconnect()
        latencies = [at - sent[bid] for r in results for bid, at in r["received"] if bid in sent]
        delivered = len(latencies)
        p50, p99 = self.tools.pct(latencies, 0.5), self.tools.pct(latencies, 0.99)
        per_message = cpu / max(delivered, 1) * 1e6
        gross_per_message = gross / max(delivered, 1) * 1e6
        first, last = self.record(target, watchers, sent, acked, results, gross, clients_cpu)
        target.last_receipts.setdefault(watchers, []).append(last)
        target.p50s.setdefault(watchers, []).append(p50)
        target.p99s.setdefault(watchers, []).append(p99)
        target.cpu_us.setdefault(watchers, []).append(gross_per_message)
        expected = self.bids * (watchers // self.tools.WORKERS) * self.tools.WORKERS
        print(
            f"  {watchers:5} watchers  {target.name:22} delivered {delivered}/{expected}  "
            f"p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
            f"CPU {per_message:6.1f} us/msg net ({gross_per_message:.1f} gross, idle "
            f"{idle_rate * 100:.1f} %)  median bid: first {first * 1000:.1f} ms, last "
            f"{last * 1000:.1f} ms  (load {load_before} -> {load()})",
            flush=True,
        )

    def record(
        self,
        target: Target,
        watchers: int,
        sent: dict[int, float],
        acked: dict[int, float],
        results: list[dict[str, Any]],
        server_cpu: float,
        clients_cpu: float,
    ) -> tuple[float, float]:
        """Append the round's raw stamps to var/bench/compare-rounds.jsonl (every server alike).

        Per bid: the bidder's send and ack stamps and every watcher's receipt stamp
        (`time.time()` in each process; scripts/trace_fanout/report.py reads them).
        Returns the medians over the round's bids of their first and last receipt
        (seconds after the send): a round's p99 is set by its one or two worst bids.
        """
        received: dict[int, list[float]] = {bid: [] for bid in sent}
        for result in results:
            for bid, at in result["received"]:
                if bid in received:
                    received[bid].append(at)
        bids = [
            {"id": bid, "sent": sent[bid], "acked": acked[bid], "received": sorted(received[bid])}
            for bid in sent
        ]
        line = {
            "target": target.name,
            "watchers": watchers,
            "load": load(),
            "server_cpu": server_cpu,
            "clients_cpu": clients_cpu,
            "bids": bids,
        }
        with (self.bench.logs / "compare-rounds.jsonl").open("a") as out:
            out.write(json.dumps(line) + "\n")
        heard = [bid for bid in bids if bid["received"]]
        if not heard:
            return float("nan"), float("nan")
        first = statistics.median(bid["received"][0] - bid["sent"] for bid in heard)
        last = statistics.median(bid["received"][-1] - bid["sent"] for bid in heard)
        return first, last

    def summary(self, targets: list[Target]) -> None:
        ours, bare, node = targets
        print("\nsummary (median over repetitions; ratios: this server / other, lower is better)")
        for size in self.sizes:
            for target in targets:
                p99 = statistics.median(target.p99s[size]) * 1000
                cpu = statistics.median(target.cpu_us[size])
                spread = ", ".join(f"{v * 1000:.0f}" for v in target.p99s[size])
                lasts = ", ".join(f"{v * 1000:.0f}" for v in target.last_receipts[size])
                print(
                    f"  {size:5} watchers  {target.name:22} p99 {p99:6.1f} ms [{spread}]  "
                    f"CPU {cpu:6.1f} us/msg  median bid's last receipt [{lasts}] ms"
                )
            for other in (bare, node):
                p99_ratio = statistics.median(ours.p99s[size]) / statistics.median(other.p99s[size])
                cpu_ratio = statistics.median(ours.cpu_us[size]) / statistics.median(
                    other.cpu_us[size]
                )
                print(
                    f"  {size:5} watchers  ours / {other.name:15} p99 x{p99_ratio:4.2f}  "
                    f"CPU x{cpu_ratio:4.2f}"
                )
        for other in (bare, node):
            ratio = ours.memory_kib / other.memory_kib
            print(
                f"  idle memory  ours / {other.name:15} x{ratio:4.2f}"
                f"  ({ours.memory_kib:.1f} vs {other.memory_kib:.1f} KiB per connection)"
            )
        print(f"  load average at the end: {load()}")

    async def run(self) -> None:
        ours = Target("this server", self.bench.url, self.bench.server, ours=True)
        targets = [ours, *await self.start_others()]
        print(
            f"compare: {self.sizes} watchers x {self.repetitions} repetitions, {self.bids} "
            f"bids at 5/s, {self.tools.WORKERS} client processes (load {load()})",
            flush=True,
        )
        for target in targets:
            await self.memory(target)
        for repetition in range(self.repetitions):
            order = targets[repetition % 3 :] + targets[: repetition % 3]
            for size in self.sizes:
                for target in order:
                    await self.fanout(target, size)
        self.summary(targets)


async def run(bench: Any, tools: Any, quick: bool) -> None:
    """`bench` is scripts/bench's Bench, set up; `tools` its helpers (token, pct, spawn...)."""
    await Compare(bench, tools, quick).run()
