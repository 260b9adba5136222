"""Bids on one lot, applied in batches: one row lock and one commit for many bids.

A hot lot serialises every bid on its row lock, so its throughput is one
transaction per lock hold. While a transaction for a lot is in flight on this
process, the bids that arrive for that lot wait here, in arrival order, and go
together into the next transaction. The transaction itself (lock, rules, one
multi-row insert, commit) is `server.auctions.bids.place_batch`; this module
only queues and hands the answers back.

The queue is an optimisation of one process, never a guard: every batch still
takes the lot's row lock, so several processes bidding on one lot stay correct.
Each bid gets its own answer (an ack body or its own `AppError`); an error of
the batch as a whole (the database went away) is every bid's answer.
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

#: Bids taken into one transaction at most; the rest wait for the next one.
MAX_BATCH = 200
#: Batches (of different lots) in flight at once on this process: below the database
#: pool (10 + 10 overflow), so busy lots wait here, where their bids keep joining the
#: next batch, rather than for a pool connection, which times out as `unavailable`.
MAX_CONCURRENT_BATCHES = 8


@dataclass(slots=True)
class _LotQueue(Generic[Item]):
    waiting: list[tuple[Item, asyncio.Future[dict[str, Any]]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class LotBatcher(Generic[Item]):
    """Per-lot queues of bids; one drain task per lot while it has work."""

    def __init__(
        self,
        run_batch: RunBatch[Item],
        *,
        max_batch: int = MAX_BATCH,
        max_concurrent: int = MAX_CONCURRENT_BATCHES,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._slots = asyncio.Semaphore(max_concurrent)
        self._lots: dict[int, _LotQueue[Item]] = {}
        #: Sizes of the batches run so far (tests and metrics read it).
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
            while queue.waiting:
                async with self._slots:
                    # Taken once a slot is free: what arrived meanwhile joins this batch.
                    batch = queue.waiting[: self._max_batch]
                    del queue.waiting[: self._max_batch]
                    await self._run_one(lot_id, batch)
        finally:
            # Cancelled (the server is stopping): nobody will answer the rest.
            for _, future in queue.waiting:
                if not future.done():
                    future.cancel()
            del self._lots[lot_id]

    async def _run_one(
        self, lot_id: int, batch: list[tuple[Item, asyncio.Future[dict[str, Any]]]]
    ) -> None:
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
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # its caller went away; the bid itself stands or fell
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
