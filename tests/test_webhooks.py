"""Webhooks with events signed in the test: verification, once-only, ordering, failures."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import func, select, text

from server.auctions.models import Lot
from server.payments.models import Payment, PaymentAttempt, StripeEvent
from tests.conftest import METRICS_AUTH, WEBHOOK_SECRET
from tests.support.factories import bid, create_lot
from tests.support.stripe import deliver, event, intent_object, sign


async def _awaiting_payment(server, *, winner="alice", amount=5000):
    lot = await create_lot(server, starting_price=1000)
    client = await server.socket(winner)
    assert (await client.call("place_bid", bid(lot["id"], amount)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    info = await client.wait_for("payment_required")
    return lot, client, info


def _intent(info, status, **extra):
    return intent_object(
        intent_id=info["client_secret"].split("_secret_")[0],
        status=status,
        amount=info["amount"],
        currency=info["currency"],
        payment_id=info["payment_id"],
        **extra,
    )


async def _count(db, model, *where):
    async with db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


DECLINE = {"code": "card_declined", "message": "Your card was declined."}


@pytest.mark.parametrize(
    "tamper",
    ["forged", "stale", "missing", "garbage", "not-an-event", "wrong-secret", "future"],
)
async def test_bad_signatures_and_payloads_are_400_and_change_nothing(server, db, tamper):
    body = json.dumps(event("payment_intent.succeeded", {"id": "pi_x", "metadata": {}})).encode()
    header = sign(body, WEBHOOK_SECRET)
    if tamper == "forged":
        header = header[:-4] + "0000"
    elif tamper == "stale":
        header = sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)
    elif tamper == "future":
        header = sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) + 3600)
    elif tamper == "missing":
        header = ""
    elif tamper == "garbage":
        body = b"\x00\xffnot json at all"
        header = sign(body, WEBHOOK_SECRET)
    elif tamper == "not-an-event":
        body = json.dumps({"hello": "world"}).encode()
        header = sign(body, WEBHOOK_SECRET)
    elif tamper == "wrong-secret":
        header = sign(body, "whsec_someone_else_entirely")
    status, answer = await deliver(server, body, secret=WEBHOOK_SECRET, header=header)
    if tamper == "future":
        # Stripe's tolerance only bounds age; a clock ahead of ours is still signed by the secret.
        assert status == 200
        return
    assert status == 400, answer
    assert answer["error"]["code"] == "validation_error"
    assert await _count(db, StripeEvent) == 0


async def test_a_rotated_secret_is_still_accepted(start_server, db):
    server = await start_server(stripe_webhook_secrets=("whsec_new_one_123456", WEBHOOK_SECRET))
    status, answer = await deliver(
        server, event("customer.created", {"id": "cus_1"}), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "ignored")


async def test_events_about_objects_we_did_not_create_are_recorded_as_ignored(server, db):
    foreign = intent_object(intent_id="pi_foreign", status="succeeded", amount=100, currency="usd")
    status, answer = await deliver(
        server, event("payment_intent.succeeded", foreign), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "ignored")
    async with db.sessions() as session:
        stored = (await session.scalars(select(StripeEvent))).all()
    assert [(e.type, e.outcome, e.payment_id) for e in stored] == [
        ("payment_intent.succeeded", "ignored", None)
    ]


async def test_an_ignored_event_delivered_again_is_stored_and_counted_once(server, db):
    """Events that change nothing are stored without a transaction: still once each."""
    foreign = event(
        "payment_intent.succeeded",
        intent_object(intent_id="pi_foreign", status="succeeded", amount=100, currency="usd"),
    )
    unhandled = event("customer.created", {"id": "cus_1"})
    results = await asyncio.gather(
        *(deliver(server, e, secret=WEBHOOK_SECRET) for e in [foreign] * 8 + [unhandled] * 4)
    )
    assert all(status == 200 for status, _ in results)
    outcomes = [answer["outcome"] for _, answer in results]
    assert sorted(outcomes[:8]) == ["duplicate"] * 7 + ["ignored"]
    assert sorted(outcomes[8:]) == ["duplicate"] * 3 + ["ignored"]
    async with db.sessions() as session:
        stored = (await session.scalars(select(StripeEvent).order_by(StripeEvent.type))).all()
    assert [(e.id, e.type, e.outcome, e.object_id, e.payment_id) for e in stored] == [
        (unhandled["id"], "customer.created", "ignored", "cus_1", None),
        (foreign["id"], "payment_intent.succeeded", "ignored", "pi_foreign", None),
    ]
    assert stored[1].payload == foreign
    assert stored[1].stripe_created is not None
    _status, metrics = await server.request("GET", "/metrics", headers=METRICS_AUTH)
    assert 'auction_webhook_unmatched_total{reason="unknown_intent"} 1.0' in metrics


async def test_concurrent_duplicates_have_one_effect(server, db):
    _, alice, info = await _awaiting_payment(server)
    failed = event(
        "payment_intent.payment_failed", _intent(info, "requires_payment_method", error=DECLINE)
    )
    results = await asyncio.gather(
        *(deliver(server, failed, secret=WEBHOOK_SECRET) for _ in range(12))
    )
    assert all(status == 200 for status, _ in results)
    outcomes = sorted(answer["outcome"] for _, answer in results)
    assert outcomes == ["applied"] + ["duplicate"] * 11
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
    assert payment.attempts == 1
    assert await _count(db, PaymentAttempt, PaymentAttempt.payment_id == payment.id) == 1
    assert await _count(db, StripeEvent) == 1
    await alice.wait_for("payment_failed")
    await asyncio.sleep(0.2)
    assert len(alice.events["payment_failed"]) == 1


async def test_a_late_failure_cannot_undo_a_success(server, db):
    lot, alice, info = await _awaiting_payment(server)
    late_failure = event(
        "payment_intent.payment_failed", _intent(info, "requires_payment_method", error=DECLINE)
    )
    success = event("payment_intent.succeeded", _intent(info, "succeeded"))
    action = event("payment_intent.requires_action", _intent(info, "requires_action"))
    processing = event("payment_intent.processing", _intent(info, "processing"))
    for delivered in (success, late_failure, action, processing):
        status, _ = await deliver(server, delivered, secret=WEBHOOK_SECRET)
        assert status == 200
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
        final = await session.get(Lot, lot["id"])
    assert (payment.status, payment.attempts, final.status) == ("SUCCEEDED", 0, "SOLD")
    assert alice.events["payment_failed"] == []


async def test_processing_then_success_in_either_order(server, db):
    _, _, info = await _awaiting_payment(server)
    for kind, status in (("processing", "processing"), ("succeeded", "succeeded")):
        assert (
            await deliver(
                server,
                event(f"payment_intent.{kind}", _intent(info, status)),
                secret=WEBHOOK_SECRET,
            )
        )[0] == 200
    async with db.sessions() as session:
        assert (await session.get(Payment, info["payment_id"])).status == "SUCCEEDED"


async def test_a_payments_intent_is_ours_without_its_intent_record(server, db):
    """The payment's own intent id decides, even with no `payment_intents` row for it
    (rows before that table's backfill, or a row written by hand)."""
    _, _, info = await _awaiting_payment(server)
    success = event("payment_intent.succeeded", _intent(info, "succeeded"))
    async with db.sessions() as session:
        await session.execute(
            text("DELETE FROM payment_intents WHERE id = :id"),
            {"id": success["data"]["object"]["id"]},
        )
        await session.commit()
    status, answer = await deliver(server, success, secret=WEBHOOK_SECRET)
    assert (status, answer["outcome"]) == (200, "applied")
    async with db.sessions() as session:
        assert (await session.get(Payment, info["payment_id"])).status == "SUCCEEDED"


async def test_a_success_with_the_wrong_amount_is_not_applied(server, db):
    lot, _, info = await _awaiting_payment(server)
    wrong = _intent(info, "succeeded")
    wrong["amount"] = info["amount"] - 1
    status, answer = await deliver(
        server, event("payment_intent.succeeded", wrong), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "amount_mismatch")
    async with db.sessions() as session:
        assert (await session.get(Payment, info["payment_id"])).status == "REQUIRES_PAYMENT"
        assert (await session.get(Lot, lot["id"])).status == "PENDING_PAYMENT"


async def test_attempts_are_counted_to_the_limit_then_the_lot_moves_on(start_server, db):
    server = await start_server(max_payment_attempts=2)
    lot = await create_lot(server, starting_price=1000)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await bob.call("place_bid", bid(lot["id"], 1000)))["ok"]
    assert (await alice.call("place_bid", bid(lot["id"], 2000)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    info = await alice.wait_for("payment_required")
    for _ in (1, 2):
        failure = event(
            "payment_intent.payment_failed", _intent(info, "requires_payment_method", error=DECLINE)
        )
        assert (await deliver(server, failure, secret=WEBHOOK_SECRET))[0] == 200
    # Below the limit the buyer may retry; at the limit the failure is an expiry instead.
    seen = await alice.wait_for("payment_failed")
    assert (seen["failure_code"], seen["attempts_left"]) == ("card_declined", 1)
    expired = await alice.wait_for("payment_expired")
    assert expired["reason"] == "attempts_exhausted"
    assert len(alice.events["payment_failed"]) == 1
    offer = await bob.wait_for("payment_required")
    assert offer["breakdown"]["hammer"] == 1000
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
    assert (payment.status, payment.end_reason, payment.attempts) == (
        "FAILED",
        "attempts_exhausted",
        2,
    )


async def test_a_failure_to_apply_answers_500_and_a_redelivery_applies(server, db):
    lot, _, info = await _awaiting_payment(server)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_sold() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_sold BEFORE UPDATE ON lots FOR EACH ROW "
                "WHEN (NEW.status = 'SOLD') EXECUTE FUNCTION refuse_sold()"
            )
        )
    success = event("payment_intent.succeeded", _intent(info, "succeeded"))
    try:
        status, answer = await deliver(server, success, secret=WEBHOOK_SECRET)
        assert status == 500
        assert answer["error"]["code"] == "internal"
        assert await _count(db, StripeEvent) == 0
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_sold ON lots"))
            await conn.execute(text("DROP FUNCTION refuse_sold()"))
    status, answer = await deliver(server, success, secret=WEBHOOK_SECRET)
    assert (status, answer["outcome"]) == (200, "applied")
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "SOLD"
