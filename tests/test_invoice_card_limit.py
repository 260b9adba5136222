"""An invoice too large for one card payment (server/sales/card_limit.py).

SPEC 12.1 checks each lot's total on its own, so one buyer's per_sale invoice can
come to more than Stripe charges at once ($999,999.99 in usd). The invoice is
issued and held for the checkout desk: no PaymentIntent is asked for, the payment
needs an admin (with a reason saying what to do), the buyer is told to pay by bank
transfer, and the desk marks it paid or releases it.

Real throughout: lots closed through the API, a fault-injecting proxy in front of
localstripe that logs what our server asks Stripe and, where localstripe itself
would say yes, answers as Stripe does for an amount over its limit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.auctions.models import Lot
from server.notifications.models import OutboxMessage
from server.payments.models import Payment
from server.users.models import User
from tests.conftest import METRICS_AUTH
from tests.support.factories import add_lot, bid, create_sale
from tests.support.services import wait_for
from tests.test_invoice_card_money import ADMIN, lot_statuses

CREATE = "/v1/payment_intents"
CODE = "invoice_over_card_limit"


async def invoice_held(server: Any, db: Any, hammers: list[int]) -> tuple[Any, list[dict], Any]:
    """alice (with an e-mail address) wins every lot of a per_sale sale, all closed."""
    sale = await create_sale(server, settlement="per_sale", buyer_premium_bps=1000)
    alice = await server.socket("alice", email="alice@example.com")
    lots = []
    for hammer in hammers:
        lot = await add_lot(server, sale, starting_price=hammer)
        assert (await alice.call("place_bid", bid(lot["id"], hammer)))["ok"]
        lots.append(lot)
    for lot in lots:
        status, closed = await server.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200, closed

    async def flagged() -> Payment | None:
        async with db.sessions() as session:
            payment = await session.scalar(select(Payment).where(Payment.invoice_id.is_not(None)))
        return payment if payment is not None and payment.attention is not None else None

    payment = await wait_for(flagged, timeout=10)
    return payment, lots, alice


async def emails_to_alice(db: Any) -> list[OutboxMessage]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient_id == "alice")
            .order_by(OutboxMessage.id)
        )
        return list(found.all())


async def attention_list(server: Any) -> list[dict[str, Any]]:
    status, page = await server.request("GET", "/api/admin/payments?attention=true", **ADMIN)
    assert status == 200, page
    return list(page["items"])


async def test_an_invoice_over_the_card_limit_is_held_for_the_desk_and_paid_there(
    start_server, db, proxy
):
    server = await start_server(stripe_api_base=proxy.url)
    # Each lot's total (60,000,000 + 10 % premium) is chargeable; the invoice's is not.
    payment, lots, alice = await invoice_held(server, db, [60_000_000, 60_000_000])
    assert payment.amount == 132_000_000
    assert proxy.count("POST", CREATE) == 0, proxy.requests  # Stripe is not asked at all
    assert (payment.status, payment.next_retry_at, payment.stripe_payment_intent_id) == (
        "CREATING",
        None,
        None,
    )
    assert payment.attention["code"] == CODE
    message = payment.attention["message"]
    assert f"Invoice {payment.invoice_id}" in message
    assert "$1,320,000.00" in message and "$999,999.99" in message
    assert "bank transfer" in message and "mark the invoice paid" in message
    assert [item["id"] for item in await attention_list(server)] == [payment.id]
    status, metrics = await server.request("GET", "/metrics", headers=METRICS_AUTH)
    assert f'auction_payment_attention_flagged_total{{code="{CODE}"}} 1.0' in metrics

    # The desk's invoice list says so; the buyer's invoice says how to pay, not the desk's note.
    status, page = await server.request("GET", "/api/admin/invoices", **ADMIN)
    assert status == 200, page
    [desk_view] = page["items"]
    assert (desk_view["status"], desk_view["attention"]["code"]) == ("ISSUED", CODE)
    assert desk_view["attention"]["message"] == message
    assert desk_view["payment"]["payable_by_card"] is False
    status, page = await server.request("GET", "/api/me/invoices", as_user="alice")
    [own_view] = page["items"]
    assert (own_view["attention"], own_view["payment"]["payable_by_card"]) == (None, False)
    status, html = await server.request(
        "GET",
        f"/api/invoices/{payment.invoice_id}",
        as_user="alice",
        headers={"Accept": "text/html"},
    )
    assert "By bank transfer" in html

    # The buyer: one e-mail, no payment_required, a clear answer when asking to pay by card.
    [email] = await emails_to_alice(db)
    assert email.topic == "invoice_bank_transfer"
    assert "bank transfer" in email.body and "1,320,000.00 USD" in email.body
    assert "999,999.99 USD" in email.body
    assert "payment_required" not in alice.events
    status, error = await server.request(
        "POST", "/api/payments/create-intent", json={"lot_id": lots[0]["id"]}, as_user="alice"
    )
    assert (status, error["error"]["code"]) == (409, CODE), error
    assert "bank transfer" in error["error"]["message"]
    assert await lot_statuses(server, lots) == ["PENDING_PAYMENT", "PENDING_PAYMENT"]
    carol = await server.socket("carol")
    ack = await carol.call("place_bid", bid(lots[0]["id"], 90_000_000))
    assert ack["error"]["code"] == "lot_locked"

    # An admin's retry asks Stripe nothing and tells nobody twice.
    status, body = await server.request("POST", f"/api/admin/payments/{payment.id}/retry", **ADMIN)
    assert status == 200, body
    assert body["attention"]["code"] == CODE
    assert proxy.count("POST", CREATE) == 0
    assert len(await emails_to_alice(db)) == 1

    # The money comes by bank transfer: the desk marks it paid, the lots are sold.
    status, invoice = await server.request(
        "POST",
        f"/api/admin/invoices/{payment.invoice_id}/mark-paid",
        json={"method": "bank_transfer", "reference": "TRX 991"},
        **ADMIN,
    )
    assert status == 200, invoice
    assert (invoice["status"], invoice["attention"]) == ("PAID", None)
    assert await lot_statuses(server, lots) == ["SOLD", "SOLD"]
    assert await attention_list(server) == []
    async with db.sessions() as session:
        after = await session.get(Payment, payment.id)
    assert after is not None and (after.status, after.end_reason) == ("CANCELED", "paid_at_desk")
    assert proxy.count("POST", CREATE) == 0


async def test_stripe_refusing_the_amount_holds_the_invoice_too_and_a_release_voids_it(
    start_server, db, proxy
):
    """An account's own limit can be lower than Stripe's table: its `amount_too_large`
    refusal (localstripe has none, the proxy answers as Stripe does) takes the same path."""
    server = await start_server(stripe_api_base=proxy.url)
    proxy.refuse("POST", CREATE, 400, "amount_too_large")
    payment, lots, _alice = await invoice_held(server, db, [10_000, 20_000])
    assert proxy.count("POST", CREATE) == 1
    assert payment.attention["code"] == CODE
    assert "refused by Stripe" in payment.attention["message"]
    assert (payment.status, payment.next_retry_at) == ("CREATING", None)
    [email] = await emails_to_alice(db)
    assert "bank transfer" in email.body and "at most" not in email.body
    status, error = await server.request(
        "POST", "/api/payments/create-intent", json={"lot_id": lots[1]["id"]}, as_user="alice"
    )
    assert (status, error["error"]["code"]) == (409, CODE), error
    status, page = await server.request("GET", "/api/admin/invoices", **ADMIN)
    # Within the table's limit: payable by card as far as we know, but Stripe said no.
    assert page["items"][0]["payment"]["payable_by_card"] is True
    assert page["items"][0]["attention"]["code"] == CODE

    # The desk gives up on it: no strike, the invoice is void, the lots end unsold.
    status, body = await server.request(
        "POST", f"/api/admin/payments/{payment.id}/release", **ADMIN
    )
    assert status == 200, body
    assert (body["status"], body["attention"]) == ("CANCELED", None)
    assert await attention_list(server) == []
    status, invoice = await server.request("GET", f"/api/invoices/{payment.invoice_id}", **ADMIN)
    assert invoice["status"] == "VOID"
    assert await lot_statuses(server, lots) == ["UNSOLD", "UNSOLD"]
    async with db.sessions() as session:
        assert (await session.get(User, "alice")).strikes == 0
        assert {lot.status for lot in await session.scalars(select(Lot))} == {"UNSOLD"}
