"""An invoice's card money at the checkout desk (SPEC 15): mark-paid with an intent open,
refunds by line through Stripe, and refunds made in Stripe's dashboard.

Real throughout: per_sale lots closed through the API, the invoice's PaymentIntent at
the Stripe stand-in, paid as Stripe.js would. localstripe sends no refund events, so
`charge.refunded` is signed here with the webhook secret, as Stripe would send it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from server.payments.models import Payment, Refund
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.clients import SocketClient
from tests.support.factories import add_lot, bid, create_sale
from tests.support.sales import drop_webhooks, intent_id, pay, standin
from tests.support.stripe import deliver, event

ADMIN = {"as_user": "root", "role": "admin"}
CANCEL = r"/v1/payment_intents/pi_\w+/cancel"


async def invoice_due(
    server: Any, hammers: list[int], buyer: str = "alice"
) -> tuple[dict[str, Any], list[dict[str, Any]], SocketClient]:
    """A per_sale sale whose lots `buyer` won, all closed: (payment_required, lots, socket)."""
    sale = await create_sale(server, settlement="per_sale", buyer_premium_bps=1000)
    client = await server.socket(buyer)
    lots = []
    for hammer in hammers:
        lot = await add_lot(server, sale, starting_price=hammer)
        ack = await client.call("place_bid", bid(lot["id"], hammer))
        assert ack["ok"], ack
        lots.append(lot)
    for lot in lots:
        status, closed = await server.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200, closed
    info = await client.wait_for("payment_required", lambda e: e.get("invoice_id"), timeout=15)
    return info, lots, client


def charge_id(intent: dict[str, Any]) -> str:
    charge = intent["latest_charge"]
    return str(charge["id"] if isinstance(charge, dict) else charge)


async def get_invoice(server: Any, invoice_id: int) -> dict[str, Any]:
    status, invoice = await server.request("GET", f"/api/invoices/{invoice_id}", **ADMIN)
    assert status == 200, invoice
    return invoice


async def lot_statuses(server: Any, lots: list[dict[str, Any]]) -> list[str]:
    found = []
    for lot in lots:
        _, now = await server.request("GET", f"/api/lots/{lot['id']}")
        found.append(now["status"])
    return found


async def test_a_line_refund_then_a_dashboard_refund_agree_everywhere(start_server, localstripe):
    server = await start_server(tax_rate_bps=2000, tax_on="premium")
    info, _lots, alice = await invoice_due(server, [10_000, 20_000, 30_000])
    await pay(localstripe.url, info, alice)
    invoice = await get_invoice(server, info["invoice_id"])
    assert invoice["status"] == "PAID" and invoice["payment"]["method"] == "stripe"
    total = invoice["totals"]["total"]
    assert total == info["amount"] == sum(line["total"] for line in invoice["lines"])

    # Lot 2 is returned: its whole line goes back through Stripe.
    second = invoice["lines"][1]
    status, after = await server.request(
        "POST",
        f"/api/admin/invoices/{invoice['id']}/refund",
        json={"line_id": second["id"], "reason": "returned"},
        **ADMIN,
    )
    assert status == 201, after
    assert [line["refunded"] for line in after["lines"]] == [0, second["total"], 0]
    assert after["lines"][1]["returned_at"] is not None
    assert after["status"] == "PARTIALLY_REFUNDED"

    # Then 50.00 more from Stripe's dashboard: Stripe tells us with charge.refunded.
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    await standin(
        localstripe.url,
        "POST",
        "/v1/refunds",
        data={"payment_intent": intent["id"], "amount": "5000"},
    )
    charge = await standin(localstripe.url, "GET", f"/v1/charges/{charge_id(intent)}")
    status, body = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert status == 200, body

    refunded = second["total"] + 5_000
    invoice = await get_invoice(server, invoice["id"])
    # Newest line first: lot 3's line takes the 50.00.
    assert [line["refunded"] for line in invoice["lines"]] == [0, second["total"], 5_000]
    assert invoice["totals"]["refunded"] == refunded
    assert sum(line["refunded"] for line in invoice["lines"]) == refunded
    assert invoice["status"] == "PARTIALLY_REFUNDED"
    # The invoice is the buyer's receipt for the sale: its printable page says the same.
    async with server.http.get(
        f"{server.url}/api/invoices/{invoice['id']}",
        headers={**server.headers("alice"), "Accept": "text/html"},
    ) as response:
        page = await response.text()
    assert f'<td class="n">{refunded / 100:,.2f} USD</td>' in page
    status, payment = await server.request(
        "GET", f"/api/payments/{info['payment_id']}", as_user="alice"
    )
    assert status == 200, payment
    assert (payment["amount"], payment["refunded_amount"]) == (total, refunded)
    assert payment["status"] == "PARTIALLY_REFUNDED"
    assert charge["amount_refunded"] == refunded
    # The same event again changes nothing.
    status, _ = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert (await get_invoice(server, invoice["id"]))["totals"]["refunded"] == refunded


async def test_marking_paid_cancels_the_open_intent_first(server, db, localstripe):
    info, lots, _alice = await invoice_due(server, [10_000, 20_000])
    status, invoice = await server.request(
        "POST",
        f"/api/admin/invoices/{info['invoice_id']}/mark-paid",
        json={"method": "bank_transfer", "reference": "TRX 42"},
        **ADMIN,
    )
    assert status == 200, invoice
    assert (invoice["status"], invoice["payment"]["method"]) == ("PAID", "bank_transfer")
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    assert intent["status"] == "canceled"  # no PaymentIntent is left open
    assert await lot_statuses(server, lots) == ["SOLD", "SOLD"]
    status, confirmed = await fake_browser.confirm_card(localstripe.url, info)
    assert status != 200 or confirmed.get("status") != "succeeded"
    # A success event for that intent after all (Stripe's events may cross our cancel),
    # signed as Stripe signs it: the money goes back, nothing is sold twice.
    success = fake_browser.intent_object(
        intent_id=intent["id"],
        status="succeeded",
        amount=info["amount"],
        currency="usd",
        payment_id=info["payment_id"],
    )
    status, body = await deliver(
        server, event("payment_intent.succeeded", success), secret=WEBHOOK_SECRET
    )
    assert (status, body["outcome"]) == (200, "late_refunded"), body
    async with db.sessions() as session:
        refunds = (
            await session.scalars(select(Refund).where(Refund.payment_id == info["payment_id"]))
        ).all()
        payment = await session.get(Payment, info["payment_id"])
    assert [(r.amount, r.reason) for r in refunds] == [
        (info["amount"], "automatic: payment succeeded after it was canceled")
    ]
    assert payment is not None and (payment.status, payment.end_reason) == (
        "CANCELED",
        "paid_at_desk",
    )
    invoice = await get_invoice(server, info["invoice_id"])
    assert (invoice["status"], invoice["payment"]["method"]) == ("PAID", "bank_transfer")
    assert await lot_statuses(server, lots) == ["SOLD", "SOLD"]


async def test_a_card_success_after_the_desk_was_paid_is_refunded(
    start_server, db, localstripe, proxy
):
    server = await start_server(stripe_api_base=proxy.url)
    info, lots, _alice = await invoice_due(server, [10_000])
    # Stripe cannot be reached to cancel: the desk's money is real, so the invoice is paid
    # anyway and the cancel is retried with backoff.
    proxy.refuse("POST", CANCEL, 500, "api_error", kind="api_error")
    status, invoice = await server.request(
        "POST",
        f"/api/admin/invoices/{info['invoice_id']}/mark-paid",
        json={"method": "cash"},
        **ADMIN,
    )
    assert status == 200, invoice
    assert invoice["status"] == "PAID"
    # Meanwhile the buyer pays by card: Stripe's success webhook arrives for a payment
    # that no longer awaits one, and the money goes back.
    status, confirmed = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, confirmed["status"]) == (200, "succeeded")
    proxy.heal()
    refund = None
    for _ in range(300):  # the late success is refunded after its commit, by a job
        async with db.sessions() as session:
            refund = await session.scalar(
                select(Refund).where(Refund.payment_id == info["payment_id"])
            )
        if refund is not None and refund.status == "succeeded":
            break
        await asyncio.sleep(0.1)
    assert refund is not None and refund.status == "succeeded", refund
    assert refund.amount == info["amount"]
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    charge = await standin(localstripe.url, "GET", f"/v1/charges/{charge_id(intent)}")
    assert charge["amount_refunded"] == info["amount"]
    # Stripe reports that refund too; it is the payment's, not the invoice's money.
    status, _ = await deliver(server, event("charge.refunded", charge), secret=WEBHOOK_SECRET)
    assert status == 200
    invoice = await get_invoice(server, info["invoice_id"])
    assert (invoice["status"], invoice["payment"]["method"]) == ("PAID", "cash")
    assert invoice["totals"]["refunded"] == 0  # the card's money never paid this invoice
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
    assert payment is not None and payment.status == "CANCELED"
    assert await lot_statuses(server, lots) == ["SOLD"]


async def test_when_the_card_won_the_desk_takes_nothing(server, localstripe):
    info, lots, _alice = await invoice_due(server, [10_000])
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)  # the success is not told us yet
    status, confirmed = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, confirmed["status"]) == (200, "succeeded")
    status, error = await server.request(
        "POST",
        f"/api/admin/invoices/{info['invoice_id']}/mark-paid",
        json={"method": "cash"},
        **ADMIN,
    )
    assert (status, error["error"]["code"]) == (409, "invoice_paid_by_card"), error
    invoice = await get_invoice(server, info["invoice_id"])
    assert (invoice["status"], invoice["payment"]["method"]) == ("PAID", "stripe")
    assert await lot_statuses(server, lots) == ["SOLD"]


async def test_refunds_racing_never_return_more_than_was_paid(server, localstripe):
    info, _lots, alice = await invoice_due(server, [10_000, 20_000])
    await pay(localstripe.url, info, alice)
    invoice = await get_invoice(server, info["invoice_id"])
    total = invoice["totals"]["total"]
    path = f"/api/admin/invoices/{invoice['id']}/refund"
    # The newest line returned, an amount (also taken from the newest line first) and
    # a second amount that cannot fit beside them, all at once.
    answers = await asyncio.gather(
        server.request("POST", path, json={"line_id": invoice["lines"][-1]["id"]}, **ADMIN),
        server.request("POST", path, json={"amount": total * 3 // 10}, **ADMIN),
        server.request("POST", path, json={"amount": total * 6 // 10}, **ADMIN),
    )
    statuses = sorted(status for status, _ in answers)
    refused = [body["error"]["code"] for status, body in answers if status == 409]
    assert set(refused) <= {"refund_exceeds_payment", "line_refunded"}, answers
    assert statuses.count(201) >= 1
    invoice = await get_invoice(server, invoice["id"])
    refunded = invoice["totals"]["refunded"]
    assert refunded <= total
    assert sum(line["refunded"] for line in invoice["lines"]) == refunded
    assert all(line["refunded"] <= line["total"] for line in invoice["lines"])
    intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
    charge = await standin(localstripe.url, "GET", f"/v1/charges/{charge_id(intent)}")
    assert charge["amount_refunded"] == refunded
    _, payment = await server.request("GET", f"/api/payments/{info['payment_id']}", **ADMIN)
    assert payment["refunded_amount"] == refunded
