"""When to ask Stripe again, and when to stop and tell a person (SPEC 12.3).

The schedule lives in the payment's row (`next_retry_at` with a try counter),
so it survives restarts and every process reads the same one: a job claims a
due payment under its row lock, moves `next_retry_at` past the call (a lease),
and writes the next step when Stripe has answered. So a payment never gets
more than one Stripe request per step, however many processes sweep.

Transient errors are retried with capped exponential backoff. A permanent
refusal is not retried by itself: the payment gets `attention`, a metric
counts it and the log says it once at error level, and an admin decides
(`POST /api/admin/payments/{id}/retry` or `/release`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from server.core.context import AppContext
from server.payments.gateway import StripeRejected, StripeUnavailable
from server.payments.models import Payment

log = logging.getLogger(__name__)

#: What an admin sees in `attention.code`, by the request Stripe refused.
ATTENTION_CODES = {
    "create": "intent_creation_refused",
    "cancel": "intent_cancel_refused",
    "refund": "refund_refused",
}


def retry_delay(context: AppContext, tries: int) -> timedelta:
    """base · 2^(tries-1), capped: 2, 4, 8 ... 300 s with the defaults."""
    settings = context.settings
    seconds = settings.stripe_retry_base_seconds * 2 ** min(max(0, tries - 1), 30)
    return timedelta(seconds=min(seconds, settings.stripe_retry_max_seconds))


def lease(context: AppContext, calls: int = 1) -> timedelta:
    """How long a claim keeps other jobs off while it makes `calls` Stripe calls."""
    return timedelta(seconds=context.settings.stripe_background_timeout_seconds * calls + 5)


def note_stripe_error(
    context: AppContext,
    payment: Payment,
    operation: str,
    error: StripeUnavailable | StripeRejected,
    now: datetime,
) -> None:
    """Record a Stripe error on the payment; a permanent one also flags it for an admin."""
    payment.last_stripe_error = error.message
    kind = "permanent" if isinstance(error, StripeRejected) else "transient"
    context.metrics.stripe_errors.labels(operation=operation, kind=kind).inc()
    if isinstance(error, StripeRejected):
        flag_attention(context, payment, ATTENTION_CODES[operation], error.message, now)


def flag_attention(
    context: AppContext, payment: Payment, code: str, message: str, now: datetime
) -> None:
    """Set `attention`; logged and counted once per new problem, not per sweep."""
    current = payment.attention
    if current is not None and current.get("code") == code:
        return
    payment.attention = {"code": code, "message": message, "since": now.isoformat()}
    context.metrics.payment_attention.labels(code=code).inc()
    log.error("payment %s needs attention (%s): %s", payment.id, code, message)


def clear_attention(payment: Payment, *codes: str) -> None:
    """The problem is gone (Stripe said yes, or an admin settled it)."""
    if payment.attention is not None and (not codes or payment.attention.get("code") in codes):
        payment.attention = None
