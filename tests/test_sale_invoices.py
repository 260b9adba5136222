"""per_sale settlement (SPEC 15): a buyer pays once for every lot they won in a sale.

Everything runs for real: lots of a sale closed through the API, bids from Socket.IO
clients, PaymentIntents at the Stripe stand-in, webhooks signed and delivered by it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from server.auctions.models import Lot
from server.payments.models import Payment, Refund
from server.sales import window
from server.sales.models import Invoice, InvoiceLine
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.clients import SocketClient
from tests.support.factories import add_lot, bid, create_sale
from tests.support.sales import end_window, pay, standin
from tests.support.stripe import deliver, event

RATES = {"buyer_premium_bps": 1500, "tax_rate_bps": 2000, "tax_on": "both"}


async def _sale(server: Any, prices: list[int], **fields: Any) -> tuple[dict, list[dict]]:
    sale = await create_sale(server, settlement="per_sale", **fields)
    lots = [
        await add_lot(server, sale, title=f"Lot {n}", starting_price=price)
        for n, price in enumerate(prices, start=1)
    ]
    return sale, lots


async def _bid(client: SocketClient, lot: dict, amount: int) -> None:
    ack = await client.call("place_bid", bid(lot["id"], amount))
    assert ack["ok"], ack


async def _close(server: Any, lot: dict) -> dict:
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200, closed
    return closed


async def _invoice_payment(db: Any, invoice_id: int) -> Payment:
    async with db.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice_id))
    assert payment is not None
    return payment


async def test_each_buyer_gets_one_invoice_and_one_payment_for_the_sale(
    start_server, db, localstripe
):
    server = await start_server(**RATES)
    alice, bob, carol = [await server.socket(who) for who in ("alice", "bob", "carol")]
    _sale_row, lots = await _sale(server, [1000 + 100 * n for n in range(8)])
    for lot in lots:
        assert (await carol.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    for n, lot in enumerate(lots):
        await _bid(alice if n < 5 else bob, lot, 2000 + 111 * n)
    for lot in lots[:-1]:
        assert (await _close(server, lot))["status"] == "PENDING_PAYMENT"
    async with db.sessions() as session:
        # The sale is not over: lines collect, no payment and no intent yet.
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        statuses = await session.scalars(select(Invoice.status))
        assert sorted(statuses) == ["OPEN", "OPEN"]
    assert (await carol.call("place_bid", bid(lots[0]["id"], 90_000)))["error"]["code"] == (
        "lot_locked"
    )

    await _close(server, lots[-1])
    alice_info = await alice.wait_for("payment_required", timeout=15)
    bob_info = await bob.wait_for("payment_required", timeout=15)
    async with db.sessions() as session:
        invoices = (await session.scalars(select(Invoice).order_by(Invoice.id))).all()
        lines = (await session.scalars(select(InvoiceLine).order_by(InvoiceLine.id))).all()
        payments = (await session.scalars(select(Payment).order_by(Payment.id))).all()
    assert [(i.buyer_id, i.status) for i in invoices] == [("alice", "ISSUED"), ("bob", "ISSUED")]
    for invoice in invoices:
        mine = [line for line in lines if line.invoice_id == invoice.id]
        assert len(mine) == (5 if invoice.buyer_id == "alice" else 3)
        assert invoice.hammer == sum(line.hammer for line in mine)
        assert invoice.premium == sum(line.premium for line in mine) > 0
        assert invoice.tax == sum(line.tax for line in mine) > 0
        assert invoice.total == invoice.hammer + invoice.premium + invoice.tax
    assert [(p.invoice_id, p.lot_id, p.amount) for p in payments] == [
        (invoice.id, None, invoice.total) for invoice in invoices
    ]
    for info, invoice in ((alice_info, invoices[0]), (bob_info, invoices[1])):
        assert info["invoice_id"] == invoice.id and info["lot_id"] is None
        assert info["amount"] == invoice.total
        assert info["breakdown"] == {
            "hammer": invoice.hammer,
            "premium": invoice.premium,
            "tax": invoice.tax,
            "total": invoice.total,
        }
        assert [line["lot_id"] for line in info["lines"]] == [
            line.lot_id for line in lines if line.invoice_id == invoice.id
        ]
        intent = await fake_browser.get_intent(
            localstripe.url, info["client_secret"].split("_secret_")[0]
        )
        assert intent["metadata"]["invoice_id"] == str(invoice.id)
        assert (intent["amount"], intent["currency"]) == (invoice.total, "usd")
    assert len(alice.events["payment_required"]) == 1  # one for the sale, not one per lot
    assert len(bob.events["payment_required"]) == 1

    paid = await pay(localstripe.url, alice_info, alice)
    assert paid["invoice_id"] == invoices[0].id
    for lot in lots[:5]:
        sold = await carol.wait_for(
            "lot_status", lambda e, lot=lot: e["lot_id"] == lot["id"] and e["status"] == "SOLD"
        )
        assert sold["hammer_price"] == 2000 + 111 * lots.index(lot)
    async with db.sessions() as session:
        statuses = dict((await session.execute(select(Lot.id, Lot.status))).all())
        invoice = await session.get(Invoice, invoices[0].id)
    assert [statuses[lot["id"]] for lot in lots] == ["SOLD"] * 5 + ["PENDING_PAYMENT"] * 3
    assert (invoice.status, invoice.paid_method) == ("PAID", "stripe")
    assert invoice.receipt_number is not None


async def test_an_expired_invoice_offers_each_lot_to_its_own_next_bidder(server, db, localstripe):
    alice, bob, carol = [await server.socket(who) for who in ("alice", "bob", "carol")]
    _sale_row, lots = await _sale(server, [1000, 1000, 1000])
    await _bid(bob, lots[0], 1500)
    await _bid(alice, lots[0], 2000)
    await _bid(carol, lots[1], 2500)
    await _bid(alice, lots[1], 3000)
    await _bid(bob, lots[2], 1100)
    await _bid(alice, lots[2], 1200)
    for lot in lots:
        await _close(server, lot)
    info = await alice.wait_for("payment_required", timeout=15)
    assert len(info["lines"]) == 3
    await end_window(db, info["payment_id"])
    assert await window.expire_payment_window(server.context, info["payment_id"]) == "expired"

    expired = await alice.wait_for("payment_expired", timeout=10)
    assert (expired["invoice_id"], expired["reason"]) == (info["invoice_id"], "window_elapsed")
    bob_info = await bob.wait_for("payment_required", timeout=15)
    carol_info = await carol.wait_for("payment_required", timeout=15)
    assert {line["lot_id"] for line in bob_info["lines"]} == {lots[0]["id"], lots[2]["id"]}
    assert [line["lot_id"] for line in carol_info["lines"]] == [lots[1]["id"]]
    assert [line["hammer"] for line in carol_info["lines"]] == [2500]
    assert bob_info["offer_number"] == carol_info["offer_number"] == 2
    async with db.sessions() as session:
        invoices = {
            i.buyer_id: i for i in (await session.scalars(select(Invoice).order_by(Invoice.id)))
        }
        lot_rows = {lot.id: lot for lot in await session.scalars(select(Lot))}
        strikes = dict((await session.execute(select(User.id, User.strikes))).all())
    assert invoices["alice"].status == "EXPIRED"
    assert invoices["bob"].status == invoices["carol"].status == "ISSUED"
    assert (bob_info["invoice_id"], carol_info["invoice_id"]) == (
        invoices["bob"].id,
        invoices["carol"].id,
    )
    assert strikes["alice"] == 1 and strikes["bob"] == strikes["carol"] == 0  # one strike
    assert [(lot_rows[lot["id"]].status, lot_rows[lot["id"]].hammer_price) for lot in lots] == [
        ("PENDING_PAYMENT", 1500),
        ("PENDING_PAYMENT", 2500),
        ("PENDING_PAYMENT", 1100),
    ]
    assert (await _invoice_payment(db, invoices["bob"].id)).amount == invoices["bob"].total


async def test_the_last_lot_unsold_still_issues_the_invoices(server, db):
    alice = await server.socket("alice")
    _sale_row, lots = await _sale(server, [1000, 1000])
    await _bid(alice, lots[0], 1200)
    await _close(server, lots[0])
    assert (await _close(server, lots[1]))["status"] == "UNSOLD"
    info = await alice.wait_for("payment_required", timeout=15)
    assert [line["lot_id"] for line in info["lines"]] == [lots[0]["id"]]


async def test_a_success_webhook_racing_the_invoice_window_end_applies_once(
    server, db, localstripe
):
    for round_number in range(15):
        buyer = await server.socket(f"buyer{round_number}")
        _sale_row, lots = await _sale(server, [1000, 1000], title=f"Sale {round_number}")
        for lot in lots:
            await _bid(buyer, lot, 1000 + round_number)
            await _close(server, lot)
        info = await buyer.wait_for("payment_required", timeout=15)
        _status, result = await fake_browser.confirm_card(localstripe.url, info)
        assert result["status"] == "succeeded"
        await end_window(db, info["payment_id"])
        intent = await fake_browser.get_intent(localstripe.url, result["id"])
        await asyncio.gather(
            window.expire_payment_window(server.context, info["payment_id"]),
            deliver(server, event("payment_intent.succeeded", intent), secret=WEBHOOK_SECRET),
            window.expire_payment_window(server.context, info["payment_id"]),
        )
        async with db.sessions() as session:
            payment = await session.get(Payment, info["payment_id"])
            invoice = await session.get(Invoice, info["invoice_id"])
            statuses = [(await session.get(Lot, lot["id"])).status for lot in lots]
            refunds = await session.scalar(select(func.count()).select_from(Refund))
        at_stripe = await fake_browser.get_intent(localstripe.url, result["id"])
        assert (payment.status, invoice.status, statuses) == (
            "SUCCEEDED",
            "PAID",
            ["SOLD", "SOLD"],
        ), round_number
        assert (at_stripe["status"], at_stripe["amount"]) == ("succeeded", payment.amount)
        assert refunds == 0
    await asyncio.sleep(1.5)  # the stand-in's own deliveries arrive as duplicates
    for client in server._sockets:
        by_payment = [e["payment_id"] for e in client.events["payment_succeeded"]]
        assert len(by_payment) == len(set(by_payment))


async def test_a_success_after_the_invoice_expired_is_refunded(
    start_server, db, localstripe, proxy
):
    """Stripe would not cancel the intent at the window's end (SPEC 12.3): the invoice
    expires anyway, and the buyer's payment that then succeeds goes back in full."""
    server = await start_server(stripe_api_base=proxy.url)
    alice = await server.socket("alice")
    _sale_row, lots = await _sale(server, [1000, 1000])
    for lot in lots:
        await _bid(alice, lot, 1400)
        await _close(server, lot)
    info = await alice.wait_for("payment_required", timeout=15)
    proxy.refuse("POST", r"/v1/payment_intents/[^/]+/cancel", 400, "resource_missing")
    await end_window(db, info["payment_id"])
    assert await window.expire_payment_window(server.context, info["payment_id"]) == "expired"
    async with db.sessions() as session:
        assert (await session.get(Invoice, info["invoice_id"])).status == "EXPIRED"
        assert [(await session.get(Lot, lot["id"])).status for lot in lots] == ["UNSOLD"] * 2

    status, intent = await fake_browser.confirm_card(localstripe.url, info)
    assert (status, intent["status"]) == (200, "succeeded")
    for _ in range(200):
        async with db.sessions() as session:
            refund = await session.scalar(
                select(Refund).where(Refund.payment_id == info["payment_id"])
            )
        if refund is not None and refund.status == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert refund is not None and (refund.status, refund.amount) == ("succeeded", info["amount"])
    async with db.sessions() as session:
        payment = await session.get(Payment, info["payment_id"])
        invoice = await session.get(Invoice, info["invoice_id"])
        statuses = [(await session.get(Lot, lot["id"])).status for lot in lots]
    assert (payment.status, invoice.status, statuses) == ("EXPIRED", "EXPIRED", ["UNSOLD"] * 2)
    at_stripe = await standin(localstripe.url, "GET", f"/v1/refunds/{refund.stripe_refund_id}")
    assert (at_stripe["amount"], at_stripe["payment_intent"]) == (info["amount"], intent["id"])


async def test_a_per_lot_sale_pays_lot_by_lot_at_the_sales_premium(server, db):
    alice = await server.socket("alice")
    sale = await create_sale(server, settlement="per_lot", buyer_premium_bps=1000)
    lots = [await add_lot(server, sale, title=f"Lot {n}") for n in (1, 2)]
    await _bid(alice, lots[0], 2000)
    await _close(server, lots[0])
    info = await alice.wait_for("payment_required", timeout=15)
    assert (info["lot_id"], info.get("invoice_id"), info.get("lines")) == (
        lots[0]["id"],
        None,
        None,
    )
    assert info["breakdown"] == {"hammer": 2000, "premium": 200, "total": 2200}
    await _close(server, lots[1])
    status, fetched = await server.request("GET", f"/api/sales/{sale['id']}")
    assert (status, fetched["status"]) == (200, "CLOSED")
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 0


async def test_a_declined_card_is_retried_on_the_invoice_like_on_a_lot(server, db, localstripe):
    alice = await server.socket("alice")
    _sale_row, lots = await _sale(server, [1000, 1000])
    for lot in lots:
        await _bid(alice, lot, 1300)
        await _close(server, lot)
    info = await alice.wait_for("payment_required", timeout=15)
    status, result = await fake_browser.confirm_card(
        localstripe.url, info, fake_browser.CARD_DECLINED
    )
    assert status == 402 and result["error"]["code"] == "card_declined"
    failed = await alice.wait_for("payment_failed", timeout=10)
    assert (failed["invoice_id"], failed["lot_id"], failed["attempts_left"]) == (
        info["invoice_id"],
        None,
        2,
    )
    await pay(localstripe.url, info, alice)
    async with db.sessions() as session:
        invoice = await session.get(Invoice, info["invoice_id"])
        statuses = [(await session.get(Lot, lot["id"])).status for lot in lots]
    assert (invoice.status, statuses) == ("PAID", ["SOLD", "SOLD"])


async def test_a_second_chance_invoice_declined_is_void_without_a_strike(server, db):
    alice, bob = [await server.socket(who) for who in ("alice", "bob")]
    _sale_row, lots = await _sale(server, [1000])
    await _bid(bob, lots[0], 1500)
    await _bid(alice, lots[0], 2000)
    await _close(server, lots[0])
    first = await alice.wait_for("payment_required", timeout=15)
    status, answer = await server.request(
        "POST", f"/api/payments/{first['payment_id']}/decline", as_user="alice"
    )
    assert (status, answer["error"]["code"]) == (409, "not_second_chance")
    await end_window(db, first["payment_id"])
    assert await window.expire_payment_window(server.context, first["payment_id"]) == "expired"
    offer = await bob.wait_for("payment_required", timeout=15)
    assert offer["offer_number"] == 2 and offer["invoice_id"] != first["invoice_id"]
    status, _ = await server.request(
        "POST", f"/api/payments/{offer['payment_id']}/decline", as_user="bob"
    )
    assert status == 200
    async with db.sessions() as session:
        invoice = await session.get(Invoice, offer["invoice_id"])
        lot = await session.get(Lot, lots[0]["id"])
        strikes = dict((await session.execute(select(User.id, User.strikes))).all())
    assert (invoice.status, lot.status) == ("VOID", "UNSOLD")
    assert (strikes["alice"], strikes["bob"]) == (1, 0)


async def test_the_last_lots_closing_at_once_issue_each_invoice_once(server, db):
    """Closes racing each other: whichever commits last sees the sale done and issues."""
    alice, bob = [await server.socket(who) for who in ("alice", "bob")]
    for round_number in range(6):
        sale, lots = await _sale(server, [1000] * 4, title=f"Sale {round_number}")
        for n, lot in enumerate(lots):
            await _bid(alice if n % 2 else bob, lot, 1000 + n)
        closes = await asyncio.gather(*(_close(server, lot) for lot in lots))
        assert {closed["status"] for closed in closes} == {"PENDING_PAYMENT"}
        async with db.sessions() as session:
            invoices = (
                await session.scalars(select(Invoice).where(Invoice.sale_id == sale["id"]))
            ).all()
            payments = (
                await session.scalars(
                    select(Payment).where(Payment.invoice_id.in_([i.id for i in invoices]))
                )
            ).all()
        assert sorted((i.buyer_id, i.status) for i in invoices) == [
            ("alice", "ISSUED"),
            ("bob", "ISSUED"),
        ], round_number
        assert sorted(p.invoice_id for p in payments) == sorted(i.id for i in invoices)
        status, fetched = await server.request("GET", f"/api/sales/{sale['id']}")
        assert (status, fetched["status"]) == (200, "CLOSED")
