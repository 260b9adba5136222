"""Scheduled sale work: window expiries, intent creation retries, cancellations still owed
to Stripe, and reconciliation (`reconciliation`).

Like the lot schedule, the rows are the schedule: `expire:{payment_id}` date
jobs give precision, and sweeps on every process catch whatever is due. Each
job claims its payment under the row lock (skipping one another process
holds) and leaves a lease in the row, so a transition happens once, and Stripe
is asked once per backoff step (`payments.backoff`), however many processes
run. No job holds a database connection while it waits on Stripe; a process
runs at most four payment-job transactions and sixteen background Stripe
calls at once (`job_slots`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial

from sqlalchemy import ColumnElement, Select, bindparam, literal, select, union_all

from server.auctions.lifecycle import utcnow
from server.core.context import AppContext
from server.core.logging import bind
from server.payments.models import ENDED, WINDOW_STATES, Payment, PaymentStatus
from server.sales.cancellation import cancel_ended_intent
from server.sales.intents import create_intent
from server.sales.job_slots import SWEEP_BATCH, run_each
from server.sales.reconciliation import reconcile
from server.sales.schedule import schedule_expiry
from server.sales.window import (
    ClaimedWindow,
    claim_due_windows,
    expire_payment_window,
    window_ends,
)
from server.scheduling.scheduler import HORIZON, Scheduler

log = logging.getLogger(__name__)


#: A lapsed window is left this long to its own `expire:{payment_id}` date job (on the
#: process that opened it, whose buyer is told there); then any process's sweep takes it.
WINDOW_GRACE = timedelta(seconds=1)


async def expire_window(context: AppContext, payment_id: int) -> None:
    """The `expire:{payment_id}` date job (slots taken inside, per step)."""
    await expire_payment_window(context, payment_id)


def _owed(status: ColumnElement[bool], kind: str) -> Select[int, str]:
    return (
        select(Payment.id, literal(kind).label("kind"))
        .where(status, Payment.next_retry_at <= bindparam("now"))
        .order_by(Payment.next_retry_at)
        .limit(SWEEP_BATCH)
    )


#: Intent creations and cancellations whose backoff step is due, in one read built once
#: (the sweep runs every second on every process).
OWED_TO_STRIPE = union_all(
    select(_owed(Payment.status == PaymentStatus.CREATING, "create").subquery()),
    select(_owed(Payment.status.in_(ENDED), "cancel").subquery()),
)


async def sweep_payments(context: AppContext) -> None:
    """Expire due windows, retry intent creation and owed cancellations, on any process."""
    async with context.db.autocommit() as session:
        owed = (await session.execute(OWED_TO_STRIPE, {"now": utcnow()})).all()
    creating = [payment_id for payment_id, kind in owed if kind == "create"]
    cancels = [payment_id for payment_id, kind in owed if kind == "cancel"]
    await expire_due_windows(context)
    await run_each(
        context, creating, lambda pid: create_intent(context, pid), "PaymentIntent creation"
    )
    await run_each(
        context,
        cancels,
        lambda pid: cancel_ended_intent(context, pid, as_job=True),
        "intent cancellation",
        hold_slot=False,
    )


async def expire_due_windows(context: AppContext) -> int:
    """End up to `SWEEP_BATCH` windows lapsed `WINDOW_GRACE` ago, claimed as Stripe slots free.

    Each window is claimed only once a Stripe slot is held for it, so its Stripe
    call follows its claim at once; one statement claims as many as there are
    free slots. The answers join the process's batches (`window.WindowEnds`).
    Returns how many were claimed.
    """
    slots = context.stripe_job_slots
    ends = window_ends(context)
    ending: list[tuple[ClaimedWindow, asyncio.Future[str | None]]] = []
    failed: Exception | None = None
    while len(ending) < SWEEP_BATCH:
        await slots.acquire()
        held = 1
        while held < SWEEP_BATCH - len(ending) and not slots.locked():
            await slots.acquire()
            held += 1
        try:
            windows = await claim_due_windows(context, held, grace=WINDOW_GRACE)
        except BaseException as error:
            for _ in range(held):
                slots.release()
            if not isinstance(error, Exception):
                raise
            failed = error  # the windows claimed so far still end
            break
        for _ in range(held - len(windows)):
            slots.release()
        ending.extend((window, ends.end_claimed(window)) for window in windows)
        if len(windows) < held:
            break
    for window, result in ending:
        with bind(payment_id=window.payment_id, lot_id=window.lot_id):
            try:
                await result
            except Exception:
                log.exception("window expiry failed; it will be retried")
    if failed is not None:
        raise failed
    return len(ending)


async def rebuild_schedule(context: AppContext) -> int:
    horizon = utcnow() + HORIZON
    async with context.db.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                select(Payment.id, Payment.expires_at).where(
                    Payment.status.in_(WINDOW_STATES), Payment.expires_at <= horizon
                )
            )
        ).all()
    for payment_id, expires_at in rows:
        if expires_at is not None:
            schedule_expiry(context, payment_id, expires_at)
    return len(rows)


async def reconcile_at_startup(context: AppContext) -> None:
    try:
        await reconcile(context)
    except Exception:
        log.exception("start-up reconciliation failed; the periodic job will retry")


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    settings = context.settings
    scheduler.define("expire", partial(expire_window, context))
    scheduler.every("sweep:payments", settings.sweep_interval_seconds, sweep_payments, context)
    scheduler.every("reconcile", settings.reconcile_interval_seconds, reconcile, context)
