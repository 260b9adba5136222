"""The end of a payment window: at `expires_at` the intent is cancelled, then the payment ends.

Claimed in a short transaction (a lease in the row keeps other jobs off),
Stripe is asked with no transaction open, and the answer is applied in a
second transaction that re-checks the row under its lock, through the table
in `intent_states`: paid meanwhile is a success, processing waits, anything
else expires (a strike, `payment_expired`, the expiry policy). A success
webhook arriving meanwhile simply wins: the second transaction sees it paid.
"""

from __future__ import annotations

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.logging import bind
from server.payments import backoff
from server.payments.locking import lock_payment
from server.payments.models import WINDOW_STATES, Payment
from server.sales.cancellation import (
    StripeAnswer,
    after_cancel_attempt,
    cancel_at_stripe,
    cancel_key,
)
from server.sales.intent_states import Source, Transition, apply_intent


async def expire_payment_window(context: AppContext, payment_id: int) -> str | None:
    """At `expires_at`: cancel at Stripe, then end the payment, or let a success through."""
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id, skip_locked=True)
        if payment is None or payment.status not in WINDOW_STATES:
            return None
        now = lifecycle.utcnow()
        if payment.expires_at is None or payment.expires_at > now:
            return None
        if payment.stripe_lease_until is not None and payment.stripe_lease_until > now:
            return None  # another job is asking Stripe about it right now
        payment.stripe_lease_until = now + backoff.lease(context, 2)
        context.metrics.scheduler_lag.labels(job="expire").observe(
            (now - payment.expires_at).total_seconds()
        )
        assert payment.stripe_payment_intent_id is not None
        intent_id, key = payment.stripe_payment_intent_id, cancel_key(payment)
        lot_id = payment.lot_id
    with bind(payment_id=payment_id, lot_id=lot_id):
        answer = await cancel_at_stripe(context, intent_id, key)
        async with context.db.unit_of_work() as uow:
            payment = await lock_payment(uow, payment_id)
            if payment is None:
                return None
            payment.stripe_lease_until = None
            if payment.status not in WINDOW_STATES:
                return None  # a webhook decided meanwhile
            return await _apply_window_end(uow, context, payment, answer)


async def _apply_window_end(
    uow: UnitOfWork, context: AppContext, payment: Payment, answer: StripeAnswer
) -> str:
    intent = answer.intent.to_dict() if answer.intent is not None else None
    transition, _outcome = await apply_intent(
        uow, context, payment, answer.status, intent, Source.WINDOW_END
    )
    if transition is Transition.SUCCEED:
        return "succeeded"
    if transition is Transition.RECHECK:
        return "processing"
    after_cancel_attempt(context, payment, answer)
    return "expired"
