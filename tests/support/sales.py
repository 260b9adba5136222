"""Arranging sales through the real API: a won lot awaiting payment, and a paid one."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import func, text, update

from server.payments.models import Payment
from tests.support import stripe as fake_browser
from tests.support.clients import SocketClient
from tests.support.factories import bid, create_lot

#: What an admin uses to talk to the stand-in as our server does (any sk_ key works there).
STANDIN_KEY = {"Authorization": "Bearer sk_test_tests"}


async def connect(server: Any, sub: str, role: str = "bidder", **claims: Any) -> SocketClient:
    """A socket for `sub` whose token carries `claims` (e.g. `email`)."""
    client = SocketClient(server.url, server.make_token(sub, role, **claims))
    server._sockets.append(client)
    return await client.connect()


async def won_lot(
    server: Any,
    *,
    buyer: str | SocketClient = "alice",
    amount: int = 10_000,
    currency: str = "usd",
    title: str = "Lot",
    seller: str = "sam",
    **lot_fields: Any,
) -> tuple[dict[str, Any], dict[str, Any], SocketClient]:
    """A lot won by `buyer` with one bid of `amount`: (lot, PaymentInfo, buyer's socket)."""
    lot = await create_lot(
        server,
        seller=seller,
        title=title,
        currency=currency,
        starting_price=amount,
        **lot_fields,
    )
    client = buyer if isinstance(buyer, SocketClient) else await server.socket(buyer)
    ack = await client.call("place_bid", bid(lot["id"], amount))
    assert ack["ok"], ack
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user=seller, role="seller"
    )
    assert (status, closed["status"]) == (200, "PENDING_PAYMENT"), closed
    info = await client.wait_for("payment_required", lambda e: e["lot_id"] == lot["id"])
    return lot, info, client


async def pay(
    standin_url: str, info: dict[str, Any], client: SocketClient, card: str = fake_browser.CARD_OK
) -> dict[str, Any]:
    """Confirm like Stripe.js and wait for our server to announce the success."""
    status, intent = await fake_browser.confirm_card(standin_url, info, card)
    assert (status, intent["status"]) == (200, "succeeded"), intent
    return await client.wait_for(
        "payment_succeeded", lambda e: e["payment_id"] == info["payment_id"], timeout=10
    )


async def sold_lot(
    server: Any, standin_url: str, **options: Any
) -> tuple[dict[str, Any], dict[str, Any], SocketClient]:
    """A lot won and paid for with 4242: (lot, PaymentInfo, buyer's socket)."""
    lot, info, client = await won_lot(server, **options)
    await pay(standin_url, info, client)
    return lot, info, client


async def end_window(db: Any, payment_id: int) -> None:
    """Move a payment's window end into the past, so its expiry is due now."""
    async with db.engine.begin() as conn:
        await conn.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(expires_at=func.now() - text("interval '1 second'"))
        )


def intent_id(info: dict[str, Any]) -> str:
    return str(info["client_secret"].split("_secret_")[0])


async def standin(standin_url: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """Call the Stripe stand-in with a secret key, as Stripe's dashboard or our server would."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, standin_url + path, headers=STANDIN_KEY, **kwargs) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body


async def drop_webhooks(standin_url: str, secret: str) -> None:
    """Point the stand-in's webhook at a closed port: every delivery is lost."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin_url}/_config/webhooks/test",
            data={"url": "http://127.0.0.1:9/", "secret": secret},
        ) as response,
    ):
        assert response.status == 200, await response.text()
