"""Scheduled payment work: intent creation retries, window expiries, cancellations still
owed to Stripe, reconciliation and unsent refunds.

Like the lot schedule, the rows are the schedule: `expire:{payment_id}` date
jobs give precision, and sweeps on every process catch whatever is due. Each
job claims its payment under the row lock (skipping one another process
holds) and leaves a lease in the row, so a transition happens once, and Stripe
is asked once per backoff step, however many processes run. No job holds a
database connection while it waits on Stripe, and a process runs at most
four of them at once (`AppContext.payment_job_slots`, date jobs and sweeps
together): a burst of lapsing windows queues there instead of taking the pool
from bidders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from server.auctions.lifecycle import utcnow
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.logging import bind
from server.payments import refunds, service, window
from server.payments.backoff import lease
from server.payments.models import ENDED, Payment, PaymentStatus, Refund
from server.payments.transitions import (
    lock_payment,
    record_external_cancel,
    record_failure,
)
from server.scheduling.scheduler import HORIZON, Scheduler

log = logging.getLogger(__name__)

SWEEP_BATCH = 200
WINDOW_STATES = window.WINDOW_STATES


def schedule_expiry(context: AppContext, payment_id: int, expires_at: datetime) -> None:
    if context.scheduler is not None:
        context.scheduler.at(f"expire:{payment_id}", expires_at, expire_window, context, payment_id)


def _job_slots(context: AppContext) -> asyncio.Semaphore:
    return context.payment_job_slots


async def expire_window(context: AppContext, payment_id: int) -> None:
    with bind(payment_id=payment_id):
        async with _job_slots(context):
            await window.expire_payment_window(context, payment_id)


async def run_each(
    context: AppContext,
    ids: Sequence[int],
    job: Callable[[int], Awaitable[Any]],
    what: str,
    **ctx: Any,
) -> None:
    """Run `job` for each id, within the process's job slots; one failing stops no other."""
    slots = _job_slots(context)

    async def one(item_id: int) -> None:
        async with slots:
            with bind(**{ctx.get("key", "payment_id"): item_id}):
                try:
                    await job(item_id)
                except Exception:
                    log.exception("%s failed; it will be retried", what)

    await asyncio.gather(*(one(item_id) for item_id in ids))


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
    await run_each(
        context, due, lambda pid: window.expire_payment_window(context, pid), "window expiry"
    )
    await run_each(
        context, creating, lambda pid: service.create_intent(context, pid), "PaymentIntent creation"
    )
    await run_each(
        context,
        cancels,
        lambda pid: window.cancel_ended_intent(context, pid),
        "intent cancellation",
    )


async def reconcile(context: AppContext) -> int:
    """Re-fetch payments that have waited on a webhook too long and apply what Stripe says.

    Returns how many payments changed. A lost webhook never leaves a lot stuck.
    Refunds Stripe could not be reached for are sent again, with their key.
    """
    threshold = utcnow() - timedelta(seconds=context.settings.reconcile_after_seconds)
    async with context.db.unit_of_work() as uow:
        now = utcnow()
        stale = (
            await uow.session.scalars(
                select(Payment.id)
                .where(
                    Payment.status.in_(WINDOW_STATES),
                    Payment.stripe_payment_intent_id.is_not(None),
                    Payment.updated_at <= threshold,
                    or_(Payment.stripe_lease_until.is_(None), Payment.stripe_lease_until <= now),
                )
                .order_by(Payment.updated_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
        unsent_refunds = (
            await uow.session.scalars(
                select(Refund.id)
                .where(
                    Refund.status == "pending",
                    Refund.stripe_refund_id.is_(None),
                    or_(Refund.next_send_at.is_(None), Refund.next_send_at <= now),
                    Refund.created_at <= threshold,
                )
                .order_by(Refund.id)
                .limit(SWEEP_BATCH)
            )
        ).all()
    changed = 0

    async def reconcile_one(payment_id: int) -> None:
        nonlocal changed
        changed += await reconcile_payment(context, payment_id)

    await run_each(context, stale, reconcile_one, "reconciliation")
    await run_each(
        context,
        unsent_refunds,
        lambda refund_id: refunds.send_refund(context, refund_id),
        "sending a pending refund",
        key="refund_id",
    )
    return changed


async def reconcile_payment(context: AppContext, payment_id: int) -> int:
    """Ask Stripe about one payment's intent; 1 when that changed the payment.

    Claimed with a lease, asked with no transaction open, applied under the lock.
    """
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id, skip_locked=True)
        now = utcnow()
        if payment is None or payment.status not in WINDOW_STATES:
            return 0
        if payment.stripe_lease_until is not None and payment.stripe_lease_until > now:
            return 0
        assert payment.stripe_payment_intent_id is not None
        payment.stripe_lease_until = now + lease(context)
        intent_id = payment.stripe_payment_intent_id
    # On an error the lease stays until it runs out: the next try waits that long.
    intent = await context.stripe.retrieve_payment_intent(intent_id, background=True)
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None or payment.status not in WINDOW_STATES:
            return 0
        payment.stripe_lease_until = None
        before = payment.status
        payment.last_synced_at = utcnow()
        await _apply_reconciled(uow, context, payment, intent.to_dict())
        if payment.status == before:
            return 0
        log.info("reconciled payment %s: %s -> %s", payment_id, before, payment.status)
        return 1


async def _apply_reconciled(
    uow: UnitOfWork, context: AppContext, payment: Payment, intent: dict[str, Any]
) -> str:
    """What the webhook for the intent's present state would have done."""
    status = intent.get("status")
    if status == "canceled":
        return await record_external_cancel(uow, context, payment)
    error = intent.get("last_payment_error")
    if status == "requires_payment_method" and isinstance(error, dict):
        if payment.status not in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING):
            return "stale"  # a failure already counted, or one we cannot tell apart from it
        return await record_failure(
            uow,
            context,
            payment,
            failure_code=error.get("decline_code") or error.get("code"),
            failure_message=error.get("message"),
            event_id=None,
        )
    return await service.apply_intent_state(uow, context, payment, intent, None)


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
    scheduler.every("sweep:payments", settings.sweep_interval_seconds, sweep_payments, context)
    scheduler.every("reconcile", settings.reconcile_interval_seconds, reconcile, context)
