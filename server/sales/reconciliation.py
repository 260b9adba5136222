"""Reconciliation: payments left waiting on a webhook are re-fetched from Stripe.

What Stripe says goes through the same table as a webhook (`intent_states`),
so a lost webhook never leaves a lot stuck. Refunds Stripe could not be
reached for are sent again here too, with their own key.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select

from server.auctions.lifecycle import utcnow
from server.core.context import AppContext
from server.payments import refunds
from server.payments.backoff import lease
from server.payments.locking import lock_payment
from server.payments.models import WINDOW_STATES, Payment, Refund
from server.sales.intent_states import Source, apply_intent
from server.sales.job_slots import SWEEP_BATCH, job_transaction, run_each

log = logging.getLogger(__name__)


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

    await run_each(context, stale, reconcile_one, "reconciliation", hold_slot=False)
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

    Claimed with a lease, asked with no transaction open, applied under the lock;
    each transaction within a database slot, the claim and the call within a Stripe
    slot (`job_slots`).
    """
    async with context.stripe_job_slots:
        async with job_transaction(context) as uow:
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
    async with job_transaction(context) as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None or payment.status not in WINDOW_STATES:
            return 0
        payment.stripe_lease_until = None
        before = payment.status
        payment.last_synced_at = utcnow()
        reported = intent.to_dict()
        await apply_intent(
            uow, context, payment, reported.get("status"), reported, Source.RECONCILIATION
        )
        if payment.status == before:
            return 0
        log.info("reconciled payment %s: %s -> %s", payment_id, before, payment.status)
        return 1
