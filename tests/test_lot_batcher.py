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


class GroupRecorder(Recorder):
    """Runs groups too (each waits for `group_release`); leaves out the lots in `leave_out`."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[dict[int, list[str]]] = []
        self.leave_out: set[int] = set()
        self.group_release = asyncio.Event()

    async def group(self, batches: dict[int, list[str]]) -> dict[int, list[Answer]]:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.groups.append({lot: list(items) for lot, items in batches.items()})
        await self.group_release.wait()
        self.running -= 1
        return {
            lot: [{"item": item, "group": True} for item in items]
            for lot, items in batches.items()
            if lot not in self.leave_out
        }


async def _lots_1_and_2_in_one_group(
    recorder: GroupRecorder,
) -> tuple[LotBatcher[str], list[asyncio.Task[Any]]]:
    """Bids on lots 1 and 2 due at the same moment: one group, in flight (held by
    `group_release`), with slots to spare."""
    batcher: LotBatcher[str] = LotBatcher(recorder, run_group=recorder.group, max_concurrent=3)
    tasks = [asyncio.create_task(batcher.submit(lot, f"{lot}-a")) for lot in (1, 2)]
    while not recorder.groups:
        await asyncio.sleep(0)
    return batcher, tasks


async def test_lots_due_at_once_share_a_batch_and_their_later_bids_wait_for_it():
    recorder = GroupRecorder()
    batcher, grouped = await _lots_1_and_2_in_one_group(recorder)
    assert recorder.groups == [{1: ["1-a"], 2: ["2-a"]}]
    # Lot 2 is in the group in flight: its next bid waits for it (a free slot or not),
    # then runs on its own.
    later = asyncio.create_task(batcher.submit(2, "2-b"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert batcher.waiting(2) == 1 and recorder.batches == []
    recorder.group_release.set()
    recorder.release.set()
    answers = await asyncio.gather(*grouped, later)
    assert answers == [
        {"item": "1-a", "group": True},
        {"item": "2-a", "group": True},
        {"item": "2-b"},
    ]
    assert recorder.batches == [(2, ["2-b"])]


async def test_lots_waiting_for_a_slot_join_the_batch_that_takes_it():
    recorder = GroupRecorder()
    recorder.group_release.set()
    batcher: LotBatcher[str] = LotBatcher(recorder, run_group=recorder.group, max_concurrent=1)
    first = asyncio.create_task(batcher.submit(9, "9-a"))
    await asyncio.sleep(0)
    # Lot 9's batch holds the only slot; lots 1, 2 and 3 wait for it.
    rest = [asyncio.create_task(batcher.submit(lot, f"{lot}-a")) for lot in (1, 2, 3)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await first == {"item": "9-a"}
    await asyncio.gather(*rest)
    assert recorder.groups == [{1: ["1-a"], 2: ["2-a"], 3: ["3-a"]}]
    assert recorder.most_running == 1


async def test_a_lot_left_out_of_a_group_runs_alone_next_first_in_line():
    recorder = GroupRecorder()
    batcher, grouped = await _lots_1_and_2_in_one_group(recorder)
    later = asyncio.create_task(batcher.submit(2, "2-b"))
    await asyncio.sleep(0)
    recorder.leave_out = {2}
    recorder.group_release.set()
    recorder.release.set()
    answers = await asyncio.gather(*grouped, later)
    assert answers == [{"item": "1-a", "group": True}, {"item": "2-a"}, {"item": "2-b"}]
    # Left out: its bid went back in front of the later one, and ran alone (not regrouped).
    assert recorder.batches == [(2, ["2-a", "2-b"])]
    assert len(recorder.groups) == 1


async def test_a_failed_group_is_the_answer_of_each_of_its_bids():
    async def broken_group(batches: dict[int, list[str]]) -> dict[int, list[Answer]]:
        raise ConnectionError("database went away")

    recorder = Recorder()
    batcher: LotBatcher[str] = LotBatcher(recorder, run_group=broken_group, max_concurrent=1)
    first = asyncio.create_task(batcher.submit(9, "9-a"))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(batcher.submit(lot, f"{lot}-a")) for lot in (1, 2)]
    await asyncio.sleep(0)
    recorder.release.set()
    await first
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(answer, ConnectionError) for answer in answers)
