"""The one place that talks to Stripe.

Stripe API version 2026-10-28.endive, pinned by the library (stripe 16.x, the one
major pyproject.toml allows; tests/test_packaging.py checks the two agree).
Async, idempotency keys derived from our
own ids, every call bounded by a timeout, and Stripe's errors translated into
ours, classified once here (see `classify`): `StripeUnavailable` (transient:
worth asking again later, with backoff) or `StripeRejected` (permanent: the
same request will get the same answer, so a person has to look).

Background work (window ends, creation retries, reconciliation, refunds) asks
with `background=True`: a shorter timeout, so a hung Stripe costs a job a few
seconds, never minutes. A buyer's request waits the normal timeout.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import stripe

from server.core.errors import AppError
from server.settings import Settings

log = logging.getLogger(__name__)

#: Error codes Stripe returns with a 4xx that mean "not now", not "no".
#: `lock_timeout`: another request holds the object; `rate_limit`: too many
#: requests (also sent as 429); `idempotency_key_in_use`: a request with the
#: same key is still running (a 409 that resolves by itself).
TRANSIENT_CODES = frozenset({"lock_timeout", "rate_limit", "idempotency_key_in_use"})


class StripeUnavailable(AppError):
    """Transient: Stripe could not answer now (connection, timeout, 5xx, 429, lock_timeout)."""

    code = "unavailable"
    status = 503
    default_message = "The payment provider is unavailable; try again shortly"


class StripeRejected(AppError):
    """Permanent: Stripe understood the request and said no; repeating it changes nothing.

    Everything that is not transient: 400 invalid requests (an amount Stripe
    will not charge, an intent in a state that cannot be cancelled, a refund
    larger than the charge), 401/403 (our key is wrong or lacks permission:
    only an operator can fix it), 402 (a declined card, on calls that confirm),
    404 (the object is gone or belongs to another account) and 409
    `idempotency_error` (the key was used with other parameters). Retrying any
    of them would send the same request for the same refusal, so the payment
    is flagged for an admin instead (`attention`).
    """

    code = "payment_provider_error"
    status = 502
    default_message = "The payment provider refused the request"


class CardRefused(StripeRejected):
    """An off-session charge the bank would not take without the buyer (a 402 card error).

    Stripe answers `authentication_required` (3-D Secure wanted) or a decline
    (`card_declined`, `expired_card`, ...). The PaymentIntent exists and stays
    payable on-session: `intent` is it, as Stripe returned it with the error.
    """

    code = "card_refused"
    status = 402

    def __init__(self, message: str, *, stripe_code: str, intent: dict[str, Any] | None) -> None:
        super().__init__(message, details={"stripe_code": stripe_code})
        self.stripe_code = stripe_code
        self.intent = intent


def classify(error: stripe.StripeError, what: str) -> StripeUnavailable | StripeRejected:
    """Our error for one of Stripe's: transient or permanent, as documented on each class."""
    status = error.http_status or 0
    code = getattr(error, "code", None) or ""
    if (
        isinstance(error, stripe.APIConnectionError | stripe.RateLimitError)
        or status == 0
        or status == 429
        or status >= 500
        or code in TRANSIENT_CODES
    ):
        detail = f"{type(error).__name__} {status or ''} {code}".strip()
        return StripeUnavailable(f"Stripe unavailable during {what}: {detail}")
    return StripeRejected(
        f"Stripe refused {what}: {error.user_message or code or status}",
        details={"stripe_code": code or "stripe_error", "stripe_status": status},
    )


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        base_addresses: dict[str, str] = {}
        if settings.stripe_api_base:
            base = settings.stripe_api_base.rstrip("/")
            base_addresses = {"api": base, "connect": base, "files": base}
        self._timeout = settings.stripe_timeout_seconds
        self._background_timeout = min(
            settings.stripe_timeout_seconds, settings.stripe_background_timeout_seconds
        )
        self._http = stripe.AIOHTTPClient(timeout=self._timeout)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            http_client=self._http,
            max_network_retries=0,  # our own jobs retry, with the same idempotency key
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(self, what: str, coro: Any, *, background: bool = False) -> Any:
        timeout = self._background_timeout if background else self._timeout + 1
        try:
            async with asyncio.timeout(timeout):
                return await coro
        except TimeoutError:
            raise StripeUnavailable(f"Stripe timed out during {what}") from None
        except stripe.CardError as exc:
            raise _card_refused(exc, what) from None
        except stripe.StripeError as exc:
            raise classify(exc, what) from None

    async def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        background: bool = False,
        off_session: tuple[str, str] | None = None,
    ) -> Any:
        """A PaymentIntent; with `off_session=(customer, payment_method)`, confirmed at once.

        Off-session, a card the bank refuses without the buyer raises `CardRefused`
        carrying the intent, which stays payable on-session.
        """
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "metadata": metadata,
            "payment_method_types": ["card"],
            "capture_method": "automatic",
        }
        if off_session is not None:
            params["customer"], params["payment_method"] = off_session
            params["off_session"] = True
            params["confirm"] = True
        return await self._call(
            "PaymentIntent creation",
            self.client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            ),
            background=background,
        )

    async def retrieve_payment_intent(self, intent_id: str, *, background: bool = False) -> Any:
        return await self._call(
            "PaymentIntent retrieval",
            self.client.v1.payment_intents.retrieve_async(intent_id, {"expand": ["latest_charge"]}),
            background=background,
        )

    async def retrieve_charge(self, charge_id: str, *, background: bool = False) -> Any:
        """A charge, for what the intent's webhook names only by id (its card summary)."""
        return await self._call(
            "charge retrieval",
            self.client.v1.charges.retrieve_async(charge_id),
            background=background,
        )

    async def cancel_payment_intent(
        self, intent_id: str, *, idempotency_key: str, background: bool = False
    ) -> Any:
        return await self._call(
            "PaymentIntent cancellation",
            self.client.v1.payment_intents.cancel_async(
                intent_id,
                {"cancellation_reason": "abandoned"},
                options={"idempotency_key": idempotency_key},
            ),
            background=background,
        )

    async def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        metadata: dict[str, str],
        idempotency_key: str,
        background: bool = False,
    ) -> Any:
        return await self._call(
            "refund",
            self.client.v1.refunds.create_async(
                {"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            ),
            background=background,
        )

    # --- customers and saved cards ---------------------------------------------------------

    async def create_customer(
        self, *, user_id: str, email: str | None, name: str | None, idempotency_key: str
    ) -> Any:
        params: dict[str, Any] = {"metadata": {"user_id": user_id}}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        return await self._call(
            "Customer creation",
            self.client.v1.customers.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            ),
        )

    async def create_setup_intent(
        self, *, customer: str, user_id: str, idempotency_key: str
    ) -> Any:
        """A SetupIntent that saves a card for charges made without the buyer (off-session)."""
        return await self._call(
            "SetupIntent creation",
            self.client.v1.setup_intents.create_async(
                {  # type: ignore[arg-type]
                    "customer": customer,
                    "usage": "off_session",
                    "payment_method_types": ["card"],
                    "metadata": {"user_id": user_id},
                },
                options={"idempotency_key": idempotency_key},
            ),
        )

    async def retrieve_setup_intent(self, setup_intent_id: str) -> Any:
        return await self._call(
            "SetupIntent retrieval", self.client.v1.setup_intents.retrieve_async(setup_intent_id)
        )

    async def retrieve_payment_method(
        self, payment_method_id: str, *, background: bool = False
    ) -> Any:
        return await self._call(
            "PaymentMethod retrieval",
            self.client.v1.payment_methods.retrieve_async(payment_method_id),
            background=background,
        )

    async def detach_payment_method(self, payment_method_id: str) -> Any:
        return await self._call(
            "PaymentMethod detachment",
            self.client.v1.payment_methods.detach_async(payment_method_id),
        )


def _card_refused(error: stripe.CardError, what: str) -> CardRefused:
    """Our `CardRefused` for a 402, with the intent Stripe returned alongside the error."""
    body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
    found = body.get("error")
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    intent = detail.get("payment_intent")
    code = detail.get("code") or getattr(error, "code", None) or "card_declined"
    return CardRefused(
        f"Stripe refused {what}: {error.user_message or code}",
        stripe_code=str(code),
        intent=intent if isinstance(intent, dict) else None,
    )
