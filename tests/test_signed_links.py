"""Receipts and invoices that open from a plain link: signed, short-lived, as the viewer only."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import aiohttp

from server.core.auth import Identity
from server.core.signed_links import LINK_TTL_SECONDS, sign_link
from tests.support.factories import add_lot, bid, create_sale
from tests.support.sales import sold_lot, won_lot
from tests.test_invoices import issue, put_on_invoice

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser sends


async def open_link(server: Any, url: str, headers: dict[str, str] | None = None):
    """Follow the link as a browser would: no Authorization header, no cookies."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + url, headers=headers or HTML) as response,
    ):
        return response.status, await response.text(), response.headers


async def receipt_link(server: Any, payment_id: int, as_user: str, role: str = "bidder"):
    return await server.request(
        "POST", f"/api/payments/{payment_id}/receipt-link", as_user=as_user, role=role
    )


async def test_a_buyer_opens_their_receipt_from_a_plain_link(server, localstripe):
    _, info, _ = await sold_lot(server, localstripe.url, title="Brass <clock>", amount=4200)
    status, link = await receipt_link(server, info["payment_id"], "alice")
    assert status == 200, link
    assert link["url"].startswith(f"/api/signed/receipts/{info['payment_id']}?token=")
    lapses = datetime.fromisoformat(link["expires_at"]).timestamp() - time.time()
    assert LINK_TTL_SECONDS - 60 < lapses <= LINK_TTL_SECONDS

    status, page, headers = await open_link(server, link["url"])
    assert status == 200, page
    assert headers["Content-Type"].startswith("text/html")
    assert "Brass &lt;clock&gt;" in page and "42.00 USD" in page
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "private, no-store"
    assert "default-src 'none'" in headers["Content-Security-Policy"]

    status, body, _ = await open_link(server, link["url"], {"Accept": "application/json"})
    status_bearer, receipt = await server.request(
        "GET", f"/api/payments/{info['payment_id']}/receipt", as_user="alice"
    )
    assert (status, status_bearer) == (200, 200)
    assert json.loads(body) == receipt

    status, link = await receipt_link(server, info["payment_id"], "root", role="admin")
    assert status == 200
    status, _, _ = await open_link(server, link["url"])
    assert status == 200


async def test_no_link_to_someone_elses_receipt_or_to_one_that_does_not_exist(server, localstripe):
    _, info, _ = await sold_lot(server, localstripe.url)
    status, error = await receipt_link(server, info["payment_id"], "bob")
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, error = await server.request("POST", f"/api/payments/{info['payment_id']}/receipt-link")
    assert (status, error["error"]["code"]) == (401, "unauthorized")
    _, unpaid, _ = await won_lot(server, buyer="carol")
    status, error = await receipt_link(server, unpaid["payment_id"], "carol")
    assert (status, error["error"]["code"]) == (409, "no_receipt")


async def test_a_link_opens_only_its_own_page_and_only_unaltered(server, localstripe):
    _, mine, _ = await sold_lot(server, localstripe.url, buyer="alice")
    _, theirs, _ = await sold_lot(server, localstripe.url, buyer="bob")
    status, link = await receipt_link(server, mine["payment_id"], "alice")
    token = link["url"].split("token=")[1]
    header, claims, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for url in (
        f"/api/signed/receipts/{theirs['payment_id']}?token={token}",  # another receipt
        f"/api/signed/invoices/{mine['payment_id']}?token={token}",  # another kind
        f"/api/signed/receipts/{mine['payment_id']}?token={header}.{claims}.{flipped}",
        f"/api/signed/receipts/{mine['payment_id']}?token=",
        f"/api/signed/receipts/{mine['payment_id']}",
        # A bearer token is not a link token, though both come from JWT_SECRET.
        f"/api/signed/receipts/{mine['payment_id']}?token={server.make_token('alice')}",
    ):
        status, body, _ = await open_link(server, url, {"Accept": "application/json"})
        assert status == 403, url
        assert '"link_invalid"' in body, (url, body)
        status, page, _ = await open_link(server, url)
        assert status == 403
        assert "open it again from your account page" in page
    # Nor is a link token a bearer token.
    status, error = await server.request(
        "GET",
        f"/api/payments/{mine['payment_id']}/receipt",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (status, error["error"]["code"]) == (401, "unauthorized")


async def test_a_link_lapses(server, localstripe):
    _, info, _ = await sold_lot(server, localstripe.url)
    token, _ = sign_link(
        server.context.settings,
        kind="receipt",
        object_id=info["payment_id"],
        viewer=Identity(sub="alice"),
        now=time.time() - LINK_TTL_SECONDS - 5,
    )
    url = f"/api/signed/receipts/{info['payment_id']}?token={token}"
    status, page, _ = await open_link(server, url)
    assert status == 403
    assert "Link expired" in page and "This link has expired" in page
    status, body, _ = await open_link(server, url, {"Accept": "application/json"})
    assert (status, json.loads(body)["error"]["code"]) == (403, "link_expired")


async def test_a_link_is_no_wider_than_the_viewers_access_when_opened(server, localstripe):
    """A link signed for someone who may not see the receipt opens nothing."""
    _, info, _ = await sold_lot(server, localstripe.url, buyer="alice")
    token, _ = sign_link(
        server.context.settings,
        kind="receipt",
        object_id=info["payment_id"],
        viewer=Identity(sub="mallory"),
    )
    status, page, _ = await open_link(
        server, f"/api/signed/receipts/{info['payment_id']}?token={token}"
    )
    assert status == 404
    assert "There is nothing to show at this address." in page


async def test_a_buyer_opens_their_invoice_from_a_plain_link(server):
    sale = await create_sale(server, title="Spring <sale>")
    lot = await add_lot(server, sale, title="Chair", starting_price=3000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 3000)))["ok"]
    invoice_id = await put_on_invoice(server, lot["id"])
    await issue(server, invoice_id)

    status, error = await server.request("POST", f"/api/invoices/{invoice_id}/link", as_user="bob")
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, link = await server.request("POST", f"/api/invoices/{invoice_id}/link", as_user="alice")
    assert status == 200, link
    assert link["url"].startswith(f"/api/signed/invoices/{invoice_id}?token=")
    status, page, headers = await open_link(server, link["url"])
    assert status == 200, page
    assert "Chair" in page and headers["Referrer-Policy"] == "no-referrer"
    token = link["url"].split("token=")[1]
    status, _, _ = await open_link(server, f"/api/signed/receipts/{invoice_id}?token={token}")
    assert status == 403
