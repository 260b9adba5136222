"""Signed receipt links: a plain link opens the printable receipt, for a while, for its maker."""

from __future__ import annotations

import time

from server.core.auth import Identity
from server.payments.receipt_links import (
    RECEIPT_LINK_TTL,
    signed_receipt_url,
    viewer_of_link,
)
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
