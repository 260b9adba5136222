"""Signed receipt links: a plain link opens the printable receipt, for a while, for its maker."""

from __future__ import annotations

import time

from server.auctions.models import Bid, Lot
from server.core.auth import Identity
from server.payments.receipt_links import (
    RECEIPT_LINK_TTL,
    signed_receipt_url,
    viewer_of_link,
)
from server.sales import invoices
from server.sales.models import Sale
from tests.support.factories import add_lot, bid, create_sale
from tests.support.sales import sold_lot, won_lot


async def fetch(server, path: str) -> tuple[int, str, dict]:
    """A GET with no Authorization header, as a browser following a link sends it."""
    async with server.http.get(server.url + path) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_the_buyer_gets_a_link_that_opens_the_receipt_without_a_token(
    start_server, localstripe
):
    server = await start_server(buyer_premium_bps=1500)
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=12_345, title="Tin toy robot")
    payment_id = info["payment_id"]
    status, link = await server.request(
        "POST", f"/api/payments/{payment_id}/receipt-link", as_user="alice"
    )
    assert status == 200, link
    assert link["url"].startswith(f"/receipts/{payment_id}?")
    status, page, headers = await fetch(server, link["url"])
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "Tin toy robot" in page and "141.97" in page
    assert headers["Cache-Control"] == "private, no-store"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    # An admin may make one too; another bidder's request is a 404 like a missing payment.
    status, _ = await server.request(
        "POST", f"/api/payments/{payment_id}/receipt-link", as_user="ada", role="admin"
    )
    assert status == 200
    status, body = await server.request(
        "POST", f"/api/payments/{payment_id}/receipt-link", as_user="bob"
    )
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await server.request("POST", f"/api/payments/{payment_id}/receipt-link")
    assert status == 401


async def test_an_altered_or_stale_link_opens_nothing(start_server, localstripe):
    server = await start_server()
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=5000)
    payment_id = info["payment_id"]
    settings = server.context.settings
    url, _ = signed_receipt_url(settings, payment_id, Identity("alice"))
    for altered in (
        url.replace(f"/receipts/{payment_id}?", f"/receipts/{payment_id + 1}?"),
        url.replace("v=alice", "v=bob"),
        url.replace("r=bidder", "r=admin"),
        url[:-1] + ("0" if url[-1] != "0" else "1"),
        f"/receipts/{payment_id}",
    ):
        status, page, _ = await fetch(server, altered)
        assert status == 404, altered
        assert "Receipt" not in page
    stale, _ = signed_receipt_url(
        settings, payment_id, Identity("alice"), now=time.time() - RECEIPT_LINK_TTL - 1
    )
    status, page, _ = await fetch(server, stale)
    assert status == 404 and "expired" in page
    # A link made by someone who may not see the payment shows nothing either.
    forged_by_bob, _ = signed_receipt_url(settings, payment_id, Identity("bob"))
    status, _, _ = await fetch(server, forged_by_bob)
    assert status == 404


def test_a_link_names_who_made_it_and_until_when(settings):
    now = 1_800_000_000.0
    url, expires_at = signed_receipt_url(settings, 7, Identity("a/b c", role="admin"), now=now)
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert expires_at.timestamp() == now + RECEIPT_LINK_TTL
    decoded = {"v": "a/b c", "r": "admin", "exp": query["exp"], "sig": query["sig"]}
    assert viewer_of_link(settings, 7, decoded, now=now) == Identity("a/b c", role="admin")


async def test_an_unpaid_payment_has_no_receipt_link(start_server, localstripe):
    server = await start_server()
    _lot, info, _ = await won_lot(server, amount=5000)
    status, body = await server.request(
        "POST", f"/api/payments/{info['payment_id']}/receipt-link", as_user="alice"
    )
    assert (status, body["error"]["code"]) == (409, "no_receipt")


async def put_on_invoice(server, lot_id: int) -> int:
    """The lot's highest bid joins its bidder's invoice (as the sale's close does)."""
    async with server.context.db.unit_of_work() as uow:
        lot = await uow.session.get(Lot, lot_id)
        assert lot is not None and lot.high_bid_id is not None and lot.sale_id is not None
        won = await uow.session.get(Bid, lot.high_bid_id)
        sale = await uow.session.get(Sale, lot.sale_id)
        assert won is not None and sale is not None
        line = await invoices.add_line(uow, server.context.settings, sale=sale, lot=lot, bid=won)
        return line.invoice_id


async def test_an_invoice_link_opens_the_printable_invoice_and_only_that(server):
    sale = await create_sale(server, title="Autumn sale")
    lot = await add_lot(server, sale, title="Walnut canterbury", starting_price=12_345)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 12_345)))["ok"]
    invoice_id = await put_on_invoice(server, lot["id"])
    status, link = await server.request("POST", f"/api/invoices/{invoice_id}/link", as_user="alice")
    assert status == 200, link
    assert link["url"].startswith(f"/invoices/{invoice_id}/print?")
    status, page, headers = await fetch(server, link["url"])
    assert status == 200 and "Walnut canterbury" in page and "123.45" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    # A receipt's signature never opens an invoice with the same number, nor the reverse.
    receipt_url, _ = signed_receipt_url(server.context.settings, invoice_id, Identity("alice"))
    status, _, _ = await fetch(
        server, link["url"].replace(f"/invoices/{invoice_id}/print", f"/receipts/{invoice_id}")
    )
    assert status == 404
    status, _, _ = await fetch(
        server,
        receipt_url.replace(f"/receipts/{invoice_id}", f"/invoices/{invoice_id}/print"),
    )
    assert status == 404
    status, body = await server.request("POST", f"/api/invoices/{invoice_id}/link", as_user="bob")
    assert (status, body["error"]["code"]) == (404, "not_found")
