"""A per-bid timeline of the server, for `scripts/bench --compare` (measurement only).

    FANOUT_TRACE=var/bench/trace.jsonl PYTHONPATH=scripts/trace_fanout scripts/bench --compare

Python imports this module at start-up from `PYTHONPATH`. In a process that
has `FANOUT_TRACE` set it wraps a few of the server's functions once they are
imported and stamps `time.time()` (the clock the bench's clients stamp with):

- `recv`: python-socketio hands a message carrying `place_bid` to the server;
- `handler`: the namespace starts the `place_bid` handler;
- `batch`: the lot's batch starts (`place_batch`);
- `commit`: the transaction committed (after-commit effects start);
- `emit <event>` / `loop_start` / `loop_end n=` / `emit_end`: each room emit
  and the synchronous write loop inside it;
- `ack`: the handler returns the ack body (python-socketio writes it next);
- `sql <statement>` / `sql_done`: each round trip of the bid's transaction;
- `ping n=`: a bucket of PINGs goes out; `gc gen= ms=`: a collection;
- `job <id>` / `job_end <id>`: a scheduled job (the sweeps, the outbox).

Each line also carries the server's own CPU time (`process_time`).

Events are written as JSON lines each time an ack is stamped (so between bids,
never inside the measured path). Other processes (the Stripe stand-in, the
bare server) import nothing of the server and are left alone. Not part of the
server: it monkeypatches our own functions, which only a measurement may do.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

PATH = os.environ.get("FANOUT_TRACE")
EVENTS: list[tuple[float, float, str, Any]] = []
IN_BATCH = [False]


def stamp(name: str, extra: Any = None) -> None:
    EVENTS.append((time.time(), time.process_time(), name, extra))


def flush() -> None:
    if not PATH or not EVENTS:
        return
    with open(PATH, "a") as out:
        for at, cpu, name, extra in EVENTS:
            line = {"t": at, "cpu": cpu, "e": name, "x": extra, "pid": os.getpid()}
            out.write(json.dumps(line) + "\n")
    EVENTS.clear()


def _patch_namespace(module: Any) -> None:
    cls = module.AuctionNamespace
    original = cls.trigger_event

    async def trigger_event(self: Any, event: str, *args: Any) -> Any:
        if event != "place_bid":
            return await original(self, event, *args)
        stamp("handler")
        try:
            return await original(self, event, *args)
        finally:
            stamp("ack")
            flush()

    cls.trigger_event = trigger_event
    gc.callbacks.append(_on_gc)  # in the server only


def _patch_service(module: Any) -> None:
    original = module.place_batch

    async def place_batch(context: Any, lot_id: int, queued: Any) -> Any:
        stamp("batch", len(queued))
        IN_BATCH[0] = True
        try:
            return await original(context, lot_id, queued)
        finally:
            IN_BATCH[0] = False

    module.place_batch = place_batch


def _patch_db(module: Any) -> None:
    cls = module.DriverUnitOfWork
    original = cls.run_after_commit

    async def run_after_commit(self: Any) -> None:
        stamp("commit")
        await original(self)

    cls.run_after_commit = run_after_commit

    # Each round trip of the bid's transaction (BEGIN, statements, COMMIT).
    import asyncpg

    conn = asyncpg.connection.Connection
    for name in ("execute", "fetch"):
        _trace_round_trip(conn, name)


def _trace_round_trip(cls: Any, name: str) -> None:
    original = getattr(cls, name)

    async def traced(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not IN_BATCH[0]:
            return await original(self, query, *args, **kwargs)
        key = (query, self._protocol.get_record_class(), False)
        cached = self._stmt_cache.get(key, promote=False)
        stamp("sql", query.strip()[:24] + ("" if cached is not None else " (prepare)"))
        try:
            return await original(self, query, *args, **kwargs)
        finally:
            stamp("sql_done")

    setattr(cls, name, traced)


def _patch_fanout(module: Any) -> None:
    cls = module.FanoutManager
    emit, write_all = cls.emit, cls._write_all

    async def traced_emit(self: Any, event: str, data: Any, namespace: str, *a: Any, **k: Any):
        stamp("emit " + event, data.get("bid_id") if isinstance(data, dict) else None)
        try:
            return await emit(self, event, data, namespace, *a, **k)
        finally:
            stamp("emit_end " + event)

    def traced_write_all(self: Any, *args: Any) -> Any:
        stamp("loop_start")
        slow = write_all(self, *args)
        stamp("loop_end", len(slow))
        return slow

    cls.emit, cls._write_all = traced_emit, traced_write_all


def _patch_lean(module: Any) -> None:
    cls = module.LeanSocketIO
    original = cls._handle_eio_message

    async def _handle_eio_message(self: Any, eio_sid: str, data: Any) -> Any:
        if isinstance(data, str) and "place_bid" in data:
            stamp("recv")
        return await original(self, eio_sid, data)

    cls._handle_eio_message = _handle_eio_message


def _patch_heartbeat(module: Any) -> None:
    cls = module.PingWheel
    original = cls._ring

    def _ring(self: Any, due: float) -> None:
        count = len(self._buckets.get(due, ()))
        original(self, due)
        stamp("ping", count)

    cls._ring = _ring


def _patch_scheduler(module: Any) -> None:
    cls = module.Scheduler
    original = cls._guarded

    def _guarded(self: Any, job_id: str, job: Any) -> Any:
        run = original(self, job_id, job)

        async def traced(*args: Any) -> None:
            stamp("job", job_id)
            try:
                await run(*args)
            finally:
                stamp("job_end", job_id)

        return traced

    cls._guarded = _guarded


PATCHES: dict[str, Callable[[Any], None]] = {
    "server.scheduling.scheduler": _patch_scheduler,
    "server.realtime.namespace": _patch_namespace,
    "server.auctions.service": _patch_service,
    "server.core.db": _patch_db,
    "server.realtime.fanout": _patch_fanout,
    "server.realtime.lean_socket": _patch_lean,
    "server.realtime.heartbeat": _patch_heartbeat,
}


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, patch: Callable[[Any], None]) -> None:
        self.inner, self.patch = inner, patch

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.inner.exec_module(module)
        self.patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        patch = PATCHES.get(name)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, patch)
        return spec


def _on_gc(phase: str, info: dict[str, Any], started: list[float] = [0.0]) -> None:  # noqa: B006
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        took = (time.perf_counter() - started[0]) * 1000
        if took > 1.0 or info["generation"] > 0:
            stamp("gc", {"gen": info["generation"], "ms": round(took, 2)})


if PATH:
    sys.meta_path.insert(0, _Finder())
