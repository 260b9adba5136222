"""The per-lot queue on its own: arrival order, one batch behind another, the concurrency cap.

The batch function here is a stand-in that records what it was given (the
real one, `server.auctions.bids.place_batch`, is tested against PostgreSQL in
tests/test_bid_batches.py); this file pins the queue's own promises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from server.auctions.batching import Answer, LotBatcher


class Recorder:
    def __init__(self) -> None:
        self.batches: list[tuple[int, list[str]]] = []
        self.running = 0
        self.most_running = 0
        self.release = asyncio.Event()

    async def __call__(self, lot_id: int, items: Sequence[str]) -> list[Answer]:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.batches.append((lot_id, list(items)))
        await self.release.wait()
        self.running -= 1
        return [ValueError(item) if item.startswith("bad") else {"item": item} for item in items]


async def test_bids_arriving_during_a_batch_form_the_next_one_in_order():
    recorder = Recorder()
    batcher: LotBatcher[str] = LotBatcher(recorder)
    first = asyncio.create_task(batcher.submit(1, "a"))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher.submit(1, name)) for name in ("b", "bad-c", "d")]
    await asyncio.sleep(0)
    assert batcher.waiting(1) == 3
    recorder.release.set()
    assert await first == {"item": "a"}
    answers = await asyncio.gather(*rest, return_exceptions=True)
    assert answers[0] == {"item": "b"} and answers[2] == {"item": "d"}
    assert isinstance(answers[1], ValueError)
    assert recorder.batches == [(1, ["a"]), (1, ["b", "bad-c", "d"])]
    assert batcher.waiting(1) == 0


async def test_a_failed_batch_is_the_answer_of_each_of_its_bids():
    async def broken(lot_id: int, items: Sequence[str]) -> list[Answer]:
        raise ConnectionError("database went away")

    batcher: LotBatcher[str] = LotBatcher(broken)
    answers = await asyncio.gather(
        *(batcher.submit(7, name) for name in "xyz"), return_exceptions=True
    )
    assert all(isinstance(answer, ConnectionError) for answer in answers)
    # The lot's queue is gone: the next bid starts a fresh batch.
    ok: LotBatcher[str] = LotBatcher(lambda lot_id, items: _echo(items))
    assert await ok.submit(7, "again") == {"item": "again"}


async def _echo(items: Sequence[str]) -> list[Answer]:
    return [{"item": item} for item in items]


async def test_busy_lots_wait_for_a_slot_and_their_bids_join_one_batch():
    recorder = Recorder()
    batcher: LotBatcher[str] = LotBatcher(recorder, max_concurrent=2)
    tasks: list[asyncio.Task[Any]] = [
        asyncio.create_task(batcher.submit(lot, f"{lot}-first")) for lot in (1, 2, 3)
    ]
    await asyncio.sleep(0)
    # Lot 3 has no slot yet: what arrives for it meanwhile waits with its first bid.
    tasks += [asyncio.create_task(batcher.submit(3, f"3-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    assert recorder.running == 2
    recorder.release.set()
    await asyncio.gather(*tasks)
    assert recorder.most_running == 2
    assert (3, ["3-first", "3-0", "3-1", "3-2"]) in recorder.batches
