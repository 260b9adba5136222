"""A crash between Stripe's answer to the off-session charge and our commit (AUTO_CHARGE).

The stand-in ignores idempotency keys; the fault-injecting proxy in front of it replays
a repeated key's first answer, as Stripe does (tests/support/stripe_proxy.py). The
charge at Stripe happened; our commit did not. The retry, after the lease, sends the
same request (same key, same card, chosen before the first call) and applies Stripe's
answer: exactly one charge, one receipt, the lot SOLD.
"""

from __future__ import annotations

from sqlalchemy import select

from server.auctions.models import Lot
from server.notifications.models import OutboxMessage
from server.payments.models import Payment
from tests.support.cards import save_card
from tests.support.crash import crash_once_on_saving_the_intent
from tests.support.factories import bid, create_lot
from tests.support.sales import standin


async def _listing(localstripe, what):
    return (await standin(localstripe.url, "GET", f"/v1/{what}?limit=100"))["data"]


async def test_a_crash_after_the_off_session_charge_ends_in_exactly_one_charge(
    start_server, db, localstripe, proxy
):
    server = await start_server(stripe_api_base=proxy.url, stripe_create_lease_seconds=0.5)
    await save_card(server, localstripe.url, "alice")
    async with crash_once_on_saving_the_intent(db):
        lot = await create_lot(server, starting_price=1000)
        alice = await server.socket("alice", email="alice@example.com")
        assert (await alice.call("place_bid", bid(lot["id"], 5000)))["ok"]
        await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
        succeeded = await alice.wait_for("payment_succeeded", timeout=30)
    # Asked twice (the crash, then the retry); Stripe charged once: the retry was replayed.
    assert proxy.count("POST", "/v1/payment_intents") >= 2
    assert proxy.creations_forwarded == 1
    async with db.sessions() as session:
        payment = await session.get(Payment, succeeded["payment_id"])
        lot_row = await session.get(Lot, lot["id"])
        receipts = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "receipt"))
        ).all()
    assert (payment.status, lot_row.status, payment.create_tries) == ("SUCCEEDED", "SOLD", 2)
    intents = [
        i
        for i in await _listing(localstripe, "payment_intents")
        if i["metadata"].get("payment_id") == str(payment.id)
    ]
    assert [(i["id"], i["status"]) for i in intents] == [
        (payment.stripe_payment_intent_id, "succeeded")
    ]
    charges = [
        c
        for c in await _listing(localstripe, "charges")
        if c.get("payment_intent") == payment.stripe_payment_intent_id
    ]
    assert len(charges) == 1
    assert len(receipts) == 1
