"""Ending a payment: the window's end, a buyer's decline, an admin's release, and the
cancellation at Stripe that must follow each of them.

Each is claimed in a short transaction (a lease in the row keeps other jobs
off), Stripe is asked with no transaction open, and the answer is applied in a
second transaction that re-checks the row under its lock. A success webhook
arriving meanwhile simply wins: the second transaction sees the payment paid.

Stripe never suspends the auction's rules (SPEC 12.3): when Stripe cannot or
will not cancel the intent, the payment ends anyway and the cancellation is
retried with backoff (`next_retry_at` on the ended payment). A success on that
intent afterwards takes the late-success refund path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict
from server.core.logging import bind
from server.payments import backoff
from server.payments.gateway import StripeRejected, StripeUnavailable
from server.payments.models import AWAITING, ENDED, Payment, PaymentStatus
from server.payments.transitions import (
    end_payment,
    lock_payment,
    record_processing,
    record_success,
    schedule_expiry_after_commit,
)

log = logging.getLogger(__name__)

WINDOW_STATES = (
    PaymentStatus.REQUIRES_PAYMENT,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
)
#: How long a PROCESSING payment waits before the window job asks Stripe again.
PROCESSING_RECHECK = timedelta(seconds=30)
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


def _cancel_key(payment: Payment) -> str:
    return f"cancel-{payment.idempotency_key}"


# --- the window's end ----------------------------------------------------------------------------


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
        intent_id, key = payment.stripe_payment_intent_id, _cancel_key(payment)
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
    if answer.status == "succeeded":
        await record_success(uow, context, payment, answer.intent.to_dict())
        return "succeeded"
    if answer.status == "processing":
        record_processing(uow, payment)
        payment.expires_at = lifecycle.utcnow() + PROCESSING_RECHECK
        schedule_expiry_after_commit(uow, context, payment)
        return "processing"
    await end_payment(uow, context, payment, status=PaymentStatus.EXPIRED, reason="window_elapsed")
    _after_cancel_attempt(context, payment, answer)
    return "expired"


def _after_cancel_attempt(context: AppContext, payment: Payment, answer: StripeAnswer) -> None:
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


# --- cancelling the intent of an ended payment, with backoff ------------------------------------


def cancel_after_commit(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    """The payment just ended without Stripe being asked: cancel its intent once committed."""
    if payment.stripe_payment_intent_id is None:
        return
    payment.next_retry_at = lifecycle.utcnow()
    payment_id = payment.id
    uow.after_commit(lambda: cancel_ended_intent(context, payment_id))


async def cancel_ended_intent(
    context: AppContext, payment_id: int, *, by_admin: bool = False
) -> str:
    """One try at cancelling the intent of an ended payment, when its backoff step is due."""
    async with context.db.unit_of_work() as uow:
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
        intent_id, key = payment.stripe_payment_intent_id, _cancel_key(payment)
    with bind(payment_id=payment_id):
        answer = await cancel_at_stripe(context, intent_id, key, background=not by_admin)
        async with context.db.unit_of_work() as uow:
            payment = await lock_payment(uow, payment_id)
            if payment is None or payment.status not in ENDED:
                return "nothing"
            if answer.status == "succeeded":
                await record_success(uow, context, payment, answer.intent.to_dict())
            if answer.error is None and answer.status not in PAYABLE:
                payment.cancel_tries = 0
            _after_cancel_attempt(context, payment, answer)
            return answer.status or "error"


# --- a buyer's decline, an admin's release -------------------------------------------------------


async def release_payment(
    context: AppContext, payment_id: int, *, reason: str, buyer_id: str | None = None
) -> Payment:
    """End an awaiting payment without a strike: cancel its intent, then the expiry policy.

    `buyer_id` set: a buyer declining a second-chance offer (others see 404);
    unset: an admin releasing any awaiting payment.
    """
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None or (buyer_id is not None and payment.buyer_id != buyer_id):
            raise NotFound("Payment not found")
        _check_releasable(payment, declining=buyer_id is not None)
        now = lifecycle.utcnow()
        if payment.stripe_lease_until is not None and payment.stripe_lease_until > now:
            raise conflict("payment_busy", "The payment is being settled with Stripe; try again")
        if payment.stripe_payment_intent_id is None:
            # CREATING: nothing to cancel (a creation in flight discards its intent), and a
            # refused creation is settled by the release: it no longer needs an admin.
            backoff.clear_attention(payment, backoff.ATTENTION_CODES["create"])
            await end_payment(
                uow, context, payment, status=PaymentStatus.CANCELED, reason=reason, strike=False
            )
            return payment
        payment.stripe_lease_until = now + backoff.lease(context, 2)
        intent_id, key = payment.stripe_payment_intent_id, _cancel_key(payment)
    answer = await cancel_at_stripe(context, intent_id, key, background=False)
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        assert payment is not None
        payment.stripe_lease_until = None
        if answer.status == "succeeded" and payment.status in AWAITING:
            await record_success(uow, context, payment, answer.intent.to_dict())
        if answer.status == "processing" and payment.status in AWAITING:
            record_processing(uow, payment)
        outcome = payment.status
        if payment.status in AWAITING and answer.status != "processing":
            await end_payment(
                uow, context, payment, status=PaymentStatus.CANCELED, reason=reason, strike=False
            )
            _after_cancel_attempt(context, payment, answer)
            return payment
    # Paid (or being paid) while we asked Stripe: that outcome stands, committed above.
    raise conflict(
        "no_pending_payment",
        f"The payment can no longer be released: it is {outcome}",
        status=outcome,
    )


def _check_releasable(payment: Payment, *, declining: bool) -> None:
    if declining and payment.offer_number < 2:
        raise conflict(
            "not_second_chance",
            "Only a second-chance offer can be declined; the winner's payment cannot",
        )
    if payment.status not in AWAITING or payment.status == PaymentStatus.PROCESSING:
        raise conflict(
            "no_pending_payment",
            f"The payment no longer awaits its buyer: it is {payment.status}",
            status=payment.status,
        )
