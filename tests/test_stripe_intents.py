"""Which intents pay for what: matched by id only (issue 18.1), one intent per payment
whatever the concurrency (18.3), and a second-chance offer the buyer declines (SPEC 12.5)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select

from server.auctions.models import Lot
from server.payments.models import Payment, PaymentIntentRecord, Refund, StripeEvent
from server.users.models import User
from tests.conftest import METRICS_AUTH, WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot
from tests.support.sales import STANDIN_KEY, drop_webhooks, intent_id, standin, won_lot
from tests.support.services import wait_for
from tests.support.stripe import deliver, event
from tests.support.stripe_proxy import StripeProxy


async def _payment(db, payment_id) -> Payment:
    async with db.sessions() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        return payment


async def _foreign_intent(localstripe, *, amount, currency, metadata) -> dict:
    """An intent made on the same Stripe account by someone else, paid with a real card."""
    created = await standin(
        localstripe.url,
        "POST",
        "/v1/payment_intents",
        data={
            "amount": amount,
            "currency": currency,
            "payment_method_types[]": "card",
            **{f"metadata[{k}]": v for k, v in metadata.items()},
        },
    )
    status, paid = await fake_browser.confirm_card(
        localstripe.url,
        {"client_secret": created["client_secret"], "publishable_key": "pk_test_x"},
    )
    assert (status, paid["status"]) == (200, "succeeded"), paid
    return paid


async def _unmatched_metric(server, reason) -> float:
    _status, text = await server.request("GET", "/metrics", headers=METRICS_AUTH)
    prefix = f'auction_webhook_unmatched_total{{reason="{reason}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


async def test_a_success_for_an_intent_we_never_created_pays_for_nothing(server, db, localstripe):
    """Signed by Stripe, right amount, metadata naming our pending payment: still not ours."""
    lot, info, alice = await won_lot(server, amount=5000)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    foreign = await _foreign_intent(
        localstripe,
        amount=info["amount"],
        currency=info["currency"],
        metadata={"payment_id": str(info["payment_id"]), "lot_id": str(lot["id"])},
    )
    status, answer = await deliver(
        server, event("payment_intent.succeeded", foreign), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "ignored")
    payment = await _payment(db, info["payment_id"])
    assert (payment.status, payment.paid_at, payment.receipt_number) == (
        "REQUIRES_PAYMENT",
        None,
        None,
    )
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "PENDING_PAYMENT"
        outcomes = (await session.scalars(select(StripeEvent.outcome))).all()
    assert outcomes == ["ignored"]
    assert alice.events["payment_succeeded"] == []
    assert await _unmatched_metric(server, "unknown_intent") == 1


async def test_another_buyers_real_intent_naming_this_payment_is_ignored(server, db, localstripe):
    """Bob's own intent, paid, with Alice's payment_id in its metadata: it pays for neither."""
    _lot_a, alice_info, _alice = await won_lot(server, buyer="alice", amount=5000)
    _lot_b, bob_info, _bob = await won_lot(server, buyer="bob", amount=5000, title="B")
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    status, paid = await fake_browser.confirm_card(localstripe.url, bob_info)
    assert paid["status"] == "succeeded"
    forged = {**paid, "metadata": {**paid["metadata"], "payment_id": str(alice_info["payment_id"])}}
    status, answer = await deliver(
        server, event("payment_intent.succeeded", forged), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "ignored")
    for info in (alice_info, bob_info):
        assert (await _payment(db, info["payment_id"])).status == "REQUIRES_PAYMENT"
    assert await _unmatched_metric(server, "metadata_mismatch") == 1
    # Bob's genuine event still pays for Bob's lot.
    status, answer = await deliver(
        server, event("payment_intent.succeeded", paid), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "applied")
    assert (await _payment(db, bob_info["payment_id"])).status == "SUCCEEDED"


async def test_a_success_on_an_intent_we_created_and_replaced_is_refunded(server, db, localstripe):
    """An intent we created for the payment but did not keep is still ours: its money goes
    back, and the payment itself is untouched."""
    _lot, info, _alice = await won_lot(server, amount=5000)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    replaced = await _foreign_intent(
        localstripe,
        amount=info["amount"],
        currency=info["currency"],
        metadata={"payment_id": str(info["payment_id"])},
    )
    async with db.sessions() as session:
        session.add(PaymentIntentRecord(id=replaced["id"], payment_id=info["payment_id"]))
        await session.commit()
    status, answer = await deliver(
        server, event("payment_intent.succeeded", replaced), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "late_refunded")

    async def sent():
        async with db.sessions() as session:
            refund = await session.scalar(select(Refund))
            return refund if refund is not None and refund.stripe_refund_id else None

    refund = await wait_for(sent, timeout=5)
    assert (refund.amount, refund.stripe_payment_intent_id) == (info["amount"], replaced["id"])
    payment = await _payment(db, info["payment_id"])
    assert (payment.status, payment.refunded_amount) == ("REQUIRES_PAYMENT", 0)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{localstripe.url}/v1/refunds/{refund.stripe_refund_id}", headers=STANDIN_KEY
        ) as response,
    ):
        at_stripe = await response.json()
    assert at_stripe["payment_intent"] == replaced["id"]


@pytest.fixture
async def unkeyed_proxy(localstripe):
    """A Stripe that ignores idempotency keys, as localstripe does, that counts requests."""
    proxy = StripeProxy(upstream=localstripe.url, replay=False)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_racing_create_intent_calls_create_one_intent(start_server, db, unkeyed_proxy):
    """Issue 18.3: five concurrent `create-intent` for one payment while nothing else holds
    it: Stripe is asked once, and the payment has one intent."""
    server = await start_server(
        stripe_api_base=unkeyed_proxy.url,
        sweep_interval_seconds=60,  # nothing but the buyer's requests retries
        stripe_retry_base_seconds=0.1,
    )
    unkeyed_proxy.fail_next_creations(1)  # the creation at the close fails: CREATING, due
    lot = await create_lot(server, starting_price=5000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 5000)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    await wait_for(lambda: unkeyed_proxy.count("POST", "/v1/payment_intents") == 1)
    await asyncio.sleep(0.3)
    unkeyed_proxy.fail_next_creations(1, mode="slow", delay=0.5)  # Stripe takes its time
    answers = await asyncio.gather(
        *(
            server.request(
                "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
            )
            for _ in range(6)
        )
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 503}, answers
    assert unkeyed_proxy.count("POST", "/v1/payment_intents") == 2  # the failed one, then one
    async with db.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.lot_id == lot["id"]))
        records = await session.scalar(select(func.count()).select_from(PaymentIntentRecord))
    assert payment.status == "REQUIRES_PAYMENT" and records == 1
    # And the buyer, asking again, gets that same intent.
    status, info = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
    )
    assert status == 200 and intent_id(info) == payment.stripe_payment_intent_id


async def test_a_buyer_declines_a_second_chance_offer(start_server, db, localstripe):
    """SPEC 12.5: no strike, the intent is canceled, the next bidder is offered the lot."""
    server = await start_server()
    lot = await create_lot(server, starting_price=1000)
    sockets = {name: await server.socket(name) for name in ("carol", "bob", "alice")}
    for name, amount in (("carol", 1000), ("bob", 2000), ("alice", 5000)):
        assert (await sockets[name].call("place_bid", bid(lot["id"], amount)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    first = await sockets["alice"].wait_for("payment_required")
    status, answer = await server.request(
        "POST", f"/api/payments/{first['payment_id']}/decline", as_user="alice"
    )
    assert (status, answer["error"]["code"]) == (409, "not_second_chance")
    status, _ = await server.request(
        "POST", f"/api/admin/payments/{first['payment_id']}/release", as_user="root", role="admin"
    )
    assert status == 200
    second = await sockets["bob"].wait_for("payment_required", timeout=8)
    assert second["offer_number"] == 2
    for stranger, role in (("carol", "bidder"), ("alice", "bidder")):
        status, answer = await server.request(
            "POST", f"/api/payments/{second['payment_id']}/decline", as_user=stranger, role=role
        )
        assert (status, answer["error"]["code"]) == (404, "not_found")
    status, record = await server.request(
        "POST", f"/api/payments/{second['payment_id']}/decline", as_user="bob"
    )
    assert status == 200, record
    assert (record["status"], record["end_reason"]) == ("CANCELED", "declined")
    intent = await fake_browser.get_intent(localstripe.url, intent_id(second))
    assert intent["status"] == "canceled"
    async with db.sessions() as session:
        assert (await session.get(User, "bob")).strikes == 0
    third = await sockets["carol"].wait_for("payment_required", timeout=5)
    assert third["offer_number"] == 3 and third["lot_id"] == lot["id"]
    status, answer = await server.request(
        "POST", f"/api/payments/{second['payment_id']}/decline", as_user="bob"
    )
    assert (status, answer["error"]["code"]) == (409, "no_pending_payment")
