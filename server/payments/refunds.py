"""Refunds we ask Stripe for (what Stripe reports back is in `refund_reports`).

A refund is reserved in our database first (a `pending` row, under the
payment's row lock, counted against what may still be refunded), then sent to
Stripe with an idempotency key derived from that row, then settled. So
concurrent requests can never refund more than was paid. A refund Stripe
could not be reached for stays `pending` without a Stripe id, and the
reconcile job sends it again with the same key, with capped backoff
(`next_send_at`). One Stripe refused is `failed` and flags its payment for an
admin (`attention`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select

from server.auctions.lifecycle import utcnow
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import AppError, NotFound, ValidationError, conflict
from server.core.money import chargeable_step, format_amount
from server.payments import backoff
from server.payments.gateway import StripeRejected, StripeUnavailable
from server.payments.locking import lock_payment
from server.payments.models import Payment, PaymentAttempt, Refund
from server.payments.refund_reports import (
    STRIPE_REFUND_STATUS,
    on_charge_refunded,
    on_dispute_created,
    settle,
)

log = logging.getLogger(__name__)

__all__ = [
    "on_charge_refunded",
    "on_dispute_created",
    "refund_replaced_intent",
    "request_refund",
    "send_refund",
]


async def refundable(uow: UnitOfWork, payment: Payment) -> int:
    """What may still be refunded: paid, less refunded, less refunds in flight."""
    pending = await uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id,
            Refund.status == "pending",
            Refund.stripe_payment_intent_id.is_(None),
        )
    )
    return payment.amount - payment.refunded_amount - int(pending or 0)


async def reserve_refund(
    uow: UnitOfWork,
    payment: Payment,
    *,
    amount: int | None,
    reason: str | None,
    requested_by: str | None,
    key_suffix: str | None = None,
) -> Refund:
    """Reserve a refund of `amount` (all that is left when None); the caller holds the lock."""
    if payment.paid_at is None or payment.stripe_payment_intent_id is None:
        raise conflict("not_refundable", "Only a paid payment can be refunded")
    available = await refundable(uow, payment)
    if amount is None:
        amount = available
    elif amount % chargeable_step(payment.currency):
        step = chargeable_step(payment.currency)
        raise ValidationError(
            f"Refunds in {payment.currency.upper()} must be multiples of "
            f"{format_amount(step, payment.currency)}"
        )
    if amount <= 0 or amount > available:
        raise conflict(
            "refund_exceeds_payment",
            f"At most {format_amount(max(available, 0), payment.currency)} can be refunded",
            refundable=max(available, 0),
        )
    count = await uow.session.scalar(
        select(func.count()).select_from(Refund).where(Refund.payment_id == payment.id)
    )
    refund = Refund(
        payment_id=payment.id,
        amount=amount,
        reason=reason,
        status="pending",
        requested_by=requested_by,
        idempotency_key=f"refund-{payment.id}-{key_suffix or (count or 0) + 1}",
    )
    uow.session.add(refund)
    await uow.session.flush()
    return refund


async def request_refund(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    *,
    amount: int | None,
    reason: str | None,
    requested_by: str | None,
    key_suffix: str | None = None,
) -> Refund:
    """Reserve a refund and send it once the reservation has committed."""
    refund = await reserve_refund(
        uow,
        payment,
        amount=amount,
        reason=reason,
        requested_by=requested_by,
        key_suffix=key_suffix,
    )
    refund_id = refund.id
    uow.after_commit(lambda: send_refund(context, refund_id))
    return refund


async def refund_replaced_intent(
    uow: UnitOfWork,
    context: AppContext,
    *,
    payment_id: int,
    intent_id: str,
    amount: int,
    event_id: str,
) -> tuple[str, int | None]:
    """Money taken on an intent we created for a payment and replaced: it goes back.

    It is not the payment's money (the payment has, or will have, its own
    intent), so the refund names this intent and is not counted against it.
    """
    payment = await lock_payment(uow, payment_id)
    assert payment is not None
    key = f"refund-replaced-{intent_id}"
    if await uow.session.scalar(select(Refund.id).where(Refund.idempotency_key == key)):
        return "duplicate", payment.id
    log.warning("payment %s: replaced intent %s succeeded; refunding", payment.id, intent_id)
    uow.session.add(
        PaymentAttempt(
            payment_id=payment.id,
            outcome="late_success",
            failure_message="an intent created for this payment and replaced was paid",
            stripe_event_id=event_id,
        )
    )
    refund = Refund(
        payment_id=payment.id,
        amount=amount,
        reason="automatic: a replaced PaymentIntent of this payment succeeded",
        status="pending",
        idempotency_key=key,
        stripe_payment_intent_id=intent_id,
    )
    uow.session.add(refund)
    await uow.session.flush()
    refund_id = refund.id
    uow.after_commit(lambda: send_refund(context, refund_id))
    return "late_refunded", payment.id


async def refund_payment(
    context: AppContext,
    payment_id: int,
    *,
    amount: int | None,
    reason: str | None,
    requested_by: str,
) -> tuple[int, Sent]:
    """An admin's refund: reserve, commit, send to Stripe, and say how it ended."""
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None:
            raise NotFound("Payment not found")
        refund = await reserve_refund(
            uow, payment, amount=amount, reason=reason, requested_by=requested_by
        )
        refund_id = refund.id
    log.info("refund %s of payment %s requested by %s", refund_id, payment_id, requested_by)
    return refund_id, await send_refund(context, refund_id, background=False)


@dataclass(frozen=True, slots=True)
class Sent:
    """How sending a refund ended: its status, and Stripe's error when there was one."""

    status: str
    error: AppError | None = None


async def send_refund(context: AppContext, refund_id: int, *, background: bool = True) -> Sent:
    """Ask Stripe for a reserved refund and settle it.

    Claimed in a short transaction that moves `next_send_at` past the call (a
    lease: the reconcile job and the request that reserved the refund never
    send it at the same time; our stand-in, unlike Stripe, ignores idempotency
    keys), sent with no transaction open, settled under the payment's lock.
    """
    async with context.db.unit_of_work() as claim:
        refund = await claim.session.get(Refund, refund_id, with_for_update={"skip_locked": True})
        if refund is None:
            return Sent("missing")
        now = utcnow()
        busy = refund.next_send_at is not None and refund.next_send_at > now
        if busy or refund.status != "pending" or refund.stripe_refund_id is not None:
            return Sent(refund.status)
        payment = await claim.session.get(Payment, refund.payment_id)
        assert payment is not None and payment.stripe_payment_intent_id is not None
        refund.send_tries += 1
        refund.next_send_at = now + backoff.lease(context)
        intent_id = refund.stripe_payment_intent_id or payment.stripe_payment_intent_id
        metadata = {"payment_id": str(payment.id), "refund_id": str(refund.id)}
        amount, key, tries, payment_id = (
            refund.amount,
            refund.idempotency_key,
            refund.send_tries,
            payment.id,
        )
    error: StripeUnavailable | StripeRejected | None = None
    stripe_status = stripe_id = None
    try:
        stripe_refund = await context.stripe.create_refund(
            payment_intent_id=intent_id,
            amount=amount,
            metadata=metadata,
            idempotency_key=key,
            background=background,
        )
        stripe_status, stripe_id = str(stripe_refund.status), str(stripe_refund.id)
    except (StripeUnavailable, StripeRejected) as caught:
        log.warning("refund %s not sent: %s", refund_id, caught.message)
        error = caught
    # Payment, then refund: the order the webhook handlers lock them in.
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        refund = await uow.session.get(Refund, refund_id, with_for_update=True)
        assert payment is not None and refund is not None
        if refund.status != "pending" or refund.stripe_refund_id is not None:
            return Sent(refund.status, error)
        now = utcnow()
        if error is not None:
            backoff.note_stripe_error(context, payment, "refund", error, now)
        if isinstance(error, StripeUnavailable):
            refund.next_send_at = now + backoff.retry_delay(context, tries)
            return Sent("pending", error)
        refund.next_send_at = None
        refund.stripe_refund_id = stripe_id
        refund.status = STRIPE_REFUND_STATUS.get(stripe_status or "failed", "pending")
        if error is None:
            backoff.clear_attention(payment, backoff.ATTENTION_CODES["refund"])
        await settle(uow, payment)
        return Sent(refund.status, error)
