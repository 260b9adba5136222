"""How many payment jobs (they wait on Stripe) a process runs at once, and running a batch.

At most four at once (`AppContext.payment_job_slots`, date jobs and sweeps
together): a burst of lapsing windows queues here instead of taking the
database pool from bidders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from server.core.context import AppContext
from server.core.logging import bind

log = logging.getLogger(__name__)

#: Rows a sweep claims at most per run; the next run takes the rest.
SWEEP_BATCH = 200


async def run_each(
    context: AppContext,
    ids: Sequence[int],
    job: Callable[[int], Awaitable[Any]],
    what: str,
    **ctx: Any,
) -> None:
    """Run `job` for each id, within the process's job slots; one failing stops no other."""
    slots = context.payment_job_slots

    async def one(item_id: int) -> None:
        async with slots:
            with bind(**{ctx.get("key", "payment_id"): item_id}):
                try:
                    await job(item_id)
                except Exception:
                    log.exception("%s failed; it will be retried", what)

    await asyncio.gather(*(one(item_id) for item_id in ids))
