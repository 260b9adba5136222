"""Scheduled lot transitions: opening at `starts_at`, the hammer at `ends_at`.

Date jobs (`open:{id}`, `close:{id}`) give precision on the process that knows
about the lot; the sweep gives every process a look at every due lot, so a
restart or a dead process never skips a close. `close_lot` re-checks under the
row lock, so running twice changes things once.
"""

from __future__ import annotations

import logging
from functools import partial

from sqlalchemy import bindparam, literal, or_, select, text, union_all

from server.auctions import service
from server.auctions.lifecycle import utcnow
from server.auctions.models import Lot, LotStatus
from server.auctions.schedule import schedule_lot
from server.core.context import AppContext
from server.core.logging import bind
from server.scheduling.scheduler import HORIZON, Scheduler

log = logging.getLogger(__name__)

SWEEP_BATCH = 200


async def open_due_lot(context: AppContext, lot_id: int) -> None:
    with bind(lot_id=lot_id):
        await service.open_lot(context, lot_id)


async def close_due_lot(context: AppContext, lot_id: int) -> None:
    with bind(lot_id=lot_id):
        await service.close_lot(context, lot_id)


#: Both sweeps' reads in one round trip, built once (the sweep runs every second on every
#: process, and building the ORM statements each time was most of its cost when idle).
_DUE_LOTS = (
    select(Lot.id, literal(True).label("opening"), Lot.starts_at.label("due"))
    .where(Lot.status == LotStatus.SCHEDULED, Lot.starts_at <= bindparam("now"))
    .order_by(Lot.starts_at)
    .limit(SWEEP_BATCH)
    .subquery()
)
_CLOSING_LOTS = (
    select(Lot.id, literal(False).label("opening"), Lot.ends_at.label("due"))
    .where(Lot.status == LotStatus.OPEN, Lot.ends_at <= bindparam("now"))
    .order_by(Lot.ends_at)
    .limit(SWEEP_BATCH)
    .subquery()
)
DUE_LOTS = union_all(select(_DUE_LOTS), select(_CLOSING_LOTS)).order_by(
    text("opening DESC"), text("due")
)


async def sweep_due_lots(context: AppContext) -> None:
    """Open and close whatever is due, whichever process scheduled it."""
    async with context.db.autocommit() as session:
        rows = (await session.execute(DUE_LOTS, {"now": utcnow()})).all()
    to_open = [row.id for row in rows if row.opening]
    to_close = [row.id for row in rows if not row.opening]
    # One lot failing (and rolling back) must not hold back the others in the batch.
    for lot_id in to_open:
        with bind(lot_id=lot_id):
            try:
                await service.open_lot(context, lot_id)
            except Exception:
                log.exception("opening the lot failed; it will be retried")
    for lot_id in to_close:
        # Skip a lot another process is closing right now; it will be done there.
        with bind(lot_id=lot_id):
            try:
                await service.close_lot(context, lot_id, wait_for_lock=False)
            except Exception:
                log.exception("closing the lot failed; it will be retried")


async def rebuild_schedule(context: AppContext) -> int:
    """Recreate the date jobs for lots that open or close within the horizon."""
    horizon = utcnow() + HORIZON
    async with context.db.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(Lot.id, Lot.status, Lot.starts_at, Lot.ends_at).where(
                    Lot.status.in_([LotStatus.SCHEDULED, LotStatus.OPEN]),
                    or_(Lot.ends_at <= horizon, Lot.starts_at <= horizon),
                )
            )
        ).all()
    for lot_id, status, starts_at, ends_at in rows:
        schedule_lot(context, lot_id, status, starts_at, ends_at)
    return len(rows)


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    scheduler.define("open", partial(open_due_lot, context))
    scheduler.define("close", partial(close_due_lot, context))
    scheduler.every("sweep:lots", context.settings.sweep_interval_seconds, sweep_due_lots, context)
