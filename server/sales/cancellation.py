"""Cancelling a PaymentIntent at Stripe, and retrying it with backoff once a payment ended.

Stripe never suspends the auction's rules (SPEC 12.3): when Stripe cannot or
will not cancel the intent, the payment ends anyway and the cancellation is
retried with backoff (`next_retry_at` on the ended payment). A success on that
intent afterwards takes the late-success refund path.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.logging import bind
from server.payments import backoff
from server.payments.gateway import StripeRejected, StripeUnavailable
from server.payments.locking import lock_payment
from server.payments.models import ENDED, Payment
from server.sales.outcomes import record_success

log = logging.getLogger(__name__)

#: Intent states in which the buyer could still pay, so we cancel.
PAYABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


@dataclass(frozen=True, slots=True)
class StripeAnswer:
    """The intent as Stripe last reported it, or why Stripe could not tell us."""

    intent: Any = None
    error: StripeUnavailable | StripeRejected | None = None

    @property
    def status(self) -> str | None:
        return str(self.intent.status) if self.intent is not None else None


async def cancel_at_stripe(
    context: AppContext, intent_id: str, key: str, *, background: bool = True
) -> StripeAnswer:
    """Cancel the intent; if Stripe refuses, look at it (it most likely just succeeded).

    One request when the intent was payable, two when it was not. No transaction
    is open here. The error is kept only if the intent may still be payable.
    """
    stripe = context.stripe
    try:
        try:
            intent = await stripe.cancel_payment_intent(
                intent_id, idempotency_key=key, background=background
            )
            return StripeAnswer(intent)
        except StripeRejected as refused:
            intent = await stripe.retrieve_payment_intent(intent_id, background=background)
            if intent.status in PAYABLE:
                return StripeAnswer(intent, refused)
            return StripeAnswer(intent)
    except (StripeUnavailable, StripeRejected) as error:
        return StripeAnswer(None, error)


def cancel_key(payment: Payment) -> str:
    return cancel_key_of(payment.idempotency_key)


def cancel_key_of(idempotency_key: str) -> str:
    """The cancel's idempotency key, from the payment's own."""
    return f"cancel-{idempotency_key}"


def after_cancel_attempt(context: AppContext, payment: Payment, answer: StripeAnswer) -> None:
    """On an ended payment: done if Stripe canceled it, else schedule the next try."""
    now = lifecycle.utcnow()
    if answer.error is None and answer.status in ("canceled", "succeeded", None):
        payment.next_retry_at = None
        backoff.clear_attention(payment, backoff.ATTENTION_CODES["cancel"])
        return
    if answer.error is None:  # processing, or a state we do not cancel from: look later
        payment.cancel_tries += 1
        payment.next_retry_at = now + backoff.retry_delay(context, payment.cancel_tries)
        return
    backoff.note_stripe_error(context, payment, "cancel", answer.error, now)
    if isinstance(answer.error, StripeRejected):
        payment.next_retry_at = None  # an admin decides; a success later is refunded
        return
    payment.cancel_tries += 1
    payment.next_retry_at = now + backoff.retry_delay(context, payment.cancel_tries)
    log.warning(
        "payment %s ended, but its intent is not canceled yet (try %s, next at %s): %s",
        payment.id,
        payment.cancel_tries,
        payment.next_retry_at,
        answer.error.message,
    )


def cancel_after_commit(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    """The payment just ended without Stripe being asked: cancel its intent once committed."""
    if payment.stripe_payment_intent_id is None:
        return
    payment.next_retry_at = lifecycle.utcnow()
    payment_id = payment.id
    uow.after_commit(lambda: cancel_ended_intent(context, payment_id))


async def cancel_ended_intent(
    context: AppContext, payment_id: int, *, by_admin: bool = False, as_job: bool = False
) -> str:
    """One try at cancelling the intent of an ended payment, when its backoff step is due.

    `as_job` (the sweep): within the process's job slots (`job_slots`). Not as an
    after-commit effect, which may run inside another job's slot.
    """
    async with context.stripe_job_slots if as_job else nullcontext():
        async with _transaction(context, as_job) as uow:
            payment = await lock_payment(uow, payment_id, skip_locked=not by_admin)
            if payment is None or payment.status not in ENDED:
                return "nothing"
            if payment.stripe_payment_intent_id is None:
                return "nothing"
            now = lifecycle.utcnow()
            due = payment.next_retry_at is not None and payment.next_retry_at <= now
            if not (due or by_admin):
                return "not_due"
            payment.next_retry_at = now + backoff.lease(context, 2)
            intent_id, key = payment.stripe_payment_intent_id, cancel_key(payment)
        with bind(payment_id=payment_id):
            answer = await cancel_at_stripe(context, intent_id, key, background=not by_admin)
    with bind(payment_id=payment_id):
        async with _transaction(context, as_job) as uow:
            payment = await lock_payment(uow, payment_id)
            if payment is None or payment.status not in ENDED:
                return "nothing"
            if answer.status == "succeeded":  # paid after all: the late-success refund
                await record_success(uow, context, payment, answer.intent.to_dict())
            if answer.error is None and answer.status not in PAYABLE:
                payment.cancel_tries = 0
            after_cancel_attempt(context, payment, answer)
            return answer.status or "error"


def _transaction(context: AppContext, as_job: bool) -> AbstractAsyncContextManager[UnitOfWork]:
    return context.db.unit_of_work(slots=context.payment_job_slots if as_job else None)
