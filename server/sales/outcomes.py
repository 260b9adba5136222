"""What Stripe's reports do to a payment: success, failure, action, processing, cancel.

`intent_states` decides which of these a PaymentIntent status means; each runs
under the payment's row lock, in the caller's unit of work, changes rows,
records history, and queues the notifications that go out after commit. State
only moves forward: a late or reordered report cannot undo SUCCEEDED, and an
ended payment cannot be revived (a success on it is refunded).
"""

from __future__ import annotations

import logging
from typing import Any

from server.auctions import lifecycle
from server.auctions.models import Bid, LotStatus
from server.cards.offsession import charged_automatically
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.notifications import messages
from server.payments import refunds
from server.payments.cards import card_in_intent
from server.payments.models import AWAITING, ENDED, PAID, Payment, PaymentAttempt, PaymentStatus
from server.payments.presenters import attempts_left, paid_for, receipt_url
from server.sales import invoice_flow
from server.sales.emails import email_user, what_is_paid
from server.sales.expiry import end_payment
from server.sales.schedule import forget_expiry_after_commit

log = logging.getLogger(__name__)


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
    if payment.invoice_id is not None:
        invoice = await invoice_flow.invoice_paid(uow, context, payment)
        title = await what_is_paid(uow, payment)
        receipt_number = invoice.receipt_number or payment.receipt_number
        receipt = f"/api/invoices/{invoice.id}"
    else:
        assert payment.lot_id is not None
        lot = await lifecycle.lock_lot(uow, payment.lot_id)
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
        title, receipt_number, receipt = lot.title, payment.receipt_number, receipt_url(payment)
    succeeded = {
        **paid_for(payment),
        "amount": payment.amount,
        "currency": payment.currency,
        "receipt_url": receipt,
    }
    context.hub.to_user_after_commit(uow, payment.buyer_id, "payment_succeeded", succeeded)
    await email_user(
        uow,
        payment.buyer_id,
        "receipt",
        messages.receipt(
            receipt_number=receipt_number,
            lot_title=title,
            hammer=payment.hammer,
            premium=payment.premium,
            total=payment.amount,
            currency=payment.currency,
            card_brand=payment.card_brand,
            card_last4=payment.card_last4,
            paid_at=now,
            charged_automatically=charged_automatically(payment),
            tax=payment.tax,
        ),
        data={"payment_id": payment.id},
    )
    forget_expiry_after_commit(uow, context, payment.id)
    return "applied"


async def _refund_late_success(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
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
        # Its intent is cancelled by the caller (`intent_states`), once this commits.
        await end_payment(
            uow, context, payment, status=PaymentStatus.FAILED, reason="attempts_exhausted"
        )
        return "applied"
    context.hub.to_user_after_commit(
        uow,
        payment.buyer_id,
        "payment_failed",
        {
            **paid_for(payment),
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
        paid_for(payment),
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
