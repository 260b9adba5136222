"""The one place that talks to Stripe.

Stripe API version 2026-10-28.endive, pinned by the library (stripe 16.x, the one
major pyproject.toml allows; tests/test_packaging.py checks the two agree).
Async, idempotency keys derived from our
own ids, every call bounded by a timeout, and Stripe's errors translated into
ours: `StripeUnavailable` (try again later) or `StripeRejected` (Stripe said no).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import stripe

from server.core.errors import AppError
from server.settings import Settings

log = logging.getLogger(__name__)


class StripeUnavailable(AppError):
    code = "unavailable"
    status = 503
    default_message = "The payment provider is unavailable; try again shortly"


class StripeRejected(AppError):
    code = "payment_provider_error"
    status = 502
    default_message = "The payment provider refused the request"


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        base_addresses: dict[str, str] = {}
        if settings.stripe_api_base:
            base = settings.stripe_api_base.rstrip("/")
            base_addresses = {"api": base, "connect": base, "files": base}
        self._timeout = settings.stripe_timeout_seconds
        self._http = stripe.AIOHTTPClient(timeout=self._timeout)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            http_client=self._http,
            max_network_retries=0,  # our own jobs retry, with the same idempotency key
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout + 1):
                return await coro
        except TimeoutError:
            raise StripeUnavailable(f"Stripe timed out during {what}") from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise StripeUnavailable(
                f"Stripe unreachable during {what}: {type(exc).__name__}"
            ) from None
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            if status >= 500 or status == 0:
                raise StripeUnavailable(f"Stripe error {status} during {what}") from None
            code = getattr(exc, "code", None) or "stripe_error"
            raise StripeRejected(
                f"Stripe refused {what}: {exc.user_message or code}",
                details={"stripe_code": code, "stripe_status": status},
            ) from None

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Any:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "metadata": metadata,
            "payment_method_types": ["card"],
            "capture_method": "automatic",
        }
        return await self._call(
            "PaymentIntent creation",
            self.client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            ),
        )

    async def retrieve_payment_intent(self, intent_id: str) -> Any:
        return await self._call(
            "PaymentIntent retrieval",
            self.client.v1.payment_intents.retrieve_async(intent_id, {"expand": ["latest_charge"]}),
        )

    async def retrieve_charge(self, charge_id: str) -> Any:
        """A charge, for what the intent's webhook names only by id (its card summary)."""
        return await self._call(
            "charge retrieval", self.client.v1.charges.retrieve_async(charge_id)
        )

    async def cancel_payment_intent(self, intent_id: str, *, idempotency_key: str) -> Any:
        return await self._call(
            "PaymentIntent cancellation",
            self.client.v1.payment_intents.cancel_async(
                intent_id,
                {"cancellation_reason": "abandoned"},
                options={"idempotency_key": idempotency_key},
            ),
        )

    async def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Any:
        return await self._call(
            "refund",
            self.client.v1.refunds.create_async(
                {"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            ),
        )
