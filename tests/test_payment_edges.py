"""Edges found in review: late successes, a CREATING payment asked for, odd ids."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys

import pytest
from sqlalchemy import func, select, text, update

from server.auctions import service as auction_service
from server.auctions import tasks as auction_tasks
from server.auctions.models import Lot
from server.core.logging import PlainFormatter
from server.payments.models import Payment, PaymentAttempt, Refund, StripeEvent
from server.sales import window
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot
from tests.support.sales import drop_webhooks, end_window, won_lot
from tests.support.stripe import deliver, event, intent_object


async def _expire(server, db, payment_id):
    await end_window(db, payment_id)
    assert await window.expire_payment_window(server.context, payment_id) == "expired"


async def test_a_success_for_an_expired_payment_is_refunded_with_its_reason(server, db):
    _, info, _ = await won_lot(server, amount=5000)
    await _expire(server, db, info["payment_id"])
    success = intent_object(
        intent_id=info["client_secret"].split("_secret_")[0],
        status="succeeded",
        amount=info["amount"],
        currency=info["currency"],
        payment_id=info["payment_id"],
    )
    status, answer = await deliver(
        server, event("payment_intent.succeeded", success), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "late_refunded")
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
        refunds = (
            await session.scalars(select(Refund).where(Refund.payment_id == payment.id))
        ).all()
        late = await session.scalar(
            select(PaymentAttempt).where(
                PaymentAttempt.payment_id == payment.id, PaymentAttempt.outcome == "late_success"
            )
        )
    assert payment.status == "EXPIRED"
    assert [r.amount for r in refunds] == [info["amount"]]
    assert refunds[0].reason and "expired" in refunds[0].reason
    assert late is not None
    # A second report of the same success (another event id) refunds nothing more.
    status, answer = await deliver(
        server, event("payment_intent.succeeded", success), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "duplicate"), answer
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Refund).where(Refund.payment_id == payment.id)
        )
    assert count == 1


async def test_create_intent_for_a_payment_being_created_is_503_not_409(server, db):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    info = await alice.wait_for("payment_required")
    async with db.engine.begin() as conn:
        # Back to CREATING, as a payment is while its intent is being made elsewhere.
        await conn.execute(
            update(Payment).where(Payment.id == info["payment_id"]).values(status="CREATING")
        )
    async with db.engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            select(Payment.id).where(Payment.id == info["payment_id"]).with_for_update()
        )
        status, answer = await server.request(
            "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
        )
        await transaction.rollback()
    assert (status, answer["error"]["code"]) == (503, "unavailable")


async def test_ids_with_non_ascii_digits_are_clear_4xx(server):
    for path in ("/api/payments/%C2%B2", "/api/lots/%C2%B2", "/api/payments/%C2%B2/receipt"):
        status, answer = await server.request("GET", path, as_user="alice")
        assert (status, answer["error"]["code"]) == (404, "not_found"), path
    status, answer = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": "\u00b2"}
    )
    assert (status, answer["error"]["code"]) == (400, "validation_error")
    for text_id in ("\u00b2", "9" * 30):
        cursor = base64.urlsafe_b64encode(f"id:{text_id}".encode()).decode()
        for path in ("/api/lots", "/api/payments/my-payments"):
            status, answer = await server.request("GET", f"{path}?cursor={cursor}", as_user="alice")
            assert (status, answer["error"]["code"]) == (400, "validation_error"), path
    client = await server.socket("alice")
    ack = await client.call("join_lot", {"lot_id": "\u00b2"})
    assert ack["error"]["code"] == "validation_error"


def test_plain_logs_of_dev_and_migrate_redact_secrets():
    """`configure_logging(json_logs=False)` uses PlainFormatter (dev, migrate, seed)."""
    secret = "pi_3AbCdEf_secret_XyZ123456"
    try:
        raise RuntimeError(f"UPDATE payments SET client_secret='{secret}'")
    except RuntimeError:
        record = logging.LogRecord(
            "server.test", logging.ERROR, __file__, 1, "failed with %s", (secret,), sys.exc_info()
        )
    written = PlainFormatter().format(record)
    assert "[redacted]" in written and secret not in written


async def test_stored_webhook_events_keep_no_client_secret(server, db):
    _, info, _ = await won_lot(server, amount=5000)
    processing = intent_object(
        intent_id=info["client_secret"].split("_secret_")[0],
        status="processing",
        amount=info["amount"],
        currency=info["currency"],
        payment_id=info["payment_id"],
    )
    processing["client_secret"] = info["client_secret"]
    sent = event("payment_intent.processing", processing)
    status, answer = await deliver(server, sent, secret=WEBHOOK_SECRET)
    assert (status, answer["outcome"]) == (200, "applied")
    async with db.sessions() as session:
        stored = await session.get(StripeEvent, sent["id"])
    assert stored is not None and info["client_secret"] not in json.dumps(stored.payload)


async def test_one_lot_failing_to_close_does_not_hold_back_the_sweep(server, db, monkeypatch):
    # The test runs the sweep itself: the scheduler's own would hold the lot (skip_locked).
    await server.stop_jobs()
    first = await create_lot(server, ends_in=3600)
    second = await create_lot(server, ends_in=3600)
    async with db.engine.begin() as conn:
        await conn.execute(
            update(Lot)
            .where(Lot.id.in_((first["id"], second["id"])))
            .values(
                starts_at=func.now() - text("interval '1 minute'"),
                ends_at=func.now() - text("interval '1 second'"),
            )
        )
    real_close = auction_service.close_lot

    async def close_lot(context, lot_id, **options):
        if lot_id == first["id"]:
            raise RuntimeError("poison lot")
        return await real_close(context, lot_id, **options)

    monkeypatch.setattr(auction_service, "close_lot", close_lot)
    await auction_tasks.sweep_due_lots(server.context)
    async with db.sessions() as session:
        assert (await session.get(Lot, second["id"])).status == "UNSOLD"


@pytest.mark.parametrize(
    "body",
    [
        {"id": "evt_a", "type": "payment_intent.succeeded", "data": "x"},
        {"id": "evt_b", "type": "x", "data": {"object": {}}, "created": 10**30},
        {
            "id": "evt_c",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_x", "metadata": {"payment_id": "9" * 30}}},
        },
    ],
)
async def test_signed_but_odd_webhook_bodies_are_not_500(server, body):
    status, answer = await deliver(server, body, secret=WEBHOOK_SECRET)
    assert status in (200, 400), answer


async def test_create_intent_answers_are_private(server):
    lot, info, _ = await won_lot(server, amount=5000)
    async with server.http.post(
        f"{server.url}/api/payments/create-intent",
        json={"lot_id": lot["id"]},
        headers={"Authorization": f"Bearer {server.make_token('alice', 'bidder')}"},
    ) as response:
        assert response.status == 200
        assert (await response.json())["client_secret"] == info["client_secret"]
        assert "no-store" in response.headers.get("Cache-Control", "")


async def test_a_late_success_really_paid_is_refunded_at_stripe(server, db, localstripe):
    _, info, _ = await won_lot(server, amount=5000)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    async with db.engine.begin() as conn:
        # The window ended here while the buyer's confirmation was on its way.
        await conn.execute(
            update(Payment)
            .where(Payment.id == info["payment_id"])
            .values(status="EXPIRED", end_reason="window_elapsed")
        )
    status, intent = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, intent["status"]) == (200, "succeeded")
    paid = await fake_browser.get_intent(localstripe.url, intent["id"])
    status, answer = await deliver(
        server, event("payment_intent.succeeded", paid), secret=WEBHOOK_SECRET
    )
    assert (status, answer["outcome"]) == (200, "late_refunded")
    for _ in range(100):
        async with db.sessions() as session:
            refund = await session.scalar(
                select(Refund).where(Refund.payment_id == info["payment_id"])
            )
        if refund is not None and refund.status != "pending":
            break
        await asyncio.sleep(0.05)
    assert refund is not None and (refund.status, refund.amount) == ("succeeded", info["amount"])
