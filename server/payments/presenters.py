"""How payments look from outside: PaymentInfo for the buyer, Payment for records."""

from __future__ import annotations

from typing import Any

from server.core.context import AppContext
from server.core.money import Breakdown
from server.payments.models import Payment, PaymentAttempt, Refund


def breakdown_of(payment: Payment) -> dict[str, int]:
    parts = Breakdown(hammer=payment.hammer, premium=payment.premium, total=payment.amount)
    if payment.invoice_id is None:
        return parts.as_dict()
    return {**parts.as_dict(), "tax": payment.tax}


def attempts_left(context: AppContext, payment: Payment) -> int:
    return max(0, context.settings.max_payment_attempts - payment.attempts)


def payment_info(context: AppContext, payment: Payment) -> dict[str, Any]:
    """PaymentInfo (SPEC section 6). Holds the client secret: for its buyer only."""
    return {
        "payment_id": payment.id,
        "lot_id": payment.lot_id,
        "invoice_id": payment.invoice_id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "breakdown": breakdown_of(payment),
        "client_secret": payment.client_secret,
        "publishable_key": context.settings.stripe_publishable_key,
        "expires_at": payment.expires_at,
        "attempt": min(payment.attempts + 1, context.settings.max_payment_attempts),
        "attempts_left": attempts_left(context, payment),
        "offer_number": payment.offer_number,
        "reason": payment.auto_charge_reason,
    }


def paid_for(payment: Payment) -> dict[str, Any]:
    """What the payment_* events name: the payment and its lot, or (per_sale) its invoice."""
    named: dict[str, Any] = {"payment_id": payment.id, "lot_id": payment.lot_id}
    if payment.invoice_id is not None:
        named["invoice_id"] = payment.invoice_id
    return named


def receipt_url(payment: Payment) -> str:
    return f"/api/payments/{payment.id}/receipt"


def payment_record(
    context: AppContext,
    payment: Payment,
    *,
    attempts: list[PaymentAttempt] | None = None,
    refunds: list[Refund] | None = None,
    for_admin: bool = False,
) -> dict[str, Any]:
    """The Payment resource: its state, attempts and refunds. No client secret here."""
    record: dict[str, Any] = {
        "id": payment.id,
        "lot_id": payment.lot_id,
        "invoice_id": payment.invoice_id,
        "buyer_id": payment.buyer_id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "breakdown": breakdown_of(payment),
        "refunded_amount": payment.refunded_amount,
        "offer_number": payment.offer_number,
        "expires_at": payment.expires_at,
        "attempts_count": payment.attempts,
        "attempts_left": attempts_left(context, payment),
        "end_reason": payment.end_reason,
        "disputed": payment.disputed,
        "receipt_number": payment.receipt_number,
        "receipt_url": receipt_url(payment) if payment.receipt_number else None,
        "paid_at": payment.paid_at,
        "card": (
            {"brand": payment.card_brand, "last4": payment.card_last4}
            if payment.card_last4
            else None
        ),
        "attention": payment.attention,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }
    if attempts is not None:
        record["attempts"] = [
            {
                "at": attempt.created_at,
                "outcome": attempt.outcome,
                "failure_code": attempt.failure_code,
                "failure_message": attempt.failure_message,
            }
            for attempt in attempts
        ]
    if refunds is not None:
        record["refunds"] = [
            {
                "id": refund.id,
                "payment_id": refund.payment_id,
                "amount": refund.amount,
                "reason": refund.reason,
                "status": refund.status,
                "created_at": refund.created_at,
            }
            for refund in refunds
        ]
    if for_admin:
        record["dispute_reason"] = payment.dispute_reason
        record["stripe_payment_intent_id"] = payment.stripe_payment_intent_id
        record["last_stripe_error"] = payment.last_stripe_error
    return record
