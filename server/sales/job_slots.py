"""How many payment jobs use the database, and Stripe, at once in a process.

A background payment job (a window's end, a cancellation still owed to Stripe,
an intent's creation, a reconciliation) is short transactions with a Stripe
call between them, and holds no connection while Stripe answers. Two limits:

- database slots (`AppContext.payment_job_slots`, four): a job's transaction
  waits for one and gives it back at commit, so a burst of lapsing windows
  queues here instead of taking the pool from bidders;
- Stripe slots (`AppContext.stripe_job_slots`, sixteen): a job's Stripe call
  waits for one, so a burst neither floods Stripe (test mode allows 25
  requests a second) nor piles up on a hung Stripe. A job claims its row (the
  lease) only once it holds its Stripe slot, so a claim is followed by its
  Stripe call at once, well within the lease.

A job takes a database slot only inside its Stripe slot or with none, never
the other way round, and after-commit effects run with no database slot held
(they may start other jobs): no job waits for a slot while holding what
another needs. Window ends, owed cancellations and reconciliation hold a
database slot only for their transactions, so they do not queue behind one
another's Stripe round trips. Creation retries (whose off-session charge has
transactions of its own) and refund sends still hold a database slot for
their whole run (`run_each`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.logging import bind

log = logging.getLogger(__name__)

#: Rows a sweep claims at most per run; the next run takes the rest.
SWEEP_BATCH = 200


@asynccontextmanager
async def job_transaction(context: AppContext) -> AsyncIterator[UnitOfWork]:
    """A payment job's unit of work, within the process's database slots."""
    async with context.db.unit_of_work(slots=context.payment_job_slots) as uow:
        yield uow


async def run_each(
    context: AppContext,
    ids: Sequence[int],
    job: Callable[[int], Awaitable[Any]],
    what: str,
    *,
    hold_slot: bool = True,
    key: str = "payment_id",
) -> None:
    """Run `job` for each id, one failing stops no other.

    `hold_slot`: each run holds a database slot from start to end (for jobs whose
    own transactions take none); without it the job takes its slots itself.
    """
    slot = context.payment_job_slots if hold_slot else nullcontext()

    async def one(item_id: int) -> None:
        async with slot:
            with bind(**{key: item_id}):
                try:
                    await job(item_id)
                except Exception:
                    log.exception("%s failed; it will be retried", what)

    await asyncio.gather(*(one(item_id) for item_id in ids))
