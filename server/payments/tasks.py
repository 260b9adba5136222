"""Scheduled payment work: intent creation retries, window expiries, reconciliation.

Like the lot schedule, the rows are the schedule: `expire:{payment_id}` date
jobs give precision, and sweeps on every process catch whatever is due. Each
job takes the payment's row lock (skipping one another process holds), so a
transition happens once however many processes run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.auctions.lifecycle import utcnow
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.logging import bind
from server.payments import refunds, service
from server.payments.models import Payment, PaymentStatus, Refund
from server.payments.transitions import (
    lock_payment,
    record_external_cancel,
    record_failure,
)
from server.scheduling.scheduler import HORIZON, Scheduler

log = logging.getLogger(__name__)

SWEEP_BATCH = 200
WINDOW_STATES = (
    PaymentStatus.REQUIRES_PAYMENT,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
)


def schedule_expiry(context: AppContext, payment_id: int, expires_at: datetime) -> None:
    if context.scheduler is not None:
        context.scheduler.at(f"expire:{payment_id}", expires_at, expire_window, context, payment_id)


async def expire_window(context: AppContext, payment_id: int) -> None:
    with bind(payment_id=payment_id):
        await service.expire_payment_window(context, payment_id)


async def sweep_payments(context: AppContext) -> None:
    """Expire due windows and retry intent creation, whichever process owns them."""
    now = utcnow()
    async with context.db.unit_of_work() as uow:
        due = (
            await uow.session.scalars(
                select(Payment.id)
                .where(Payment.status.in_(WINDOW_STATES), Payment.expires_at <= now)
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
    for payment_id in due:
        with bind(payment_id=payment_id):
            try:
                await service.expire_payment_window(context, payment_id)
            except Exception:
                log.exception("window expiry failed; it will be retried")
    for payment_id in creating:
        with bind(payment_id=payment_id):
            try:
                await service.create_intent(context, payment_id)
            except Exception:
                log.exception("PaymentIntent creation failed; it will be retried")


async def reconcile(context: AppContext) -> int:
    """Re-fetch payments that have waited on a webhook too long and apply what Stripe says.

    Returns how many payments changed. A lost webhook never leaves a lot stuck.
    Refunds Stripe could not be reached for are sent again, with their key.
    """
    threshold = utcnow() - timedelta(seconds=context.settings.reconcile_after_seconds)
    async with context.db.unit_of_work() as uow:
        stale = (
            await uow.session.scalars(
                select(Payment.id)
                .where(
                    Payment.status.in_(WINDOW_STATES),
                    Payment.stripe_payment_intent_id.is_not(None),
                    Payment.updated_at <= threshold,
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
                    Refund.created_at <= threshold,
                )
                .order_by(Refund.id)
                .limit(SWEEP_BATCH)
            )
        ).all()
    changed = 0
    for payment_id in stale:
        with bind(payment_id=payment_id):
            try:
                changed += await reconcile_payment(context, payment_id)
            except Exception:
                log.exception("reconciliation failed; it will be retried")
    for refund_id in unsent_refunds:
        with bind(refund_id=refund_id):
            try:
                await refunds.send_refund(context, refund_id)
            except Exception:
                log.exception("sending a pending refund failed; it will be retried")
    return changed


async def reconcile_payment(context: AppContext, payment_id: int) -> int:
    """Ask Stripe about one payment's intent; 1 when that changed the payment."""
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id, skip_locked=True)
        if payment is None or payment.status not in WINDOW_STATES:
            return 0
        assert payment.stripe_payment_intent_id is not None
        intent = await context.stripe.retrieve_payment_intent(payment.stripe_payment_intent_id)
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
