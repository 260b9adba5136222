"""An admin's release (or a buyer's decline) while Stripe's answer to an off-session charge
is unknown (AUTO_CHARGE).

The charge request timed out: Stripe may have taken the money (here it did: the
fault-injecting proxy forwards the request and answers too late). Until the retry,
with the same key and card, learns Stripe's answer, the payment has no intent on our
side, and a webhook about that intent cannot be matched to it. Ending the payment then
would leave the buyer charged for a lot they do not get: the release is refused until
the next try learns the answer; then, the usual outcome applies (here: paid, SOLD).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from server.payments.models import Payment
from tests.support.cards import save_card
from tests.support.factories import add_lot, bid, create_lot, create_sale


async def _payment(db, lot_id, until, timeout=30.0):
    payment = None
    for _ in range(int(timeout / 0.05)):
        async with db.sessions() as session:
            payment = await session.scalar(select(Payment).where(Payment.lot_id == lot_id))
        if payment is not None and until(payment):
            return payment
        await asyncio.sleep(0.05)
    raise AssertionError(f"payment never got there: {payment and payment.status}")


async def test_a_charge_whose_answer_is_unknown_is_not_released(
    start_server, db, localstripe, proxy
):
    server = await start_server(
        stripe_api_base=proxy.url,
        stripe_background_timeout_seconds=1.0,
        stripe_retry_base_seconds=600.0,  # no sweep retries it during the test
    )
    await save_card(server, localstripe.url, "alice")
    proxy.fail_next_creations(1, mode="slow", delay=4.0)  # charged, answered too late
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice", email="alice@example.com")
    assert (await alice.call("place_bid", bid(lot["id"], 5000)))["ok"]
    status, _ = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200
    payment = await _payment(
        db,
        lot["id"],
        lambda p: p.status == "CREATING" and p.create_tries == 1 and p.stripe_lease_until is None,
    )
    assert payment.auto_charge_method is not None and payment.stripe_payment_intent_id is None
    assert proxy.creations_forwarded == 1  # Stripe has the charge

    status, body = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/release", as_user="ada", role="admin"
    )
    assert status == 409, body
    assert body["error"]["code"] == "payment_busy"
    async with db.sessions() as session:
        assert (await session.get(Payment, payment.id)).status == "CREATING"

    # The next try (made due now) asks again with the same key: Stripe's answer is the charge.
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET next_retry_at = now() WHERE id = :id"), {"id": payment.id}
        )
    paid = await _payment(db, lot["id"], lambda p: p.status == "SUCCEEDED")
    assert proxy.creations_forwarded == 1
    assert paid.refunded_amount == 0


async def test_an_invoice_whose_card_charge_is_unanswered_is_not_marked_paid_at_the_desk(
    start_server, db, localstripe, proxy
):
    """The same at the checkout desk: mark-paid would end the payment and keep Stripe's charge."""
    server = await start_server(
        stripe_api_base=proxy.url,
        stripe_background_timeout_seconds=1.0,
        stripe_retry_base_seconds=600.0,
    )
    await save_card(server, localstripe.url, "alice")
    sale = await create_sale(server, settlement="per_sale")
    lot = await add_lot(server, sale, starting_price=1000)
    alice = await server.socket("alice", email="alice@example.com")
    assert (await alice.call("place_bid", bid(lot["id"], 5000)))["ok"]
    proxy.fail_next_creations(1, mode="slow", delay=4.0)  # charged, answered too late
    status, _ = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200
    payment = await _invoice_payment(
        db,
        lambda p: p.status == "CREATING" and p.create_tries == 1 and p.stripe_lease_until is None,
    )
    assert payment.auto_charge_method is not None and payment.stripe_payment_intent_id is None
    assert proxy.creations_forwarded == 1  # Stripe has the charge

    status, body = await server.request(
        "POST",
        f"/api/admin/invoices/{payment.invoice_id}/mark-paid",
        as_user="ada",
        role="admin",
        json={"method": "cash", "reference": "till 3"},
    )
    assert status == 409, body
    assert body["error"]["code"] == "payment_busy"

    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE payments SET next_retry_at = now() WHERE id = :id"), {"id": payment.id}
        )
    paid = await _invoice_payment(db, lambda p: p.status == "SUCCEEDED")
    assert (paid.id, paid.refunded_amount, proxy.creations_forwarded) == (payment.id, 0, 1)
    status, invoice = await server.request(
        "GET", f"/api/invoices/{payment.invoice_id}", as_user="ada", role="admin"
    )
    assert (invoice["status"], invoice["payment"]["method"]) == ("PAID", "stripe")


async def _invoice_payment(db, until, timeout=30.0):
    payment = None
    for _ in range(int(timeout / 0.05)):
        async with db.sessions() as session:
            payment = await session.scalar(select(Payment).where(Payment.invoice_id.is_not(None)))
        if payment is not None and until(payment):
            return payment
        await asyncio.sleep(0.05)
    raise AssertionError(f"payment never got there: {payment and payment.status}")
