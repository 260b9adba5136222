"""AUTO_CHARGE (SPEC section 14): at the close, a winner with a card on file is charged
off-session; a bank that wants the buyer (3-D Secure) or declines hands the same
PaymentIntent over to today's on-session window, with `reason`.

Against the real stand-in through our launcher, which answers off-session charges as
Stripe does (a 402 `authentication_required` for 4000 0025 0000 3155, `card_declined`
for 4000 0000 0000 0341, each carrying the intent) and sends their
`payment_intent.payment_failed` itself. Where a test needs an event at a moment the
stand-in cannot choose (the refusal's echo arriving after our commit), it signs the
event with the webhook secret itself (tests/support/stripe.py), and says so.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import select

from server.auctions.models import Lot
from server.notifications.models import OutboxMessage
from server.payments.models import Payment, PaymentAttempt, StripeEvent
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.cards import save_card
from tests.support.factories import bid, create_lot
from tests.support.stripe import deliver, event
from tests.support.webhook_hold import WebhookHold

CARD_3DS_OFF_SESSION = "4000002500003155"
CARD_DECLINED_ON_CHARGE = "4000000000000341"


async def _win(server, who, amount=5000, **lot_fields):
    lot = await create_lot(server, starting_price=1000, **lot_fields)
    client = await server.socket(who, email=f"{who}@example.com")
    assert (await client.call("place_bid", bid(lot["id"], amount)))["ok"]
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200, closed
    return lot, client


async def _payment(db, lot_id, *, until=None, timeout=20.0):
    for _ in range(int(timeout / 0.05)):
        async with db.sessions() as session:
            payment = await session.scalar(
                select(Payment).where(Payment.lot_id == lot_id).order_by(Payment.id.desc())
            )
        if payment is not None and (until is None or until(payment)):
            return payment
        await asyncio.sleep(0.05)
    raise AssertionError(f"lot {lot_id}: payment never got there: {payment and payment.status}")


async def _emails(db, recipient):
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_id == recipient)
        )
        return [(row.topic, row.subject, row.body) for row in rows]


async def _event(db, event_type, object_id, timeout=20.0):
    for _ in range(int(timeout / 0.05)):
        async with db.sessions() as session:
            row = await session.scalar(
                select(StripeEvent).where(
                    StripeEvent.type == event_type, StripeEvent.object_id == object_id
                )
            )
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event_type} about {object_id}")


@pytest.fixture
async def webhook_hold():
    hold = WebhookHold()
    await hold.start()
    yield hold
    await hold.stop()


async def _intent(localstripe, intent_id):
    return await fake_browser.get_intent(localstripe.url, intent_id)


async def test_a_saved_card_is_charged_at_the_hammer_with_no_action_from_the_buyer(
    server, db, localstripe, webhook_hold
):
    card = await save_card(server, localstripe.url, "alice")
    # Stripe's events about the charge reach us once its answer is applied (below), not
    # when the stand-in's second is up: that would race our commit on a busy machine.
    await webhook_hold.take_over(localstripe.url, WEBHOOK_SECRET)
    lot, alice = await _win(server, "alice")
    succeeded = await alice.wait_for("payment_succeeded", timeout=20)
    payment = await _payment(db, lot["id"], until=lambda p: p.status == "SUCCEEDED")
    assert succeeded["payment_id"] == payment.id
    assert alice.events["payment_required"] == []  # nothing asked of the buyer
    intent = await _intent(localstripe, payment.stripe_payment_intent_id)
    assert (intent["status"], intent["payment_method"]) == ("succeeded", card["id"])
    assert intent["customer"] is not None and intent["amount"] == payment.amount
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "SOLD"
    # Stripe's own payment_intent.succeeded, after the answer was applied: once only.
    await webhook_hold.wait_for("payment_intent.succeeded")
    for event_type, status, answer in await webhook_hold.release(server):
        assert status == 200, (event_type, answer)
    webhook = await _event(db, "payment_intent.succeeded", payment.stripe_payment_intent_id)
    assert webhook.outcome == "duplicate"
    receipts = [e for e in await _emails(db, "alice") if e[0] == "receipt"]
    assert len(receipts) == 1 and receipts[0][1].startswith("We charged your card for")
    assert "Visa ending in 4242" in receipts[0][2]
    assert [e for e in await _emails(db, "alice") if e[0] == "payment_required"] == []
    # The buyer's own records say paid.
    status, mine = await server.request("GET", f"/api/payments/{payment.id}", as_user="alice")
    assert status == 200 and mine["status"] == "SUCCEEDED" and mine["receipt_url"]


async def test_a_bank_that_wants_3ds_hands_the_same_intent_to_the_buyer(server, db, localstripe):
    card = await save_card(server, localstripe.url, "bob", CARD_3DS_OFF_SESSION)
    lot, bob = await _win(server, "bob")
    info = await bob.wait_for("payment_required", timeout=20)
    assert info["reason"] == "authentication_required"
    assert info["attempts_left"] == 3 and info["expires_at"] is not None
    payment = await _payment(db, lot["id"])
    assert payment.status == "REQUIRES_PAYMENT"
    assert info["client_secret"].startswith(payment.stripe_payment_intent_id)
    intent = await _intent(localstripe, payment.stripe_payment_intent_id)
    assert intent["status"] == "requires_payment_method"
    assert intent["customer"] is not None  # the off-session intent itself, not a new one
    action = [e for e in await _emails(db, "bob") if e[0] == "payment_required"]
    assert len(action) == 1 and action[0][1].startswith("Action needed: pay for")
    assert f"/lots/{lot['id']}" in action[0][2]

    # The stand-in's payment_intent.payment_failed about the refusal: not an attempt.
    echo = await _event(db, "payment_intent.payment_failed", payment.stripe_payment_intent_id)
    assert echo.outcome == "ignored"
    assert (await _payment(db, lot["id"])).attempts == 0

    # The buyer authenticates with the card on file (Stripe.js confirmCardPayment).
    status, confirmed = await fake_browser.confirm_saved_card(localstripe.url, info, card["id"])
    assert (status, confirmed["status"]) == (200, "requires_action"), confirmed
    status, done = await fake_browser.authenticate_3ds(localstripe.url, info)
    assert (status, done["status"]) == (200, "succeeded"), done
    await bob.wait_for("payment_succeeded", timeout=20)
    payment = await _payment(db, lot["id"], until=lambda p: p.status == "SUCCEEDED")
    assert payment.attempts == 0  # the off-session refusal is not one of the buyer's attempts
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "SOLD"
    receipts = [e for e in await _emails(db, "bob") if e[0] == "receipt"]
    assert len(receipts) == 1 and receipts[0][1].startswith("Receipt ")


async def test_a_declined_card_falls_back_to_the_window_and_another_card_pays(
    server, db, localstripe
):
    card = await save_card(server, localstripe.url, "carol", CARD_DECLINED_ON_CHARGE)
    lot, carol = await _win(server, "carol")
    info = await carol.wait_for("payment_required", timeout=20)
    assert info["reason"] == "card_declined" and info["attempts_left"] == 3
    payment = await _payment(db, lot["id"])
    # The refusal's echo (payment_intent.payment_failed naming the card on file), signed by
    # us so that it surely arrives after our commit: recognised, not counted.
    echo = event(
        "payment_intent.payment_failed",
        {
            "id": payment.stripe_payment_intent_id,
            "object": "payment_intent",
            "status": "requires_payment_method",
            "amount": payment.amount,
            "currency": payment.currency,
            "metadata": {"payment_id": str(payment.id)},
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "payment_method": {"id": card["id"]},
            },
        },
    )
    status, answer = await deliver(server, echo, secret=WEBHOOK_SECRET)
    assert (status, answer["outcome"]) == (200, "ignored"), answer
    status, paid = await fake_browser.confirm_card(localstripe.url, info, fake_browser.CARD_OK)
    assert (status, paid["status"]) == (200, "succeeded"), paid
    await carol.wait_for("payment_succeeded", timeout=20)
    payment = await _payment(db, lot["id"], until=lambda p: p.status == "SUCCEEDED")
    assert payment.attempts == 0 and payment.card_last4 == "4242"
    async with db.sessions() as session:
        outcomes = (
            await session.scalars(
                select(PaymentAttempt.outcome)
                .where(PaymentAttempt.payment_id == payment.id)
                .order_by(PaymentAttempt.id)
            )
        ).all()
    assert outcomes == ["off_session", "succeeded"]


async def _hear_only(localstripe, server, events):
    """The stand-in sends us only these event types: Stripe changes we do not hear of."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{localstripe.url}/_config/webhooks/test",
            json={
                "url": f"{server.url}/api/payments/webhook",
                "secret": WEBHOOK_SECRET,
                "events": events,
            },
        ) as response,
    ):
        assert response.status == 200


async def test_a_card_gone_at_stripe_falls_back_to_the_window_and_never_crashes(
    server, db, localstripe
):
    """Detached, or its Customer deleted, at Stripe without our hearing of it (the
    stand-in is told not to send those events); or expired here: the buyer pays on-session."""
    dave = await save_card(server, localstripe.url, "dave")
    await save_card(server, localstripe.url, "erin")
    await save_card(server, localstripe.url, "fay", exp_month=1, exp_year=2020)
    async with db.sessions() as session:
        erin_customer = await session.scalar(
            select(User.stripe_customer_id).where(User.id == "erin")
        )
    await _hear_only(
        localstripe,
        server,
        ["payment_intent.succeeded", "payment_intent.payment_failed", "setup_intent.succeeded"],
    )
    await fake_browser.stand_in(localstripe.url, "POST", f"/v1/payment_methods/{dave['id']}/detach")
    await fake_browser.stand_in(localstripe.url, "DELETE", f"/v1/customers/{erin_customer}")
    for who, reason in (("dave", "card_declined"), ("erin", "card_declined"), ("fay", None)):
        lot, client = await _win(server, who)
        info = await client.wait_for("payment_required", timeout=20)
        assert info["reason"] == reason, (who, info)
        payment = await _payment(db, lot["id"])
        intent = await _intent(localstripe, payment.stripe_payment_intent_id)
        assert intent["customer"] is None  # a plain on-session intent
        status, paid = await fake_browser.confirm_card(localstripe.url, info)
        assert (status, paid["status"]) == (200, "succeeded"), (who, paid)
        await _payment(db, lot["id"], until=lambda p: p.status == "SUCCEEDED")


async def test_the_next_bidder_offered_the_lot_is_charged_on_their_card(
    start_server, db, localstripe
):
    server = await start_server(payment_window_seconds=2)
    await save_card(server, localstripe.url, "gus")
    lot = await create_lot(server, starting_price=1000)
    gus = await server.socket("gus")
    hal = await server.socket("hal")
    assert (await gus.call("place_bid", bid(lot["id"], 2000)))["ok"]
    assert (await hal.call("place_bid", bid(lot["id"], 3000)))["ok"]  # hal has no card
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    first = await hal.wait_for("payment_required", timeout=20)
    assert first["reason"] is None  # no card on file: today's window
    await hal.wait_for("payment_expired", timeout=30)
    succeeded = await gus.wait_for("payment_succeeded", timeout=30)
    payment = await _payment(db, lot["id"], until=lambda p: p.status == "SUCCEEDED")
    assert (payment.buyer_id, payment.offer_number, succeeded["payment_id"]) == (
        "gus",
        2,
        payment.id,
    )
    assert gus.events["payment_required"] == []


async def test_auto_charge_off_leaves_the_buyer_to_pay(start_server, db, localstripe):
    server = await start_server(auto_charge=False)
    await save_card(server, localstripe.url, "ivy")
    lot, ivy = await _win(server, "ivy")
    info = await ivy.wait_for("payment_required", timeout=20)
    assert info["reason"] is None
    payment = await _payment(db, lot["id"])
    assert payment.auto_charge_method is None
    intent = await _intent(localstripe, payment.stripe_payment_intent_id)
    assert intent["customer"] is None and intent["status"] == "requires_payment_method"
