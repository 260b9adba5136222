"""Bids on one lot, applied in batches: one row lock and one commit for many bids;
and the batches of several lots that are due at once, in one transaction.

A hot lot serialises every bid on its row lock, so its throughput is one
transaction per lock hold. While a transaction for a lot is in flight on this
process, the bids that arrive for that lot wait here, in arrival order, and go
together into the next transaction. The transaction itself (lock, rules, one
multi-row insert, commit) is `server.auctions.bids.place_batch`; this module
only queues and hands the answers back.

Many quiet lots make one-bid batches, each paying a whole transaction. With a
group runner (`server.auctions.bids.place_group`), a batch that starts also
takes the waiting bids of the other lots that have no transaction in flight (up
to `MAX_GROUP_LOTS` lots): all of them share one transaction. The group runner
may leave a lot out of its answer (its row was held elsewhere, or the group
failed): that lot's bids go back to the front of its queue and its next batch
runs alone, waiting for its lock, so a lot held by a close delays only its own
bids.

The queue is an optimisation of one process, never a guard: every batch still
takes its lots' row locks, so several processes bidding on one lot stay correct.
Each bid gets its own answer (an ack body or its own `AppError`); an error of
the transaction as a whole (the database went away) is every bid's answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
#: What one bid gets back: its ack body, or the exception that is its answer.
Answer = dict[str, Any] | BaseException
RunBatch = Callable[[int, Sequence[Item]], Awaitable[list[Answer]]]
#: Several lots' batches in one transaction; a lot missing from the result runs again alone.
RunGroup = Callable[[dict[int, list[Item]]], Awaitable[dict[int, list[Answer]]]]

#: Bids taken into one transaction at most; the rest wait for the next one.
MAX_BATCH = 200
#: Batches (of different lots) in flight at once on this process: below the database
#: pool (10 + 10 overflow), so busy lots wait here, where their bids keep joining the
#: next batch, rather than for a pool connection, which times out as `unavailable`.
MAX_CONCURRENT_BATCHES = 8
#: Lots in one group transaction at most.
MAX_GROUP_LOTS = 32


Waiting = list[tuple[Item, asyncio.Future[dict[str, Any]]]]


@dataclass(slots=True)
class _LotQueue(Generic[Item]):
    waiting: Waiting[Item] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    #: Set while a transaction holding this lot's bids is in flight (maybe another lot's
    #: group): the lot's own drain task waits for it before the next batch.
    in_flight: asyncio.Event | None = None
    #: The next batch runs alone (the group runner left this lot out).
    alone: bool = False


class LotBatcher(Generic[Item]):
    """Per-lot queues of bids; one drain task per lot while it has work."""

    def __init__(
        self,
        run_batch: RunBatch[Item],
        *,
        run_group: RunGroup[Item] | None = None,
        max_batch: int = MAX_BATCH,
        max_concurrent: int = MAX_CONCURRENT_BATCHES,
        max_group_lots: int = MAX_GROUP_LOTS,
    ) -> None:
        self._run_batch = run_batch
        self._run_group = run_group
        self._max_batch = max_batch
        self._max_group_lots = max_group_lots
        self._slots = asyncio.Semaphore(max_concurrent)
        self._lots: dict[int, _LotQueue[Item]] = {}
        #: Sizes of the lots' batches run so far (tests and metrics read it); a lot's batch
        #: in a group counts once it is answered (a lot left out counts when run alone).
        self.observe_batch: Callable[[int], None] = lambda size: None

    async def submit(self, lot_id: int, item: Item) -> dict[str, Any]:
        """Queue `item` for `lot_id` and wait for its own answer (raised if an exception)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        queue = self._lots.get(lot_id)
        if queue is None:
            queue = self._lots[lot_id] = _LotQueue()
        queue.waiting.append((item, future))
        if queue.task is None:
            queue.task = asyncio.create_task(self._drain(lot_id, queue), name=f"bids:{lot_id}")
        return await future

    def waiting(self, lot_id: int) -> int:
        """Bids queued for `lot_id` behind the transaction in flight (not yet in a batch)."""
        queue = self._lots.get(lot_id)
        return len(queue.waiting) if queue is not None else 0

    async def _drain(self, lot_id: int, queue: _LotQueue[Item]) -> None:
        try:
            while True:
                if queue.in_flight is not None:
                    # Taken into another lot's group: its bids are answered there.
                    await queue.in_flight.wait()
                    continue
                if not queue.waiting:
                    break
                async with self._slots:
                    if queue.in_flight is not None or not queue.waiting:
                        continue
                    # Taken once a slot is free: what arrived meanwhile joins this batch.
                    batches = {lot_id: self._take(queue)}
                    if self._run_group is not None and not queue.alone:
                        self._join_others(batches)
                    queue.alone = False
                    await self._run(batches)
        finally:
            # Cancelled (the server is stopping): nobody will answer the rest.
            for _, future in queue.waiting:
                if not future.done():
                    future.cancel()
            del self._lots[lot_id]

    def _take(self, queue: _LotQueue[Item]) -> Waiting[Item]:
        batch = queue.waiting[: self._max_batch]
        del queue.waiting[: self._max_batch]
        queue.in_flight = asyncio.Event()
        return batch

    def _join_others(self, batches: dict[int, Waiting[Item]]) -> None:
        """Add the waiting bids of other lots that have no transaction in flight."""
        for other_id, other in self._lots.items():
            if len(batches) >= self._max_group_lots:
                break
            if other.waiting and other.in_flight is None and not other.alone:
                batches[other_id] = self._take(other)

    async def _run(self, batches: dict[int, Waiting[Item]]) -> None:
        queues = {lot_id: self._lots[lot_id] for lot_id in batches}
        try:
            if len(batches) == 1:
                [(lot_id, batch)] = batches.items()
                await self._run_one(lot_id, batch)
            else:
                await self._run_many(batches, queues)
        finally:
            for queue in queues.values():
                assert queue.in_flight is not None
                queue.in_flight.set()
                queue.in_flight = None

    async def _run_many(
        self, batches: dict[int, Waiting[Item]], queues: dict[int, _LotQueue[Item]]
    ) -> None:
        assert self._run_group is not None
        try:
            results = await self._run_group(
                {lot_id: [item for item, _ in batch] for lot_id, batch in batches.items()}
            )
        except asyncio.CancelledError:
            for batch in batches.values():
                for _, future in batch:
                    future.cancel()
            raise
        except Exception as error:
            results = {lot_id: [error] * len(batch) for lot_id, batch in batches.items()}
        for lot_id, batch in batches.items():
            answers = results.get(lot_id)
            if answers is None:
                # Left out (held elsewhere, or the group failed): first in line, alone.
                queue = queues[lot_id]
                if queue.task is None or queue.task.done():  # the server is stopping
                    for _, future in batch:
                        future.cancel()
                    continue
                queue.waiting[:0] = batch
                queue.alone = True
                continue
            # Counted once answered: a lot left out is counted when it runs alone.
            self.observe_batch(len(batch))
            _answer(batch, answers)

    async def _run_one(self, lot_id: int, batch: Waiting[Item]) -> None:
        self.observe_batch(len(batch))
        try:
            answers = await self._run_batch(lot_id, [item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:
            # The whole batch failed (the database, most likely): each bid hears it.
            answers = [error] * len(batch)
        _answer(batch, answers)


def _answer(batch: Waiting[Item], answers: Sequence[Answer]) -> None:
    for (_, future), answer in zip(batch, answers, strict=True):
        if future.done():  # its caller went away; the bid itself stands or fell
            continue
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)
