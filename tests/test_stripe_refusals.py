"""Stripe says no (SPEC 12.3): the auction's rules still hold, and an admin is told.

A fault-injecting proxy sits between our server and localstripe and logs
every request, so each test can also count what our server asked Stripe.
"""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import select

from server.auctions.models import Lot
from server.payments.models import Payment, Refund
from server.users.models import User
from tests.conftest import METRICS_AUTH, WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot
from tests.support.sales import drop_webhooks, intent_id, sold_lot, won_lot
from tests.support.services import wait_for

CANCEL = r"/v1/payment_intents/pi_\w+/cancel"
CREATE = "/v1/payment_intents"


async def _payment(db, payment_id) -> Payment:
    async with db.sessions() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        return payment


async def _payment_of_lot(db, lot_id) -> Payment:
    async with db.sessions() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.lot_id == lot_id).order_by(Payment.id).limit(1)
        )
        assert payment is not None
        return payment


async def _strikes(db, user_id) -> int:
    async with db.sessions() as session:
        user = await session.get(User, user_id)
        return user.strikes if user is not None else 0


async def _flagged(server) -> list[dict]:
    status, page = await server.request(
        "GET", "/api/admin/payments?attention=true", as_user="root", role="admin"
    )
    assert status == 200, page
    return page["items"]


async def test_a_refused_cancel_still_ends_the_window_and_flags_the_payment(
    start_server, db, localstripe, proxy
):
    """Issue 17.5: Stripe answers 400 to the cancel at the window's end. The window is
    enforced anyway (EXPIRED, strike, payment_expired, the lot moves on), an admin sees
    it, Stripe is not asked again and again, and a late payment is refunded."""
    server = await start_server(stripe_api_base=proxy.url, payment_window_seconds=1)
    proxy.refuse("POST", CANCEL, 400, "payment_intent_unexpected_state")
    lot, info, alice = await won_lot(server, amount=5000)
    expired = await alice.wait_for("payment_expired", timeout=10)
    assert expired == {
        "payment_id": info["payment_id"],
        "lot_id": lot["id"],
        "reason": "window_elapsed",
    }
    payment = await _payment(db, info["payment_id"])
    assert payment.status == "EXPIRED"
    assert payment.attention["code"] == "intent_cancel_refused"
    assert "payment_intent_unexpected_state" in payment.attention["message"]
    assert payment.next_retry_at is None  # permanent: an admin decides, no automatic retries
    assert await _strikes(db, "alice") == 1
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "UNSOLD"
    flagged = await _flagged(server)
    assert [p["id"] for p in flagged] == [info["payment_id"]]
    assert flagged[0]["attention"]["code"] == "intent_cancel_refused"
    assert "refused" in flagged[0]["last_stripe_error"]
    status, unflagged = await server.request(
        "GET", "/api/admin/payments?attention=false", as_user="root", role="admin"
    )
    assert info["payment_id"] not in [p["id"] for p in unflagged["items"]]

    await asyncio.sleep(2)  # several sweeps later
    assert proxy.count("POST", CANCEL) == 1, proxy.requests
    status, text = await server.request("GET", "/metrics", headers=METRICS_AUTH)
    assert 'auction_payment_attention_flagged_total{code="intent_cancel_refused"} 1.0' in text
    assert "auction_payments_needing_attention 1.0" in text

    # The intent is still live at Stripe: a buyer paying now is refunded, not sold.
    status, paid = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, paid["status"]) == (200, "succeeded")

    async def refunded():
        async with db.sessions() as session:
            refunds = (
                await session.scalars(select(Refund).where(Refund.payment_id == payment.id))
            ).all()
            return refunds if refunds and refunds[0].stripe_refund_id else None

    refunds = await wait_for(refunded, timeout=10)
    assert [r.amount for r in refunds] == [info["amount"]]
    payment = await _payment(db, info["payment_id"])
    assert payment.status == "EXPIRED"
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "UNSOLD"


async def test_a_failing_cancel_is_retried_one_request_per_backoff_step_across_processes(
    start_server, db, localstripe, proxy
):
    """Stripe answers 500 to cancels for a while: the window still ends at once, the cancel
    is retried with capped exponential backoff stored in the row, and two server processes
    sweeping the same database never ask Stripe twice within one step."""
    options = dict(
        stripe_api_base=proxy.url,
        payment_window_seconds=1,
        sweep_interval_seconds=0.05,
        stripe_retry_base_seconds=0.2,
        stripe_retry_max_seconds=0.8,
    )
    server = await start_server(**options)
    await start_server(**options)  # a second process on the same database
    outage = proxy.refuse("POST", CANCEL, 500, "api_error", kind="api_error")
    _lot, info, alice = await won_lot(server, amount=5000)
    await alice.wait_for("payment_expired", timeout=10)
    payment = await _payment(db, info["payment_id"])
    assert payment.status == "EXPIRED" and payment.attention is None  # transient: no admin
    await asyncio.sleep(4)
    times = proxy.times("POST", CANCEL)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Steps 0.2, 0.4, 0.8, 0.8 ...: each gap at least its step (less scheduling slack).
    steps = [min(0.2 * 2**i, 0.8) for i in range(len(gaps))]
    assert all(gap >= step * 0.9 for gap, step in zip(gaps, steps, strict=True)), gaps
    # And no more tries than the schedule allows in that time (the first is at window end).
    assert 3 <= len(times) <= 1 + 1 + int((times[-1] - times[0]) / 0.8) + 2, gaps
    print(f"\ncancel tries over {times[-1] - times[0]:.1f} s: {len(times)}, gaps {gaps}")
    proxy.refusals.remove(outage)

    async def canceled():
        payment = await _payment(db, info["payment_id"])
        return payment if payment.next_retry_at is None else None

    payment = await wait_for(canceled, timeout=5)
    assert payment.status == "EXPIRED" and payment.attention is None
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    assert intent["status"] == "canceled"
    expiries = alice.events["payment_expired"]
    assert len(expiries) == 1


async def test_a_refused_creation_waits_for_an_admin_who_can_retry(
    start_server, db, localstripe, proxy
):
    """Stripe refuses to create the intent (400): the payment stays CREATING, its lot
    locked; Stripe is asked once, not on every sweep; the buyer gets a clear 503; an
    admin sees it, and `retry` creates the intent once Stripe accepts."""
    server = await start_server(stripe_api_base=proxy.url, sweep_interval_seconds=0.05)
    refusal = proxy.refuse("POST", CREATE, 400, "amount_too_large")
    lot = await create_lot(server, starting_price=5000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 5000)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")

    async def flagged_payment():
        payment = await _payment_of_lot(db, lot["id"])
        return payment if payment.attention else None

    payment = await wait_for(flagged_payment, timeout=10)
    assert payment.status == "CREATING"
    assert payment.attention["code"] == "intent_creation_refused"
    assert payment.next_retry_at is None
    await asyncio.sleep(1)
    assert proxy.count("POST", CREATE) == 1
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(lot["id"], 9000)))["error"]["code"] == "lot_locked"
    status, answer = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
    )
    assert (status, answer["error"]["code"]) == (503, "unavailable")
    assert proxy.count("POST", CREATE) == 1  # the buyer's request does not ask Stripe either
    assert [p["id"] for p in await _flagged(server)] == [payment.id]

    # Still refused: retry asks once more, the payment stays flagged.
    status, record = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/retry", as_user="root", role="admin"
    )
    assert status == 200, record
    assert record["status"] == "CREATING" and record["attention"] is not None
    assert proxy.count("POST", CREATE) == 2
    proxy.refusals.remove(refusal)
    status, record = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/retry", as_user="root", role="admin"
    )
    assert (status, record["status"], record["attention"]) == (200, "REQUIRES_PAYMENT", None)
    info = await alice.wait_for("payment_required", timeout=5)
    assert info["payment_id"] == payment.id
    assert await _flagged(server) == []
    status, again = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/retry", as_user="root", role="admin"
    )
    assert (status, again["error"]["code"]) == (409, "nothing_to_retry")


async def test_an_admin_releases_a_stuck_payment_without_a_strike(
    start_server, db, localstripe, proxy
):
    """`release`: the stuck payment ends (no strike for the buyer) and the next bidder
    is offered the lot."""
    server = await start_server(stripe_api_base=proxy.url)
    refusal = proxy.refuse("POST", CREATE, 400, "amount_too_large")
    lot = await create_lot(server, starting_price=5000)
    bob = await server.socket("bob")
    alice = await server.socket("alice")
    assert (await bob.call("place_bid", bid(lot["id"], 5000)))["ok"]
    assert (await alice.call("place_bid", bid(lot["id"], 6000)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")

    async def flagged_payment():
        payment = await _payment_of_lot(db, lot["id"])
        return payment if payment.attention else None

    payment = await wait_for(flagged_payment, timeout=10)
    status, _answer = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/release", as_user="alice"
    )
    assert status in (403, 404)
    proxy.refusals.remove(refusal)
    status, record = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/release", as_user="root", role="admin"
    )
    assert status == 200, record
    assert (record["status"], record["end_reason"]) == ("CANCELED", "released_by_admin")
    # The refused creation is settled: the payment leaves the admins' attention list.
    assert record["attention"] is None
    assert payment.id not in [p["id"] for p in await _flagged(server)]
    assert await _strikes(db, "alice") == 0
    offer = await bob.wait_for("payment_required", timeout=10)
    assert offer["lot_id"] == lot["id"] and offer["offer_number"] == 2
    status, again = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/release", as_user="root", role="admin"
    )
    assert (status, again["error"]["code"]) == (409, "no_pending_payment")


async def test_an_admin_release_cancels_the_live_intent(server, db, localstripe):
    lot, info, _alice = await won_lot(server, amount=5000)
    status, record = await server.request(
        "POST", f"/api/admin/payments/{info['payment_id']}/release", as_user="root", role="admin"
    )
    assert (status, record["status"]) == (200, "CANCELED")
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    assert intent["status"] == "canceled"
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "UNSOLD"
    # The webhook of our own cancel changes nothing more.
    await asyncio.sleep(0.5)
    assert (await _payment(db, info["payment_id"])).end_reason == "released_by_admin"


async def test_the_card_is_fetched_before_the_payment_row_is_locked(
    start_server, db, localstripe, proxy
):
    """Issue 17.6: a success webhook names the charge by id; we fetch its card before we
    lock the payment, so no row lock waits on Stripe."""
    server = await start_server(stripe_api_base=proxy.url)
    _lot, info, _alice = await won_lot(server, amount=5000)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    status, paid = await fake_browser.confirm_card(localstripe.url, info)
    assert paid["status"] == "succeeded"
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    # Stripe's events name the charge by id (localstripe expands it): as Stripe sends it.
    intent["latest_charge"] = intent["latest_charge"]["id"]
    success = fake_browser.event("payment_intent.succeeded", intent)
    async with db.engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            select(Payment.id).where(Payment.id == info["payment_id"]).with_for_update()
        )
        delivery = asyncio.ensure_future(
            fake_browser.deliver(server, success, secret=WEBHOOK_SECRET)
        )
        await wait_for(lambda: proxy.count("GET", r"/v1/charges/\w+") == 1, timeout=5)
        assert not delivery.done()  # still waiting for the lock, with the card in hand
        await transaction.rollback()
    status, answer = await delivery
    assert (status, answer["outcome"]) == (200, "applied")
    payment = await _payment(db, info["payment_id"])
    assert (payment.status, payment.card_brand, payment.card_last4) == (
        "SUCCEEDED",
        "visa",
        "4242",
    )


async def test_a_stranger_cannot_use_the_admin_endpoints(server):
    for path in ("/api/admin/payments/1/retry", "/api/admin/payments/1/release"):
        status, answer = await server.request("POST", path, as_user="mallory")
        assert status == 403, (path, answer)
    status, answer = await server.request(
        "GET", "/api/admin/payments?attention=maybe", as_user="root", role="admin"
    )
    assert (status, answer["error"]["code"]) == (400, "validation_error")


async def test_unknown_payments_are_404_for_admins(server):
    for path in ("/api/admin/payments/999/retry", "/api/admin/payments/999/release"):
        status, answer = await server.request("POST", path, as_user="root", role="admin")
        assert (status, answer["error"]["code"]) == (404, "not_found"), path


async def test_a_refused_refund_flags_the_payment_until_an_admin_retries(
    start_server, db, localstripe, proxy
):
    """Stripe refuses a refund (400): the admin hears 502 at once, the payment is flagged
    for the others to see, and `retry` sends it again once Stripe accepts."""
    server = await start_server(stripe_api_base=proxy.url)
    _lot, info, _alice = await sold_lot(server, localstripe.url, amount=5000)
    refusal = proxy.refuse("POST", "/v1/refunds", 400, "charge_disputed")
    status, answer = await server.request(
        "POST",
        f"/api/payments/{info['payment_id']}/refund",
        as_user="root",
        role="admin",
        json={"amount": 2000},
    )
    assert (status, answer["error"]["code"]) == (502, "refund_failed")
    flagged = await _flagged(server)
    assert [p["id"] for p in flagged] == [info["payment_id"]]
    assert flagged[0]["attention"]["code"] == "refund_refused"
    assert flagged[0]["refunded_amount"] == 0
    proxy.refusals.remove(refusal)
    status, record = await server.request(
        "POST", f"/api/admin/payments/{info['payment_id']}/retry", as_user="root", role="admin"
    )
    assert status == 200, record
    assert record["attention"] is None
    assert (record["status"], record["refunded_amount"]) == ("PARTIALLY_REFUNDED", 2000)
    assert [r["status"] for r in record["refunds"]] == ["failed", "succeeded"]
    assert proxy.count("POST", "/v1/refunds") == 2
