"""Races at the heart of payments: the window's end against a success, Stripe outages,
and a crash between Stripe's answer and our commit. Each ends in exactly one outcome,
with Stripe and our database agreeing."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from server.auctions.models import Lot
from server.payments.models import Payment, Refund
from server.sales import window
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.crash import crash_once_on_saving_the_intent
from tests.support.factories import bid, create_lot
from tests.support.sales import end_window, standin
from tests.support.stripe import deliver, event


async def _win(server, who="alice", amount=5000):
    lot = await create_lot(server, starting_price=1000)
    client = await server.socket(who)
    assert (await client.call("place_bid", bid(lot["id"], amount)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    return lot, client


async def _settled(db, payment_id, timeout=8.0):
    for _ in range(int(timeout / 0.05)):
        async with db.sessions() as session:
            payment = await session.get(Payment, payment_id)
            if payment.status in ("SUCCEEDED", "EXPIRED"):
                return payment
        await asyncio.sleep(0.05)
    raise AssertionError(f"payment {payment_id} did not settle: {payment.status}")


async def test_the_window_end_racing_a_success_webhook_applies_once(server, db, localstripe):
    """The intent really succeeded; the expiry job and the webhook race to report it."""
    for round_number in range(15):
        lot, alice = await _win(server, amount=5000 + round_number)
        info = await alice.wait_for("payment_required", lambda e, lot=lot: e["lot_id"] == lot["id"])
        _status, result = await fake_browser.confirm_card(localstripe.url, info)
        assert result["status"] == "succeeded"
        await end_window(db, info["payment_id"])
        intent = await fake_browser.get_intent(localstripe.url, result["id"])
        success = event("payment_intent.succeeded", intent)
        await asyncio.gather(
            window.expire_payment_window(server.context, info["payment_id"]),
            deliver(server, success, secret=WEBHOOK_SECRET),
            window.expire_payment_window(server.context, info["payment_id"]),
        )
        payment = await _settled(db, info["payment_id"])
        async with db.sessions() as session:
            final = await session.get(Lot, lot["id"])
        assert (payment.status, final.status) == ("SUCCEEDED", "SOLD"), round_number
    await asyncio.sleep(1.5)  # localstripe's own deliveries arrive as duplicates
    for client in server._sockets:
        by_payment = [e["payment_id"] for e in client.events["payment_succeeded"]]
        assert len(by_payment) == len(set(by_payment))


async def test_a_buyer_paying_at_the_deadline_ends_in_one_agreed_outcome(
    start_server, db, localstripe
):
    """Pay around the moment the window lapses, many times over: either the sale stands
    and Stripe charged, or the payment expired and Stripe holds a canceled intent."""
    server = await start_server(payment_window_seconds=1, sweep_interval_seconds=0.1)
    rng = random.Random(11)
    wins = [await _win(server, who=f"buyer{i}", amount=2000 + i) for i in range(10)]
    infos = [await client.wait_for("payment_required") for _, client in wins]

    async def pay_near_the_deadline(info):
        await asyncio.sleep(rng.uniform(0.7, 1.3))
        return await fake_browser.confirm_card(localstripe.url, info)

    await asyncio.gather(*(pay_near_the_deadline(info) for info in infos))
    outcomes = []
    for info in infos:
        payment = await _settled(db, info["payment_id"])
        await asyncio.sleep(0)
        intent = await fake_browser.get_intent(localstripe.url, payment.stripe_payment_intent_id)
        outcomes.append((payment.status, intent["status"]))
        if payment.status == "SUCCEEDED":
            assert intent["status"] == "succeeded"
        else:
            assert payment.status == "EXPIRED"
            assert intent["status"] in ("canceled", "succeeded")
            if intent["status"] == "succeeded":  # money taken after expiry goes back
                async with db.sessions() as session:
                    refunds = (
                        await session.scalars(select(Refund).where(Refund.payment_id == payment.id))
                    ).all()
                assert [r.amount for r in refunds] == [payment.amount]
    assert {status for status, _ in outcomes} <= {"SUCCEEDED", "EXPIRED"}


async def _intents_for(localstripe, payment_id):
    listing = await standin(localstripe.url, "GET", "/v1/payment_intents?limit=100")
    return [i for i in listing["data"] if i["metadata"].get("payment_id") == str(payment_id)]


@pytest.mark.parametrize("mode", ["error", "slow"])
async def test_stripe_outages_during_creation_lead_to_one_intent(
    start_server, db, localstripe, proxy, mode
):
    server = await start_server(
        stripe_api_base=proxy.url, stripe_timeout_seconds=0.5, stripe_retry_base_seconds=0.2
    )
    proxy.fail_next_creations(3, mode=mode, delay=1.0)
    lot, alice = await _win(server)
    async with db.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.lot_id == lot["id"]))
    assert payment.status == "CREATING"
    status, error = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
    )
    # Asked while Stripe is still failing: a clear 503; or, once it answers, the intent.
    assert status in (200, 503)
    if status == 503:
        assert error["error"]["code"] == "unavailable"
    bidder = await server.socket("bob")
    assert (await bidder.call("place_bid", bid(lot["id"], 99_000)))["error"]["code"] == "lot_locked"
    info = await alice.wait_for("payment_required", timeout=15)
    assert info["payment_id"] == payment.id
    intents = await _intents_for(localstripe, payment.id)
    assert len(intents) == 1
    assert intents[0]["id"] == info["client_secret"].split("_secret_")[0]
    async with db.sessions() as session:
        payment = await session.get(Payment, payment.id)
    # Three refusals then success; or a timeout whose request did reach Stripe, then the
    # idempotent replay of that very intent.
    assert payment.create_tries >= (4 if mode == "error" else 2)
    assert proxy.creations_forwarded == 1
    assert payment.stripe_payment_intent_id == intents[0]["id"]


async def test_a_crash_between_stripe_and_our_commit_reuses_the_intent(
    start_server, db, localstripe, proxy
):
    """Stripe created the intent but our commit never happened: the retry, with the same
    idempotency key, gets the same intent back, and the buyer one window."""
    server = await start_server(stripe_api_base=proxy.url, stripe_create_lease_seconds=0.5)
    async with crash_once_on_saving_the_intent(db):
        _lot, alice = await _win(server)
        info = await alice.wait_for("payment_required", timeout=10)
    assert proxy.creations_forwarded == 1
    intents = await _intents_for(localstripe, info["payment_id"])
    assert [i["id"] for i in intents] == [info["client_secret"].split("_secret_")[0]]
    _status, result = await fake_browser.confirm_card(localstripe.url, info)
    assert result["status"] == "succeeded"
