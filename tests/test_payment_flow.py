"""The winner's payment end to end: real localstripe, real webhooks, real sockets."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from server.auctions.models import Bid, Lot
from server.payments.models import Payment, PaymentAttempt
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot


async def _won_lot(server, *, winner="alice", amount=10_000, others=(), **lot_fields):
    lot = await create_lot(server, starting_price=1000, bid_increment=100, **lot_fields)
    sockets = {}
    for who, bid_amount in (*others, (winner, amount)):
        client = sockets.get(who) or await server.socket(who)
        sockets[who] = client
        ack = await client.call("place_bid", bid(lot["id"], bid_amount))
        assert ack["ok"], ack
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert (status, closed["status"]) == (200, "PENDING_PAYMENT")
    return lot, sockets


async def test_a_winner_pays_with_4242_and_the_lot_is_sold(start_server, db, localstripe):
    server = await start_server(buyer_premium_bps=1500)
    watcher = await server.socket("carol")
    lot = await create_lot(server, starting_price=1000, bid_increment=100)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await bob.call("place_bid", bid(lot["id"], 1000)))["ok"]
    assert (await alice.call("place_bid", bid(lot["id"], 12_345)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")

    info = await alice.wait_for("payment_required")
    assert info["lot_id"] == lot["id"]
    assert info["status"] == "REQUIRES_PAYMENT"
    assert info["breakdown"] == {"hammer": 12_345, "premium": 1852, "total": 14_197}
    assert info["amount"] == 14_197 and info["currency"] == "usd"
    assert info["client_secret"].startswith("pi_")
    assert info["publishable_key"].startswith("pk_")
    assert (info["attempt"], info["attempts_left"]) == (1, 3)
    assert info["expires_at"]
    locked = await watcher.wait_for("lot_status", lambda e: e["status"] == "PENDING_PAYMENT")
    assert locked["lot_id"] == lot["id"]

    # Bidding is locked while the winner pays.
    ack = await bob.call("place_bid", bid(lot["id"], 50_000))
    assert ack["error"]["code"] == "lot_locked"

    status, result = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, result["status"]) == (200, "succeeded")
    paid = await alice.wait_for("payment_succeeded", timeout=10)
    assert paid == {
        "payment_id": info["payment_id"],
        "lot_id": lot["id"],
        "amount": 14_197,
        "currency": "usd",
        "receipt_url": f"/api/payments/{info['payment_id']}/receipt",
    }
    sold = await watcher.wait_for("lot_status", lambda e: e["status"] == "SOLD")
    assert sold["seq"] > locked["seq"]

    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
        final_lot = await session.get(Lot, lot["id"])
        winning = await session.get(Bid, payment.bid_id)
    assert payment.status == "SUCCEEDED"
    assert payment.receipt_number
    assert final_lot.status == "SOLD"
    assert winning.outcome == "won" and winning.bidder_id == "alice"

    # The client secret went to the buyer only.
    for client in (watcher, bob):
        assert "pi_" not in json.dumps(client.events, default=str)
    assert bob.events["payment_required"] == []


async def test_a_declined_card_counts_an_attempt_and_a_retry_succeeds(server, db, localstripe):
    _lot, sockets = await _won_lot(server)
    alice = sockets["alice"]
    info = await alice.wait_for("payment_required")
    status, result = await fake_browser.confirm_card(
        localstripe.url, info, fake_browser.CARD_DECLINED
    )
    assert status == 402 and result["error"]["code"] == "card_declined"
    failed = await alice.wait_for("payment_failed", timeout=10)
    assert failed["payment_id"] == info["payment_id"]
    assert failed["failure_code"] == "card_declined"
    assert failed["failure_message"] == "Your card was declined."
    assert failed["attempts_left"] == 2
    # The same client secret is used again, as Stripe allows after a decline.
    status, result = await fake_browser.confirm_card(localstripe.url, info)
    assert result["status"] == "succeeded"
    await alice.wait_for("payment_succeeded", timeout=10)
    async with db.sessions() as session:
        attempts = (
            await session.scalars(
                select(PaymentAttempt.outcome)
                .where(PaymentAttempt.payment_id == info["payment_id"])
                .order_by(PaymentAttempt.id)
            )
        ).all()
        payment = await session.get(Payment, info["payment_id"])
    assert attempts == ["failed", "succeeded"]
    assert payment.attempts == 1 and payment.status == "SUCCEEDED"


async def test_a_3ds_card_requires_action_then_succeeds(server, db, localstripe):
    from tests.support.stripe import deliver, event, intent_object

    lot, sockets = await _won_lot(server)
    alice = sockets["alice"]
    info = await alice.wait_for("payment_required")
    status, result = await fake_browser.confirm_card(localstripe.url, info, fake_browser.CARD_3DS)
    assert result["status"] == "requires_action"
    # localstripe sends no requires_action event; Stripe would. Sign one ourselves.
    intent_id = info["client_secret"].split("_secret_")[0]
    status, _ = await deliver(
        server,
        event(
            "payment_intent.requires_action",
            intent_object(
                intent_id=intent_id,
                status="requires_action",
                amount=info["amount"],
                currency="usd",
                payment_id=info["payment_id"],
            ),
        ),
        secret=WEBHOOK_SECRET,
    )
    assert status == 200
    action = await alice.wait_for("payment_action_required")
    assert action == {"payment_id": info["payment_id"], "lot_id": lot["id"]}
    async with db.sessions() as session:
        assert (await session.get(Payment, info["payment_id"])).status == "REQUIRES_ACTION"
    status, body = await fake_browser.authenticate_3ds(localstripe.url, info)
    assert body["status"] == "succeeded"
    await alice.wait_for("payment_succeeded", timeout=10)
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "SOLD"


async def test_an_elapsed_window_cancels_the_intent_and_offers_the_next_bidder(
    start_server, db, localstripe
):
    server = await start_server(payment_window_seconds=1)
    lot, sockets = await _won_lot(
        server, winner="alice", amount=5000, others=(("bob", 1000), ("carol", 2000))
    )
    alice, bob = sockets["alice"], sockets["bob"]
    carol = sockets["carol"]
    first = await alice.wait_for("payment_required")
    expired = await alice.wait_for("payment_expired", timeout=6)
    assert expired == {
        "payment_id": first["payment_id"],
        "lot_id": lot["id"],
        "reason": "window_elapsed",
    }
    second = await carol.wait_for("payment_required", timeout=6)
    assert second["lot_id"] == lot["id"]
    assert second["payment_id"] != first["payment_id"]
    assert second["breakdown"]["hammer"] == 2000
    assert bob.events["payment_required"] == []
    intent = await fake_browser.get_intent(
        localstripe.url, first["client_secret"].split("_secret_")[0]
    )
    assert intent["status"] == "canceled"
    async with db.sessions() as session:
        old = await session.get(Payment, first["payment_id"])
        alice_row = await session.get(User, "alice")
    assert (old.status, old.end_reason) == ("EXPIRED", "window_elapsed")
    assert alice_row.strikes == 1
    # Nobody pays the second chance either; bob is next, then nobody: UNSOLD.
    await bob.wait_for("payment_required", timeout=8)
    for _ in range(100):
        async with db.sessions() as session:
            if (await session.get(Lot, lot["id"])).status == "UNSOLD":
                break
        await asyncio.sleep(0.1)
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "UNSOLD"
        offers = (
            await session.scalars(
                select(Payment.buyer_id).where(Payment.lot_id == lot["id"]).order_by(Payment.id)
            )
        ).all()
    assert offers == ["alice", "carol", "bob"]


async def test_the_unsold_policy_ends_the_lot_at_the_first_expiry(start_server, db):
    server = await start_server(payment_window_seconds=1, expiry_policy="unsold")
    lot, sockets = await _won_lot(server, others=(("bob", 1000),))
    await sockets["alice"].wait_for("payment_expired", timeout=6)
    for _ in range(50):
        async with db.sessions() as session:
            if (await session.get(Lot, lot["id"])).status == "UNSOLD":
                break
        await asyncio.sleep(0.1)
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "UNSOLD"
    assert sockets["bob"].events["payment_required"] == []


async def test_an_offline_winner_gets_payment_required_on_connect(server):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    await alice.disconnect()
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    await asyncio.sleep(0.3)
    again = await server.socket("alice")
    info = await again.wait_for("payment_required")
    assert info["lot_id"] == lot["id"] and info["client_secret"]
    listed = await again.call("my_payments", {})
    assert listed["ok"] and [p["payment_id"] for p in listed["payments"]] == [info["payment_id"]]
    other = await server.socket("bob")
    assert (await other.call("my_payments", {}))["payments"] == []


async def test_create_intent_is_idempotent_and_only_for_the_winner(server):
    lot, sockets = await _won_lot(server)
    info = await sockets["alice"].wait_for("payment_required")
    first = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
    )
    second = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
    )
    assert first[0] == second[0] == 200
    assert first[1]["client_secret"] == second[1]["client_secret"] == info["client_secret"]
    status, error = await server.request(
        "POST", "/api/payments/create-intent", as_user="bob", json={"lot_id": lot["id"]}
    )
    assert (status, error["error"]["code"]) == (409, "no_pending_payment")
    status, error = await server.request(
        "POST", "/api/payments/create-intent", json={"lot_id": lot["id"]}
    )
    assert status == 401
    status, error = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": "x"}
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
