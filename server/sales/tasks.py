"""Scheduled sale work: window expiries, intent creation retries, cancellations still owed
to Stripe, and reconciliation (`reconciliation`).

Like the lot schedule, the rows are the schedule: `expire:{payment_id}` date
jobs give precision, and sweeps on every process catch whatever is due. Each
job claims its payment under the row lock (skipping one another process
holds) and leaves a lease in the row, so a transition happens once, and Stripe
is asked once per backoff step (`payments.backoff`), however many processes
run. No job holds a database connection while it waits on Stripe; a process
runs at most four at once (`job_slots`).
"""

from __future__ import annotations

import logging
from functools import partial

from sqlalchemy import or_, select

from server.auctions.lifecycle import utcnow
from server.core.context import AppContext
from server.core.logging import bind
from server.payments.models import ENDED, WINDOW_STATES, Payment, PaymentStatus
from server.sales.cancellation import cancel_ended_intent
from server.sales.intents import create_intent
from server.sales.job_slots import SWEEP_BATCH, run_each
from server.sales.reconciliation import reconcile
from server.sales.schedule import schedule_expiry
from server.sales.window import expire_payment_window
from server.scheduling.scheduler import HORIZON, Scheduler

log = logging.getLogger(__name__)


async def expire_window(context: AppContext, payment_id: int) -> None:
    """The `expire:{payment_id}` date job."""
    with bind(payment_id=payment_id):
        async with context.payment_job_slots:
            await expire_payment_window(context, payment_id)


async def sweep_payments(context: AppContext) -> None:
    """Expire due windows, retry intent creation and owed cancellations, on any process."""
    now = utcnow()
    async with context.db.unit_of_work() as uow:
        due = (
            await uow.session.scalars(
                select(Payment.id)
                .where(
                    Payment.status.in_(WINDOW_STATES),
                    Payment.expires_at <= now,
                    or_(Payment.stripe_lease_until.is_(None), Payment.stripe_lease_until <= now),
                )
                .order_by(Payment.expires_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
        creating = (
            await uow.session.scalars(
                select(Payment.id)
                .where(Payment.status == PaymentStatus.CREATING, Payment.next_retry_at <= now)
                .order_by(Payment.next_retry_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
        cancels = (
            await uow.session.scalars(
                select(Payment.id)
                .where(Payment.status.in_(ENDED), Payment.next_retry_at <= now)
                .order_by(Payment.next_retry_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    await run_each(context, due, lambda pid: expire_payment_window(context, pid), "window expiry")
    await run_each(
        context, creating, lambda pid: create_intent(context, pid), "PaymentIntent creation"
    )
    await run_each(
        context,
        cancels,
        lambda pid: cancel_ended_intent(context, pid),
        "intent cancellation",
    )


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
