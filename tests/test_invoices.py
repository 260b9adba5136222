"""Invoices of per_sale sales (SPEC 15): lines, totals, issuing, and reading them back.

The data steps (`add_line`, `issue`) are what the post-hammer flow calls; here
they run on real sales, lots and bids placed over Socket.IO.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from server.auctions.models import Bid, Lot
from server.core.errors import AppError
from server.sales import invoices
from server.sales.models import Invoice, InvoiceLine, Sale
from tests.support.factories import add_lot, bid, create_sale


async def bid_on(server: Any, lot: dict[str, Any], bidder: str, amount: int) -> None:
    client = await server.socket(bidder)
    ack = await client.call("place_bid", bid(lot["id"], amount))
    assert ack["ok"], ack


async def put_on_invoice(server: Any, lot_id: int) -> int:
    """The lot's highest bid joins its bidder's invoice; returns the invoice id."""
    async with server.context.db.unit_of_work() as uow:
        lot = await uow.session.get(Lot, lot_id)
        assert lot is not None and lot.high_bid_id is not None and lot.sale_id is not None
        won = await uow.session.get(Bid, lot.high_bid_id)
        sale = await uow.session.get(Sale, lot.sale_id)
        assert won is not None and sale is not None
        line = await invoices.add_line(uow, server.context.settings, sale=sale, lot=lot, bid=won)
        return line.invoice_id


async def issue(server: Any, invoice_id: int) -> None:
    async with server.context.db.unit_of_work() as uow:
        invoice = await uow.session.get(Invoice, invoice_id, with_for_update=True)
        assert invoice is not None
        await invoices.issue(uow, invoice)


async def sale_with_wins(server: Any, wins: dict[str, list[int]], **sale_fields: Any):
    """A per_sale sale whose lots are won as `wins` says ({bidder: [hammer, ...]})."""
    sale = await create_sale(server, **sale_fields)
    lots_by_bidder: dict[str, list[dict[str, Any]]] = {}
    for bidder, hammers in wins.items():
        for hammer in hammers:
            lot = await add_lot(server, sale, title=f"{bidder} {hammer}", starting_price=hammer)
            await bid_on(server, lot, bidder, hammer)
            lots_by_bidder.setdefault(bidder, []).append(lot)
    return sale, lots_by_bidder


async def test_each_buyer_gets_one_invoice_whose_totals_are_its_lines(start_server, db):
    server = await start_server(tax_rate_bps=2000, tax_on="premium")
    sale, lots = await sale_with_wins(
        server,
        {"alice": [10_000, 20_000, 30_000], "bob": [5_000, 7_550]},
        buyer_premium_bps=2500,
    )
    ids: dict[str, set[int]] = {"alice": set(), "bob": set()}
    # Interleaved, as the lots of a sale close: alice, bob, alice, bob, alice.
    order = ["alice", "bob", "alice", "bob", "alice"]
    queues = {bidder: list(won) for bidder, won in lots.items()}
    for bidder in order:
        ids[bidder].add(await put_on_invoice(server, queues[bidder].pop(0)["id"]))
    assert all(len(found) == 1 for found in ids.values()), ids
    alice_id, bob_id = ids["alice"].pop(), ids["bob"].pop()
    assert alice_id != bob_id

    status, alice = await server.request("GET", f"/api/invoices/{alice_id}", as_user="alice")
    assert status == 200, alice
    assert (alice["status"], alice["sale_id"], alice["buyer_id"]) == ("OPEN", sale["id"], "alice")
    assert [line["hammer"] for line in alice["lines"]] == [10_000, 20_000, 30_000]
    assert [line["premium"] for line in alice["lines"]] == [2_500, 5_000, 7_500]
    assert [line["tax"] for line in alice["lines"]] == [500, 1_000, 1_500]
    assert alice["totals"] == {
        "hammer": 60_000,
        "premium": 15_000,
        "tax": 3_000,
        "total": 78_000,
        "refunded": 0,
    }
    assert [line["lot_number"] for line in alice["lines"]] == [1, 2, 3]

    status, bob = await server.request("GET", f"/api/invoices/{bob_id}", as_user="bob")
    # 75.50 at 25 %: 18.875 → 18.88; 20 % tax on that: 3.776 → 3.78.
    assert [(line["premium"], line["tax"]) for line in bob["lines"]] == [(1_250, 250), (1_888, 378)]
    assert bob["totals"]["total"] == sum(line["total"] for line in bob["lines"]) == 16_316

    async with db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Invoice)) == 2
        assert await conn.scalar(select(func.count()).select_from(InvoiceLine)) == 5


async def test_issuing_fixes_the_invoice_and_later_lines_open_a_new_one(server):
    _sale, lots = await sale_with_wins(server, {"alice": [1_000, 2_000]})
    first = await put_on_invoice(server, lots["alice"][0]["id"])
    await issue(server, first)
    with_issued = await put_on_invoice(server, lots["alice"][1]["id"])
    assert with_issued != first  # an ISSUED invoice takes no more lines
    _status, issued = await server.request("GET", f"/api/invoices/{first}", as_user="alice")
    assert (issued["status"], issued["totals"]["total"]) == ("ISSUED", 1_000)
    assert issued["issued_at"] is not None
    try:
        await issue(server, first)
    except AppError as error:
        assert error.code == "invoice_not_open"
    else:
        raise AssertionError("an issued invoice was issued again")


async def test_lines_added_at_once_share_one_open_invoice(server, db):
    _sale, lots = await sale_with_wins(server, {"alice": [1_000 + n * 100 for n in range(6)]})
    found = await asyncio.gather(*(put_on_invoice(server, lot["id"]) for lot in lots["alice"]))
    assert len(set(found)) == 1
    _status, invoice = await server.request("GET", f"/api/invoices/{found[0]}", as_user="alice")
    assert len(invoice["lines"]) == 6
    assert invoice["totals"]["total"] == sum(1_000 + n * 100 for n in range(6))


async def test_the_rates_are_fixed_when_the_invoice_opens(start_server):
    server = await start_server(tax_rate_bps=1000, tax_on="both")
    _sale, lots = await sale_with_wins(server, {"alice": [10_000]}, buyer_premium_bps=1000)
    invoice_id = await put_on_invoice(server, lots["alice"][0]["id"])
    _status, invoice = await server.request("GET", f"/api/invoices/{invoice_id}", as_user="alice")
    assert (invoice["tax_rate_bps"], invoice["tax_on"]) == (1000, "both")
    assert invoice["lines"][0]["tax"] == 1_100  # 10 % of 100.00 + 10.00


async def test_a_buyer_sees_only_their_own_invoices(server):
    _sale, lots = await sale_with_wins(server, {"alice": [1_000], "bob": [2_000]})
    alice_id = await put_on_invoice(server, lots["alice"][0]["id"])
    bob_id = await put_on_invoice(server, lots["bob"][0]["id"])
    status, mine = await server.request("GET", "/api/me/invoices", as_user="alice")
    assert status == 200
    assert [item["id"] for item in mine["items"]] == [alice_id]
    status, error = await server.request("GET", f"/api/invoices/{bob_id}", as_user="alice")
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, error = await server.request("GET", "/api/invoices/999999", as_user="alice")
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, _ = await server.request("GET", f"/api/invoices/{bob_id}")
    assert status == 401
    status, seen = await server.request(
        "GET", f"/api/invoices/{bob_id}", as_user="root", role="admin"
    )
    assert (status, seen["buyer_id"]) == (200, "bob")


async def test_the_checkout_desk_lists_by_sale_buyer_and_status(server):
    first, lots = await sale_with_wins(server, {"alice": [1_000], "bob": [2_000]}, title="One")
    _second, more = await sale_with_wins(server, {"alice": [3_000]}, title="Two")
    a1 = await put_on_invoice(server, lots["alice"][0]["id"])
    b1 = await put_on_invoice(server, lots["bob"][0]["id"])
    a2 = await put_on_invoice(server, more["alice"][0]["id"])
    await issue(server, a2)

    async def listed(query: str) -> list[int]:
        status, page = await server.request(
            "GET", f"/api/admin/invoices{query}", as_user="root", role="admin"
        )
        assert status == 200, page
        return [item["id"] for item in page["items"]]

    assert await listed("") == [a2, b1, a1]
    assert await listed(f"?sale_id={first['id']}") == [b1, a1]
    assert await listed("?buyer=alice") == [a2, a1]
    assert await listed("?status=ISSUED") == [a2]
    assert await listed(f"?sale_id={first['id']}&buyer=alice&status=OPEN") == [a1]
    assert await listed("?limit=1") == [a2]
    status, page = await server.request(
        "GET", "/api/admin/invoices?limit=2", as_user="root", role="admin"
    )
    assert await listed(f"?limit=2&cursor={page['next_cursor']}") == [a1]
    status, error = await server.request("GET", "/api/admin/invoices", as_user="alice")
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, error = await server.request(
        "GET", "/api/admin/invoices?status=LOST", as_user="root", role="admin"
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")


async def test_the_printable_invoice_escapes_everything(server):
    sale = await create_sale(server, title="<i>Autumn</i>")
    lot = await add_lot(server, sale, title="<script>alert(1)</script>", starting_price=12_345)
    await bid_on(server, lot, "alice", 12_345)
    invoice_id = await put_on_invoice(server, lot["id"])
    async with (
        server.http.get(
            f"{server.url}/api/invoices/{invoice_id}",
            headers={**server.headers("alice"), "Accept": "text/html"},
        ) as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "private, no-store"
        page = await response.text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;i&gt;Autumn&lt;/i&gt;" in page
    assert "123.45 USD" in page


async def change(server: Any, invoice_id: int, step: Any) -> None:
    async with server.context.db.unit_of_work() as uow:
        invoice = await uow.session.get(Invoice, invoice_id, with_for_update=True)
        assert invoice is not None
        await step(uow, invoice)


async def refused(server: Any, invoice_id: int, step: Any) -> str:
    try:
        await change(server, invoice_id, step)
    except AppError as error:
        return error.code
    raise AssertionError("the change was allowed")


async def test_a_paid_invoice_says_how_and_is_paid_once(server):
    _, lots = await sale_with_wins(server, {"alice": [4_000]})
    invoice_id = await put_on_invoice(server, lots["alice"][0]["id"])

    def paid(uow, invoice):
        return invoices.record_paid(uow, invoice, method="cash", reference="till 3", paid_by="root")

    assert await refused(server, invoice_id, paid) == "invoice_not_payable"  # not issued yet
    await issue(server, invoice_id)
    await change(server, invoice_id, paid)
    _status, invoice = await server.request("GET", f"/api/invoices/{invoice_id}", as_user="alice")
    assert invoice["status"] == "PAID"
    assert invoice["payment"]["method"] == "cash"
    assert invoice["payment"]["reference"] == "till 3"
    assert invoice["payment"]["receipt_number"].endswith(f"-{invoice_id:08d}")
    assert invoice["payment"]["paid_at"] is not None
    assert await refused(server, invoice_id, paid) == "invoice_not_payable"
    expire = lambda uow, inv: invoices.record_ended(uow, inv, "EXPIRED", reason="window_elapsed")  # noqa: E731
    assert await refused(server, invoice_id, expire) == "invoice_not_open"


async def test_an_expired_invoice_keeps_its_lines_and_takes_no_payment(server):
    _, lots = await sale_with_wins(server, {"alice": [4_000, 5_000]})
    invoice_id = await put_on_invoice(server, lots["alice"][0]["id"])
    await put_on_invoice(server, lots["alice"][1]["id"])
    await issue(server, invoice_id)
    await change(
        server,
        invoice_id,
        lambda uow, inv: invoices.record_ended(uow, inv, "EXPIRED", reason="window_elapsed"),
    )
    _status, invoice = await server.request("GET", f"/api/invoices/{invoice_id}", as_user="alice")
    assert (invoice["status"], invoice["end_reason"]) == ("EXPIRED", "window_elapsed")
    assert len(invoice["lines"]) == 2 and invoice["totals"]["total"] == 9_000
    assert (
        await refused(server, invoice_id, lambda uow, inv: invoices.record_paid(uow, inv))
        == "invoice_not_payable"
    )
