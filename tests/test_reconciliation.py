"""Reconciliation: payments whose webhooks were lost are brought in line with Stripe.

localstripe's webhook is pointed at a closed port before the buyer confirms,
so every event about the payment is lost, as when our endpoint is down.
"""

from __future__ import annotations

from sqlalchemy import func, select

from server.auctions.models import Lot
from server.notifications.models import OutboxMessage
from server.payments.models import Payment, PaymentAttempt, StripeEvent
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.sales import connect, drop_webhooks, intent_id, standin, won_lot
from tests.support.services import wait_for

FAST = {"reconcile_after_seconds": 1, "reconcile_interval_seconds": 0.3}


async def _payment(db, payment_id):
    async with db.sessions() as session:
        return await session.get(Payment, payment_id)


def _status_becomes(db, payment_id, status):
    async def check():
        payment = await _payment(db, payment_id)
        return payment if payment.status == status else None

    return check


async def test_a_dropped_success_webhook_is_fixed_by_reconciliation(start_server, db, localstripe):
    server = await start_server(**FAST)
    watcher = await server.socket("carol")
    alice = await connect(server, "alice", email="alice@example.com")
    lot, info, _ = await won_lot(server, buyer=alice)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    status, intent = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, intent["status"]) == (200, "succeeded")

    paid = await alice.wait_for("payment_succeeded", timeout=10)
    assert paid["payment_id"] == info["payment_id"]
    sold = await watcher.wait_for("lot_status", lambda e: e["status"] == "SOLD")
    assert sold["lot_id"] == lot["id"]
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
        final_lot = await session.get(Lot, lot["id"])
        attempts = (
            await session.scalars(
                select(PaymentAttempt).where(PaymentAttempt.payment_id == payment.id)
            )
        ).all()
        events = await session.scalar(select(func.count()).select_from(StripeEvent))
        receipts = (
            await session.scalars(
                select(OutboxMessage.subject).where(OutboxMessage.topic == "receipt")
            )
        ).all()
    assert (payment.status, final_lot.status) == ("SUCCEEDED", "SOLD")
    assert payment.receipt_number and payment.last_synced_at is not None
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert [(a.outcome, a.stripe_event_id) for a in attempts] == [("succeeded", None)]
    assert events == 0, "no webhook reached us: reconciliation did this"
    assert receipts == [f'Receipt {payment.receipt_number} for "Lot"']


async def test_reconciliation_runs_at_start_up(start_server, db, localstripe):
    first = await start_server(reconcile_interval_seconds=3600)
    _lot, info, _ = await won_lot(first)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    await fake_browser.confirm_card(localstripe.url, info)
    assert (await _payment(db, info["payment_id"])).status == "REQUIRES_PAYMENT"

    await start_server(reconcile_after_seconds=0, reconcile_interval_seconds=3600)
    payment = await wait_for(_status_becomes(db, info["payment_id"], "SUCCEEDED"), timeout=10)
    assert payment.paid_at is not None


async def test_a_lost_requires_action_is_found_and_the_buyer_told(start_server, db, localstripe):
    server = await start_server(**FAST)
    lot, info, alice = await won_lot(server)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    _, intent = await fake_browser.confirm_card(localstripe.url, info, fake_browser.CARD_3DS)
    assert intent["status"] == "requires_action"
    action = await alice.wait_for("payment_action_required", timeout=10)
    assert action == {"payment_id": info["payment_id"], "lot_id": lot["id"]}
    assert (await _payment(db, info["payment_id"])).status == "REQUIRES_ACTION"


async def test_an_intent_canceled_at_stripe_ends_the_payment_without_a_strike(
    start_server, db, localstripe
):
    server = await start_server(**FAST, expiry_policy="unsold")
    lot, info, alice = await won_lot(server)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    await standin(localstripe.url, "POST", f"/v1/payment_intents/{intent_id(info)}/cancel")

    ended = await alice.wait_for("payment_expired", timeout=10)
    assert ended == {
        "payment_id": info["payment_id"],
        "lot_id": lot["id"],
        "reason": "canceled_at_stripe",
    }
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
        buyer = await session.get(User, "alice")
        final_lot = await session.get(Lot, lot["id"])
    assert (payment.status, payment.end_reason) == ("CANCELED", "canceled_at_stripe")
    assert buyer.strikes == 0
    assert final_lot.status == "UNSOLD"


async def test_a_payment_simply_awaiting_its_buyer_is_left_alone(start_server, db, localstripe):
    server = await start_server(**FAST)
    _lot, info, alice = await won_lot(server)

    async def synced():
        payment = await _payment(db, info["payment_id"])
        return payment if payment.last_synced_at is not None else None

    payment = await wait_for(synced, timeout=10)
    assert (payment.status, payment.attempts, payment.paid_at) == ("REQUIRES_PAYMENT", 0, None)
    assert alice.events["payment_expired"] == alice.events["payment_failed"] == []
    # And the buyer can still pay: the lost webhook is then recovered too.
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    await fake_browser.confirm_card(localstripe.url, info)
    await wait_for(_status_becomes(db, info["payment_id"], "SUCCEEDED"), timeout=10)
