"""The garbage collector, tuned so it does not pause a broadcast, and its pauses measured.

With a few thousand sockets the heap holds millions of container objects.
CPython's default thresholds (700, 10, 10) run a generation-0 collection every
700 net allocations and a full one every 70,000, and every collection of an old
generation walks all of them: a 327 ms generation-1 pause was seen in the
middle of a 3,000-watcher broadcast. So:

- the thresholds come from settings (`GC_THRESHOLDS`, default 50000,20,100:
  the young generation is collected 70 times less often, and a full collection
  needs 100 generation-1 ones), measured in docs/BENCHMARKS.md;
- once the server has started, `gc.freeze()` moves everything alive then
  (modules, SQLAlchemy mappers, compiled statements) to a permanent generation
  that no collection walks again;
- every pause is observed into `auction_gc_pause_seconds{generation}`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import Histogram

GcCallback = Callable[[str, dict[str, Any]], None]


def pause_recorder(histogram: Histogram) -> GcCallback:
    """A `gc.callbacks` entry that observes each collection's duration by generation."""
    children = {
        generation: histogram.labels(generation=str(generation)) for generation in (0, 1, 2)
    }
    started = [0.0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    return on_collection


def collector_ctx(
    thresholds: tuple[int, int, int], pauses: Histogram, *, freeze: bool = True
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: tune and watch the collector while the app runs.

    Placed last among the app's cleanup contexts, its start-up runs once
    everything else has been opened, which is when freezing pays off.
    `freeze=False` (the settings' `gc_freeze`) leaves out the collection and
    the freeze, for a process that starts many apps one after another.
    """

    async def tuned_collector(app: web.Application) -> AsyncIterator[None]:
        previous = gc.get_threshold()
        recorder = pause_recorder(pauses)
        gc.set_threshold(*thresholds)
        gc.callbacks.append(recorder)
        if freeze:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            gc.callbacks.remove(recorder)
            if freeze:
                gc.unfreeze()
            gc.set_threshold(*previous)

    return tuned_collector
