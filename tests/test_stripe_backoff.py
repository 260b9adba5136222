"""The retry schedule and the classification of Stripe's errors, on their own."""

from __future__ import annotations

import itertools
from datetime import timedelta
from types import SimpleNamespace

import pytest
import stripe

from server.payments import backoff
from server.payments.gateway import StripeRejected, StripeUnavailable, classify
from server.settings import Settings

DEFAULTS = Settings(
    stripe_secret_key="sk_test_x" * 3,
    stripe_publishable_key="pk_test_x" * 3,
    stripe_webhook_secrets=("whsec_x" * 3,),
    jwt_secret="j" * 40,
)


def test_a_payment_stuck_on_transient_errors_asks_stripe_19_times_in_its_first_hour():
    context = SimpleNamespace(settings=DEFAULTS)
    tries, at = [], timedelta(0)
    while at < timedelta(hours=1):
        tries.append(at.total_seconds())
        at += backoff.retry_delay(context, len(tries))  # type: ignore[arg-type]
    assert tries[:9] == [0, 2, 6, 14, 30, 62, 126, 254, 510]
    assert all(b - a == 300 for a, b in itertools.pairwise(tries[8:]))
    assert len(tries) == 19


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (stripe.APIConnectionError("reset"), True),
        (stripe.RateLimitError("slow down", http_status=429), True),
        (stripe.APIError("boom", http_status=500), True),
        (stripe.APIError("bad gateway", http_status=502), True),
        (stripe.InvalidRequestError("locked", None, code="lock_timeout", http_status=400), True),
        (
            stripe.IdempotencyError("in use", code="idempotency_key_in_use", http_status=409),
            True,
        ),
        (stripe.InvalidRequestError("too large", "amount", code="amount_too_large"), False),
        (
            stripe.InvalidRequestError(
                "cannot cancel", None, code="payment_intent_unexpected_state", http_status=400
            ),
            False,
        ),
        (stripe.AuthenticationError("bad key", http_status=401), False),
        (stripe.PermissionError("no", http_status=403), False),
        (stripe.InvalidRequestError("gone", None, code="resource_missing", http_status=404), False),
        (stripe.IdempotencyError("reused", code="idempotency_error", http_status=409), False),
    ],
)
def test_stripe_errors_are_transient_or_permanent(error, transient):
    if error.http_status is None and not isinstance(error, stripe.APIConnectionError):
        error.http_status = 400
    ours = classify(error, "a test")
    assert isinstance(ours, StripeUnavailable if transient else StripeRejected), ours.message
