"""Payments for won lots: creating the PaymentIntent, the window, and what awaits a buyer.

Stripe is never called inside a transaction that other work waits on, except
where the answer decides the transition (the window's end holds the payment's
row lock while it asks Stripe, so a success webhook racing it queues behind).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.errors import AppError, Unavailable, conflict
from server.core.logging import bind
from server.payments.gateway import StripeRejected, StripeUnavailable
from server.payments.models import Payment, PaymentStatus
from server.payments.presenters import payment_info
from server.payments.transitions import (
    announce_payment_required,
    end_payment,
    lock_payment,
    offer_lot,
    record_failure,
    record_processing,
    record_requires_action,
    record_success,
)

log = logging.getLogger(__name__)

MAX_CREATE_BACKOFF = timedelta(minutes=5)
#: How long a PROCESSING payment waits before the window job asks Stripe again.
PROCESSING_RECHECK = timedelta(seconds=30)

AWAITING_BUYER = (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.REQUIRES_ACTION)

__all__ = ["create_intent", "expire_payment_window", "offer_lot"]


def intent_metadata(payment: Payment) -> dict[str, str]:
    return {
        "payment_id": str(payment.id),
        "lot_id": str(payment.lot_id),
        "bid_id": str(payment.bid_id),
        "buyer_id": payment.buyer_id,
        "seller_id": payment.seller_id,
    }


def _backoff(tries: int, base: float) -> timedelta:
    return min(MAX_CREATE_BACKOFF, timedelta(seconds=base * 2 ** max(0, tries - 1)))


async def create_intent(
    context: AppContext, payment_id: int, *, raise_errors: bool = False
) -> bool:
    """Create the PaymentIntent of a CREATING payment and open its window.

    Safe to call from several places at once: a lease keeps other callers off
    while one talks to Stripe, and the idempotency key (derived from the payment)
    makes a repeated request return the same intent. True once the window is open.
    """
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id, skip_locked=True)
        if payment is None or payment.status != PaymentStatus.CREATING:
            return False
        now = lifecycle.utcnow()
        if payment.next_retry_at is not None and payment.next_retry_at > now and not raise_errors:
            return False
        payment.create_tries += 1
        payment.next_retry_at = now + timedelta(
            seconds=context.settings.stripe_create_lease_seconds
        )
        tries = payment.create_tries
        amount, currency, key = payment.amount, payment.currency, payment.idempotency_key
        metadata = intent_metadata(payment)

    with bind(payment_id=payment_id, lot_id=metadata["lot_id"]):
        try:
            intent = await context.stripe.create_payment_intent(
                amount=amount, currency=currency, metadata=metadata, idempotency_key=key
            )
        except (StripeUnavailable, StripeRejected) as error:
            delay = _backoff(tries, context.settings.stripe_retry_base_seconds)
            if isinstance(error, StripeRejected):
                delay = MAX_CREATE_BACKOFF
            log.warning(
                "PaymentIntent creation failed (try %s), retrying in %s: %s",
                tries,
                delay,
                error.message,
            )
            async with context.db.unit_of_work() as uow:
                payment = await lock_payment(uow, payment_id)
                if payment is not None and payment.status == PaymentStatus.CREATING:
                    payment.next_retry_at = lifecycle.utcnow() + delay
                    payment.failure_message = error.message
            if raise_errors:
                raise Unavailable(
                    "The payment provider is unavailable; your payment will be ready shortly"
                ) from None
            return False
        return await _open_window(context, payment_id, intent)


async def _open_window(context: AppContext, payment_id: int, intent: Any) -> bool:
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None:
            return False
        if payment.stripe_payment_intent_id == intent.id:
            return payment.status != PaymentStatus.CREATING
        if payment.status != PaymentStatus.CREATING or payment.stripe_payment_intent_id:
            # The payment moved on while we asked Stripe; this intent must not be paid.
            log.warning("payment %s: discarding intent created after it moved on", payment_id)
            uow.after_commit(lambda: _cancel_quietly(context, intent.id, payment_id))
            return False
        now = lifecycle.utcnow()
        payment.stripe_payment_intent_id = intent.id
        payment.client_secret = intent.client_secret
        payment.status = PaymentStatus.REQUIRES_PAYMENT
        payment.expires_at = now + timedelta(seconds=context.settings.payment_window_seconds)
        payment.next_retry_at = None
        payment.failure_message = None
        announce_payment_required(uow, context, payment)
        await _email_payment_required(uow, payment)
        expires_at = payment.expires_at

        async def schedule() -> None:
            from server.payments import tasks

            tasks.schedule_expiry(context, payment_id, expires_at)

        uow.after_commit(schedule)
        return True


async def _email_payment_required(uow: Any, payment: Payment) -> None:
    from server.auctions.models import Lot
    from server.notifications import messages
    from server.payments.transitions import _email

    lot = await uow.session.get(Lot, payment.lot_id)
    assert payment.expires_at is not None
    await _email(
        uow,
        payment.buyer_id,
        "payment_required",
        messages.payment_required(
            lot_title=lot.title if lot else f"Lot {payment.lot_id}",
            hammer=payment.hammer,
            premium=payment.premium,
            total=payment.amount,
            currency=payment.currency,
            expires_at=payment.expires_at,
        ),
        data={"payment_id": payment.id},
    )


async def _cancel_quietly(context: AppContext, intent_id: str, payment_id: int) -> None:
    try:
        await context.stripe.cancel_payment_intent(
            intent_id, idempotency_key=f"discard-{payment_id}-{intent_id}"
        )
    except AppError as error:
        log.warning("could not cancel discarded intent for payment %s: %s", payment_id, error)


# --- the window's end ---------------------------------------------------------------------------


async def expire_payment_window(context: AppContext, payment_id: int) -> str | None:
    """At `expires_at`: ask Stripe first, then end the payment or let it through.

    Holds the payment's row lock throughout, so a success webhook arriving now
    waits and then sees the outcome; the intent is canceled at Stripe before the
    payment is marked EXPIRED, so no success can follow an expiry.
    """
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id, skip_locked=True)
        if payment is None or payment.status not in (*AWAITING_BUYER, PaymentStatus.PROCESSING):
            return None
        now = lifecycle.utcnow()
        if payment.expires_at is None or payment.expires_at > now:
            return None
        context.metrics.scheduler_lag.labels(job="expire").observe(
            (now - payment.expires_at).total_seconds()
        )
        with bind(payment_id=payment.id, lot_id=payment.lot_id):
            assert payment.stripe_payment_intent_id is not None
            intent = await context.stripe.retrieve_payment_intent(payment.stripe_payment_intent_id)
            status = intent.status
            if status in ("requires_payment_method", "requires_confirmation", "requires_action"):
                try:
                    intent = await context.stripe.cancel_payment_intent(
                        payment.stripe_payment_intent_id,
                        idempotency_key=f"cancel-{payment.idempotency_key}",
                    )
                except StripeRejected:
                    # Most likely it succeeded between our two calls: look again.
                    intent = await context.stripe.retrieve_payment_intent(
                        payment.stripe_payment_intent_id
                    )
                status = intent.status
            return await _apply_window_end(uow, context, payment, intent, status)


async def _apply_window_end(
    uow: Any, context: AppContext, payment: Payment, intent: Any, status: str
) -> str:
    if status == "succeeded":
        await record_success(uow, context, payment, intent.to_dict())
        return "succeeded"
    if status == "processing":
        record_processing(uow, payment)
        payment.expires_at = lifecycle.utcnow() + PROCESSING_RECHECK
        expires_at = payment.expires_at
        payment_id = payment.id

        async def recheck() -> None:
            from server.payments import tasks

            tasks.schedule_expiry(context, payment_id, expires_at)

        uow.after_commit(recheck)
        return "processing"
    if status == "canceled":
        await end_payment(
            uow, context, payment, status=PaymentStatus.EXPIRED, reason="window_elapsed"
        )
        return "expired"
    log.error("payment %s: intent in unexpected state %s at window end", payment.id, status)
    return "unexpected"


# --- what awaits a buyer ----------------------------------------------------------------------


async def payments_awaiting(context: AppContext, buyer_id: str) -> list[dict[str, Any]]:
    async with context.db.unit_of_work() as uow:
        payments = (
            await uow.session.scalars(
                select(Payment)
                .where(Payment.buyer_id == buyer_id, Payment.status.in_(AWAITING_BUYER))
                .order_by(Payment.id)
            )
        ).all()
        return [payment_info(context, payment) for payment in payments]


async def payment_for_lot(context: AppContext, buyer_id: str, lot_id: int) -> dict[str, Any]:
    """The payment awaiting `buyer_id` on `lot_id`, creating its intent now if it must."""
    async with context.db.unit_of_work() as uow:
        payment = await uow.session.scalar(
            select(Payment).where(
                Payment.buyer_id == buyer_id,
                Payment.lot_id == lot_id,
                Payment.status.in_((PaymentStatus.CREATING, *AWAITING_BUYER)),
            )
        )
        if payment is None:
            raise conflict("no_pending_payment", "No payment awaits you for this lot")
        if payment.status != PaymentStatus.CREATING:
            return payment_info(context, payment)
        payment_id = payment.id
    await create_intent(context, payment_id, raise_errors=True)
    async with context.db.unit_of_work() as uow:
        payment = await uow.session.get(Payment, payment_id)
        assert payment is not None
        if payment.status == PaymentStatus.CREATING:
            # Another caller holds it while it talks to Stripe: it awaits the buyer still.
            raise Unavailable("Your payment is being prepared; try again in a moment")
        if payment.status not in AWAITING_BUYER:
            raise conflict("no_pending_payment", "No payment awaits you for this lot")
        return payment_info(context, payment)


async def redeliver_on_connect(context: AppContext, sid: str, buyer_id: str) -> None:
    for info in await payments_awaiting(context, buyer_id):
        await context.hub.sio.emit("payment_required", info, to=sid)


# --- applying what Stripe says about an intent ----------------------------------------------


async def apply_intent_state(
    uow: Any, context: AppContext, payment: Payment, intent: dict[str, Any], event_id: str | None
) -> str:
    """Bring a payment in line with its intent, as a webhook or reconciliation reports it."""
    status = intent.get("status")
    if status == "succeeded":
        return await record_success(uow, context, payment, intent, event_id=event_id)
    if status == "processing":
        return record_processing(uow, payment)
    if status == "requires_action":
        return record_requires_action(uow, context, payment)
    return "ignored"


__all__ += ["apply_intent_state", "payment_for_lot", "payments_awaiting", "record_failure"]
