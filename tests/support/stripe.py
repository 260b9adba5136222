"""Acting as the browser (Stripe.js) and as Stripe (signed webhooks) in tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import aiohttp

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000000000003220"


async def confirm_card(
    standin_url: str, info: dict[str, Any], number: str = CARD_OK
) -> tuple[int, dict[str, Any]]:
    """What Stripe.js does in the buyer's browser: confirm with the client secret."""
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    return await _confirm_payment(
        standin_url, info, payment_method_data={"type": "card", "card": card}
    )


async def authenticate_3ds(standin_url: str, info: dict[str, Any], *, success: bool = True):
    intent_id = info["client_secret"].split("_secret_")[0]
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin_url}/v1/payment_intents/{intent_id}/_authenticate"
            f"?success={'true' if success else 'false'}",
            json={"key": info["publishable_key"], "client_secret": info["client_secret"]},
        ) as response,
    ):
        return response.status, await response.json()


async def get_intent(standin_url: str, intent_id: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{standin_url}/v1/payment_intents/{intent_id}",
            headers={"Authorization": "Bearer sk_test_tests"},
        ) as response,
    ):
        assert response.status == 200
        return await response.json()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def intent_object(
    payment: dict[str, Any] | None = None,
    *,
    intent_id: str,
    status: str,
    amount: int,
    currency: str,
    payment_id: int | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "status": status,
        "amount": amount,
        "currency": currency,
        "metadata": {"payment_id": str(payment_id)} if payment_id is not None else {},
        "last_payment_error": error,
    }


async def deliver(
    server: Any, body: dict[str, Any] | bytes, *, secret: str, header: str | None = None
) -> tuple[int, Any]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": header if header is not None else sign(payload, secret),
    }
    return await server.request("POST", "/api/payments/webhook", data=payload, headers=headers)


CARD_OFF_SESSION_3DS = "4000002500003155"


async def confirm_setup(
    standin_url: str,
    setup: dict[str, Any],
    number: str = CARD_OK,
    *,
    exp_month: int = 12,
    exp_year: int = 2034,
) -> tuple[int, dict[str, Any]]:
    """What Stripe.js `confirmCardSetup` does in the browser: card data to Stripe, not to us."""
    card = {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": "123"}
    return await _confirm_setup(
        standin_url, setup, payment_method_data={"type": "card", "card": card}
    )


async def complete_setup_3ds(standin_url: str, setup: dict[str, Any]) -> dict[str, Any]:
    """The bank's 3-D Secure page says yes: Stripe.js confirms the SetupIntent again."""
    status, intent = await _confirm_setup(standin_url, setup)
    assert status == 200
    return intent


async def _confirm_setup(
    standin_url: str, setup: dict[str, Any], **fields: Any
) -> tuple[int, dict[str, Any]]:
    setup_id = setup["client_secret"].split("_secret_")[0]
    body = {
        "key": setup["publishable_key"],
        "use_stripe_sdk": True,
        "client_secret": setup["client_secret"],
        **fields,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin_url}/v1/setup_intents/{setup_id}/confirm", data=json.dumps(body)
        ) as response,
    ):
        return response.status, await response.json()


async def confirm_saved_card(
    standin_url: str, info: dict[str, Any], payment_method: str
) -> tuple[int, dict[str, Any]]:
    """Stripe.js `confirmCardPayment(secret, {payment_method})`: pay with the card on file."""
    return await _confirm_payment(standin_url, info, payment_method=payment_method)


async def _confirm_payment(
    standin_url: str, info: dict[str, Any], **fields: Any
) -> tuple[int, dict[str, Any]]:
    """Confirm a PaymentIntent with its client secret, as Stripe.js does, and `fields`."""
    intent_id = info["client_secret"].split("_secret_")[0]
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin_url}/v1/payment_intents/{intent_id}/confirm",
            json={
                "key": info["publishable_key"],
                "client_secret": info["client_secret"],
                **fields,
            },
        ) as response,
    ):
        return response.status, await response.json()


async def stand_in(standin_url: str, method: str, path: str, **data: Any) -> dict[str, Any]:
    """Act on the stand-in as Stripe's dashboard would (secret key)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{standin_url}{path}",
            data=data or None,
            headers={"Authorization": "Bearer sk_test_tests"},
        ) as response,
    ):
        return await response.json()
