"""The payment state machine. Every change to a payment's status goes through here.

Callers hold the payment's row lock (`lock_payment`) and a unit of work; each
function changes rows, records history, and queues the notifications that go
out after commit. State only moves forward: a late or reordered report cannot
undo SUCCEEDED, and an ended payment cannot be revived.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, func, select

from server.auctions import lifecycle
from server.auctions.models import Bid, Lot, LotStatus
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.money import payment_breakdown
from server.notifications import messages
from server.notifications.outbox import enqueue_email
from server.payments.cards import card_in_intent
from server.payments.models import (
    AWAITING,
    ENDED,
    PAID,
    Payment,
    PaymentAttempt,
    PaymentStatus,
)
from server.payments.presenters import attempts_left, payment_info, receipt_url
from server.users.models import User

log = logging.getLogger(__name__)

__all__ = ["ENDED"]


async def lock_payment(
    uow: UnitOfWork, payment_id: int, *, skip_locked: bool = False
) -> Payment | None:
    return await uow.session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update(skip_locked=skip_locked)
    )


async def lock_lot(uow: UnitOfWork, lot_id: int) -> Lot:
    lot = await uow.session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())
    assert lot is not None
    return lot


# --- offering a lot --------------------------------------------------------------------------


async def offer_lot(
    uow: UnitOfWork, context: AppContext, lot: Lot, bid: Bid, *, offer_number: int
) -> Payment:
    """Create the CREATING payment for `bid`; its PaymentIntent is made after commit.

    The row exists before Stripe is called, so no webhook can name a payment we
    do not know, and a crash before the intent exists leaves a CREATING row that
    the retry sweep completes with the same idempotency key.
    """
    breakdown = payment_breakdown(bid.amount, context.settings.buyer_premium_bps, lot.currency)
    payment = Payment(
        lot_id=lot.id,
        bid_id=bid.id,
        buyer_id=bid.bidder_id,
        seller_id=lot.seller_id,
        offer_number=offer_number,
        status=PaymentStatus.CREATING,
        currency=lot.currency,
        hammer=breakdown.hammer,
        premium=breakdown.premium,
        amount=breakdown.total,
        refunded_amount=0,
        attempts=0,
        create_tries=0,
        idempotency_key=f"lot-{lot.id}-offer-{offer_number}-bid-{bid.id}",
        next_retry_at=lifecycle.utcnow(),
    )
    uow.session.add(payment)
    await uow.session.flush()
    payment_id = payment.id

    async def create_intent() -> None:
        from server.payments import service

        await service.create_intent(context, payment_id)

    uow.after_commit(create_intent)
    return payment


def announce_payment_required(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    context.hub.to_user_after_commit(
        uow, payment.buyer_id, "payment_required", payment_info(context, payment)
    )


# --- reports from Stripe ----------------------------------------------------------------------


async def record_success(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    intent: dict[str, Any],
    *,
    event_id: str | None = None,
) -> str:
    """Stripe says the money was taken. Returns what this call did."""
    if intent.get("amount") != payment.amount or intent.get("currency") != payment.currency:
        log.error(
            "payment %s: succeeded intent has amount %s %s, expected %s %s; not applied",
            payment.id,
            intent.get("amount"),
            intent.get("currency"),
            payment.amount,
            payment.currency,
        )
        uow.session.add(
            PaymentAttempt(
                payment_id=payment.id,
                outcome="amount_mismatch",
                failure_code="amount_mismatch",
                failure_message="Stripe reported a different amount or currency",
                stripe_event_id=event_id,
            )
        )
        return "amount_mismatch"
    if payment.status in PAID or (payment.status in ENDED and payment.paid_at is not None):
        return "duplicate"
    now = lifecycle.utcnow()
    payment.paid_at = now
    # The card comes with the intent (expanded, or added to the event before this
    # transaction): no Stripe call while the payment's row is locked.
    payment.card_brand, payment.card_last4 = card_in_intent(intent)
    if payment.status in ENDED:
        await _refund_late_success(uow, context, payment)
        return "late_refunded"  # fits stripe_events.outcome (16 characters)

    payment.status = PaymentStatus.SUCCEEDED
    payment.receipt_number = f"R{now:%Y}-{payment.id:08d}"
    payment.next_retry_at = None
    uow.session.add(
        PaymentAttempt(payment_id=payment.id, outcome="succeeded", stripe_event_id=event_id)
    )
    lot = await lock_lot(uow, payment.lot_id)
    bid = await uow.session.get(Bid, payment.bid_id)
    if bid is not None:
        bid.outcome = "won"
    lifecycle.change_status(
        uow,
        context,
        lot,
        LotStatus.SOLD,
        reason="paid",
        amount=payment.hammer,
    )
    context.hub.to_user_after_commit(
        uow,
        payment.buyer_id,
        "payment_succeeded",
        {
            "payment_id": payment.id,
            "lot_id": payment.lot_id,
            "amount": payment.amount,
            "currency": payment.currency,
            "receipt_url": receipt_url(payment),
        },
    )
    await _email(
        uow,
        payment.buyer_id,
        "receipt",
        messages.receipt(
            receipt_number=payment.receipt_number,
            lot_title=lot.title,
            hammer=payment.hammer,
            premium=payment.premium,
            total=payment.amount,
            currency=payment.currency,
            card_brand=payment.card_brand,
            card_last4=payment.card_last4,
            paid_at=now,
        ),
        data={"payment_id": payment.id},
    )
    _forget_expiry(uow, context, payment.id)
    return "applied"


async def _refund_late_success(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    from server.payments import refunds

    log.warning(
        "payment %s succeeded after it had ended (%s); refunding automatically",
        payment.id,
        payment.status,
    )
    uow.session.add(
        PaymentAttempt(
            payment_id=payment.id,
            outcome="late_success",
            failure_message=f"succeeded after the payment was {payment.status}",
        )
    )
    await refunds.request_refund(
        uow,
        context,
        payment,
        amount=payment.amount - payment.refunded_amount,
        reason=f"automatic: payment succeeded after it was {payment.status.lower()}",
        requested_by=None,
        key_suffix="late-success",
    )


async def record_failure(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    *,
    failure_code: str | None,
    failure_message: str | None,
    event_id: str | None,
) -> str:
    """A confirmation failed: count it; at the limit the payment ends."""
    if payment.status not in AWAITING:
        return "stale"
    payment.attempts += 1
    payment.failure_code = failure_code
    payment.failure_message = failure_message
    uow.session.add(
        PaymentAttempt(
            payment_id=payment.id,
            outcome="failed",
            failure_code=failure_code,
            failure_message=failure_message,
            stripe_event_id=event_id,
        )
    )
    if payment.status in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING):
        payment.status = PaymentStatus.REQUIRES_PAYMENT
    left = attempts_left(context, payment)
    if left <= 0:
        # At the limit the failure is an expiry: `payment_expired`, not `payment_failed`.
        await end_payment(
            uow, context, payment, status=PaymentStatus.FAILED, reason="attempts_exhausted"
        )
        from server.payments import window

        window.cancel_after_commit(uow, context, payment)
        return "applied"
    context.hub.to_user_after_commit(
        uow,
        payment.buyer_id,
        "payment_failed",
        {
            "payment_id": payment.id,
            "lot_id": payment.lot_id,
            "failure_code": failure_code,
            "failure_message": failure_message,
            "attempts_left": left,
        },
    )
    return "applied"


def record_requires_action(uow: UnitOfWork, context: AppContext, payment: Payment) -> str:
    if payment.status not in (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.PROCESSING):
        return "stale"
    payment.status = PaymentStatus.REQUIRES_ACTION
    uow.session.add(PaymentAttempt(payment_id=payment.id, outcome="requires_action"))
    context.hub.to_user_after_commit(
        uow,
        payment.buyer_id,
        "payment_action_required",
        {"payment_id": payment.id, "lot_id": payment.lot_id},
    )
    return "applied"


def record_processing(uow: UnitOfWork, payment: Payment) -> str:
    if payment.status not in (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.REQUIRES_ACTION):
        return "stale"
    payment.status = PaymentStatus.PROCESSING
    uow.session.add(PaymentAttempt(payment_id=payment.id, outcome="processing"))
    return "applied"


async def record_external_cancel(uow: UnitOfWork, context: AppContext, payment: Payment) -> str:
    """The intent was canceled at Stripe by someone else: the payment ends, without a strike.

    Once the window has elapsed it is an expiry whoever canceled (our window job
    cancels before it ends the payment, and its report may arrive first).
    """
    if payment.status not in AWAITING:
        return "stale"
    if payment.expires_at is not None and payment.expires_at <= lifecycle.utcnow():
        await end_payment(
            uow, context, payment, status=PaymentStatus.EXPIRED, reason="window_elapsed"
        )
        return "applied"
    await end_payment(
        uow,
        context,
        payment,
        status=PaymentStatus.CANCELED,
        reason="canceled_at_stripe",
        strike=False,
    )
    return "applied"


# --- the end of a window ----------------------------------------------------------------------


async def end_payment(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    *,
    status: PaymentStatus,
    reason: str,
    strike: bool = True,
) -> None:
    """End an awaiting payment (EXPIRED, FAILED or CANCELED) and decide the lot's fate."""
    assert payment.status in AWAITING, payment.status
    payment.status = status
    payment.end_reason = reason
    payment.next_retry_at = None
    await uow.session.flush()
    if strike:
        buyer = await uow.session.get(User, payment.buyer_id, with_for_update=True)
        if buyer is not None:
            buyer.strikes += 1
    context.hub.to_user_after_commit(
        uow,
        payment.buyer_id,
        "payment_expired",
        {"payment_id": payment.id, "lot_id": payment.lot_id, "reason": reason},
    )
    lot = await lock_lot(uow, payment.lot_id)
    if reason == "window_elapsed" or reason == "attempts_exhausted":
        content = messages.payment_expired(lot_title=lot.title, reason=reason)
        await _email(
            uow, payment.buyer_id, "payment_expired", content, data={"payment_id": payment.id}
        )
    _forget_expiry(uow, context, payment.id)
    await _apply_expiry_policy(uow, context, lot)


async def _apply_expiry_policy(uow: UnitOfWork, context: AppContext, lot: Lot) -> None:
    if lot.status != LotStatus.PENDING_PAYMENT:
        return
    if context.settings.expiry_policy == "next_bidder":
        bid = await _next_bid(uow, context, lot)
        if bid is not None:
            lifecycle.put_on_offer(lot, bid)
            earlier = await uow.session.scalar(
                select(func.max(Payment.offer_number)).where(Payment.lot_id == lot.id)
            )
            lifecycle.change_status(
                uow,
                context,
                lot,
                LotStatus.PENDING_PAYMENT,
                reason="offered_to_next_bidder",
                offer_number=(earlier or 0) + 1,
            )
            await offer_lot(uow, context, lot, bid, offer_number=(earlier or 0) + 1)
            return
    lifecycle.change_status(uow, context, lot, LotStatus.UNSOLD, reason="not_paid")


async def _next_bid(uow: UnitOfWork, context: AppContext, lot: Lot) -> Bid | None:
    """The highest bid of a bidder not yet offered this lot, above the reserve, in good standing."""
    offered = select(Payment.buyer_id).where(Payment.lot_id == lot.id)
    query = (
        select(Bid)
        .join(User, User.id == Bid.bidder_id)
        .where(
            Bid.lot_id == lot.id,
            Bid.bidder_id.not_in(offered),
            User.strikes < context.settings.nonpayment_strikes,
        )
        .order_by(Bid.amount.desc())
        .limit(1)
    )
    if lot.reserve_price is not None:
        query = query.where(and_(Bid.amount >= lot.reserve_price))
    return await uow.session.scalar(query)


def schedule_expiry_after_commit(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    payment_id, expires_at = payment.id, payment.expires_at
    assert expires_at is not None

    async def schedule() -> None:
        from server.payments import tasks

        tasks.schedule_expiry(context, payment_id, expires_at)

    uow.after_commit(schedule)


def _forget_expiry(uow: UnitOfWork, context: AppContext, payment_id: int) -> None:
    async def forget() -> None:
        if context.scheduler is not None:
            context.scheduler.cancel(f"expire:{payment_id}")

    uow.after_commit(forget)


async def _email(
    uow: UnitOfWork,
    user_id: str,
    topic: str,
    content: tuple[str, str],
    *,
    data: dict[str, Any],
) -> None:
    email = await uow.session.scalar(select(User.email).where(User.id == user_id))
    if not email:
        return
    subject, body = content
    enqueue_email(
        uow.session,
        topic=topic,
        recipient_id=user_id,
        recipient_email=email,
        subject=subject,
        body=body,
        data=data,
    )
