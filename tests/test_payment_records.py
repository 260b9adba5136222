"""Payment records and receipts over real HTTP: listings, history, who may see what."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from server.payments.models import Payment
from server.payments.views import prefers_html
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.sales import drop_webhooks, intent_id, pay, sold_lot, standin, won_lot
from tests.support.stripe import deliver, event


async def test_my_payments_lists_only_the_callers_payments_newest_first_in_pages(
    server, localstripe
):
    alice = await server.socket("alice")
    ids = []
    for title in ("First", "Second", "Third"):
        _lot, info, _ = await won_lot(server, buyer=alice, title=title)
        ids.append(info["payment_id"])
    await won_lot(server, buyer="bob", title="Bob's")

    status, page = await server.request("GET", "/api/payments/my-payments?limit=2", as_user="alice")
    assert status == 200
    assert [item["id"] for item in page["items"]] == [ids[2], ids[1]]
    assert [item["lot_title"] for item in page["items"]] == ["Third", "Second"]
    assert page["next_cursor"]
    status, rest = await server.request(
        "GET", f"/api/payments/my-payments?limit=2&cursor={page['next_cursor']}", as_user="alice"
    )
    assert status == 200
    assert [item["id"] for item in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None
    everything = json.dumps([page, rest])
    assert "_secret_" not in everything and "client_secret" not in everything
    assert all(item["buyer_id"] == "alice" for item in page["items"] + rest["items"])

    status, none = await server.request("GET", "/api/payments/my-payments", as_user="carol")
    assert (status, none) == (200, {"items": [], "next_cursor": None})


async def test_my_payments_filters_by_status(server, localstripe):
    alice = await server.socket("alice")
    _lot, waiting, _ = await won_lot(server, buyer=alice)
    _lot, paid, _ = await won_lot(server, buyer=alice)
    await pay(localstripe.url, paid, alice)
    status, page = await server.request(
        "GET", "/api/payments/my-payments?status=SUCCEEDED", as_user="alice"
    )
    assert status == 200
    assert [(item["id"], item["status"]) for item in page["items"]] == [
        (paid["payment_id"], "SUCCEEDED")
    ]
    status, page = await server.request(
        "GET", "/api/payments/my-payments?status=REQUIRES_PAYMENT", as_user="alice"
    )
    assert [item["id"] for item in page["items"]] == [waiting["payment_id"]]


@pytest.mark.parametrize(
    "query",
    ["status=PAID", "status=succeeded", "limit=0", "limit=201", "limit=x", "cursor=garbage"],
)
async def test_bad_listing_parameters_are_a_validation_error(server, query):
    status, body = await server.request(
        "GET", f"/api/payments/my-payments?{query}", as_user="alice"
    )
    assert (status, body["error"]["code"]) == (400, "validation_error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/payments/my-payments"),
        ("GET", "/api/payments/1"),
        ("GET", "/api/payments/1/receipt"),
        ("POST", "/api/payments/1/refund"),
        ("GET", "/api/admin/payments"),
    ],
)
async def test_payment_endpoints_require_a_token(server, method, path):
    status, body = await server.request(method, path)
    assert (status, body["error"]["code"]) == (401, "unauthorized")


async def test_another_users_payment_is_not_found_exactly_like_a_missing_one(server, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url, buyer="alice")
    path = f"/api/payments/{info['payment_id']}"
    missing = await server.request("GET", "/api/payments/999999", as_user="bob")
    assert missing[0] == 404
    for suffix in ("", "/receipt"):
        assert await server.request("GET", path + suffix, as_user="bob") == missing
        status, _ = await server.request("GET", path + suffix, as_user="sam", role="seller")
        assert status == 404
        status, _ = await server.request("GET", path + suffix, as_user="alice")
        assert status == 200
        status, _ = await server.request("GET", path + suffix, as_user="root", role="admin")
        assert status == 200
    status, body = await server.request("GET", "/api/payments/abc", as_user="alice")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_a_payment_shows_every_attempt_with_its_outcome_and_failure(server, localstripe):
    _lot, info, alice = await won_lot(server, amount=2500)
    status, _ = await fake_browser.confirm_card(localstripe.url, info, fake_browser.CARD_DECLINED)
    assert status == 402
    await alice.wait_for("payment_failed")
    await pay(localstripe.url, info, alice)

    status, record = await server.request(
        "GET", f"/api/payments/{info['payment_id']}", as_user="alice"
    )
    assert status == 200
    assert record["status"] == "SUCCEEDED"
    assert record["breakdown"] == {"hammer": 2500, "premium": 0, "total": 2500}
    outcomes = [(a["outcome"], a["failure_code"], a["failure_message"]) for a in record["attempts"]]
    assert outcomes == [
        ("failed", "card_declined", "Your card was declined."),
        ("succeeded", None, None),
    ]
    times = [datetime.fromisoformat(a["at"]) for a in record["attempts"]]
    assert times == sorted(times)
    assert record["refunds"] == []
    assert record["disputed"] is False
    assert record["card"] == {"brand": "visa", "last4": "4242"}
    assert re.fullmatch(r"R\d{4}-\d{8}", record["receipt_number"])
    assert record["receipt_url"] == f"/api/payments/{info['payment_id']}/receipt"
    assert "dispute_reason" not in record and "client_secret" not in record


async def test_a_dispute_flags_the_payment_and_admins_see_why(server, localstripe):
    _lot, info, _ = await sold_lot(server, localstripe.url)
    _lot, other, _ = await sold_lot(server, localstripe.url, buyer="bob")
    dispute = {
        "id": "dp_test_1",
        "object": "dispute",
        "amount": info["amount"],
        "currency": "usd",
        "charge": "ch_unused",
        "payment_intent": intent_id(info),
        "reason": "fraudulent",
        "status": "needs_response",
    }
    status, body = await deliver(
        server, event("charge.dispute.created", dispute), secret=WEBHOOK_SECRET
    )
    assert (status, body["outcome"]) == (200, "applied")

    path = f"/api/payments/{info['payment_id']}"
    _, seen_by_buyer = await server.request("GET", path, as_user="alice")
    assert seen_by_buyer["disputed"] is True and "dispute_reason" not in seen_by_buyer
    _, seen_by_admin = await server.request("GET", path, as_user="root", role="admin")
    assert seen_by_admin["dispute_reason"] == "fraudulent"

    status, disputed = await server.request(
        "GET", "/api/admin/payments?disputed=true", as_user="root", role="admin"
    )
    assert status == 200
    assert [(p["id"], p["dispute_reason"]) for p in disputed["items"]] == [
        (info["payment_id"], "fraudulent")
    ]
    _, undisputed = await server.request(
        "GET", "/api/admin/payments?disputed=false", as_user="root", role="admin"
    )
    assert [p["id"] for p in undisputed["items"]] == [other["payment_id"]]
    _, bobs = await server.request(
        "GET", "/api/admin/payments?buyer_id=bob&status=SUCCEEDED", as_user="root", role="admin"
    )
    assert [p["id"] for p in bobs["items"]] == [other["payment_id"]]


@pytest.mark.parametrize("query", ["disputed=maybe", "status=NOPE", "lot_id=x"])
async def test_the_admin_listing_validates_its_filters(server, query):
    status, body = await server.request(
        "GET", f"/api/admin/payments?{query}", as_user="root", role="admin"
    )
    assert (status, body["error"]["code"]) == (400, "validation_error")


@pytest.mark.parametrize("role", ["bidder", "seller"])
async def test_only_admins_list_everyones_payments(server, role):
    status, body = await server.request("GET", "/api/admin/payments", as_user="alice", role=role)
    assert (status, body["error"]["code"]) == (403, "forbidden")


# --- receipts ------------------------------------------------------------------------------


async def test_a_usd_receipt_as_json_and_as_a_printable_page(start_server, localstripe):
    server = await start_server(buyer_premium_bps=1500)
    title = '<script>alert("x")</script> Tom & Jerry "cel"'
    _lot, info, _ = await sold_lot(server, localstripe.url, amount=12_345, title=title)
    path = f"/api/payments/{info['payment_id']}/receipt"

    status, receipt = await server.request("GET", path, as_user="alice")
    assert status == 200
    assert re.fullmatch(r"R\d{4}-\d{8}", receipt["receipt_number"])
    assert (receipt["lot_id"], receipt["lot_title"]) == (info["lot_id"], title)
    assert (receipt["hammer"], receipt["premium"], receipt["total"]) == (12_345, 1852, 14_197)
    assert receipt["currency"] == "usd"
    assert receipt["formatted"] == {
        "hammer": "123.45 USD",
        "premium": "18.52 USD",
        "total": "141.97 USD",
        "refunded": "0.00 USD",
    }
    assert receipt["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242"}
    assert receipt["seller"]["id"] == "sam" and receipt["buyer"]["id"] == "alice"
    assert datetime.fromisoformat(receipt["paid_at"]).tzinfo is not None
    assert "4242424242424242" not in json.dumps(receipt) and "_secret_" not in json.dumps(receipt)

    headers = {"Accept": "text/html", **server.headers("alice")}
    async with server.http.get(server.url + path, headers=headers) as response:
        assert response.status == 200
        assert response.content_type == "text/html" and response.charset == "utf-8"
        assert "script-src" not in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Vary"] == "Accept"
        page = await response.text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Tom &amp; Jerry" in page
    for text in ("123.45 USD", "18.52 USD", "141.97 USD", "Visa ending in 4242"):
        assert text in page
    assert receipt["receipt_number"] in page
    assert "@media print" in page


async def test_a_jpy_receipt_has_no_decimals(start_server, localstripe):
    server = await start_server(buyer_premium_bps=1000)
    _lot, info, _ = await sold_lot(
        server, localstripe.url, amount=50_000, currency="jpy", title="Kutani vase"
    )
    path = f"/api/payments/{info['payment_id']}/receipt"
    status, receipt = await server.request("GET", path, as_user="root", role="admin")
    assert status == 200
    assert (receipt["hammer"], receipt["premium"], receipt["total"]) == (50_000, 5000, 55_000)
    assert receipt["formatted"]["total"] == "55,000 JPY"
    assert receipt["formatted"]["premium"] == "5,000 JPY"
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", **server.headers("alice")}
    async with server.http.get(server.url + path, headers=headers) as response:
        page = await response.text()
    assert response.status == 200
    for text in ("50,000 JPY", "5,000 JPY", "55,000 JPY", "Kutani vase", "All amounts in JPY"):
        assert text in page
    assert "55,000.00" not in page


async def test_an_unpaid_payment_has_no_receipt(server):
    _lot, info, _ = await won_lot(server)
    status, body = await server.request(
        "GET", f"/api/payments/{info['payment_id']}/receipt", as_user="alice"
    )
    assert (status, body["error"]["code"]) == (409, "no_receipt")


async def test_a_success_webhook_naming_only_the_charge_still_records_the_card(
    server, db, localstripe
):
    """Real Stripe sends `latest_charge` as an id; the card is read from the charge."""
    _lot, info, alice = await won_lot(server)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
    status, confirmed = await fake_browser.confirm_card(localstripe.url, info)
    assert confirmed["status"] == "succeeded"
    intent = await standin(localstripe.url, "GET", f"/v1/payment_intents/{intent_id(info)}")
    charge_id = intent["latest_charge"]["id"]
    shaped_like_stripe = {
        **{key: intent[key] for key in ("id", "object", "amount", "currency", "status")},
        "metadata": intent["metadata"],
        "latest_charge": charge_id,
    }
    status, body = await deliver(
        server, event("payment_intent.succeeded", shaped_like_stripe), secret=WEBHOOK_SECRET
    )
    assert (status, body["outcome"]) == (200, "applied")
    await alice.wait_for("payment_succeeded")
    async with db.sessions() as session:
        payment = await session.scalar(select(Payment).where(Payment.id == info["payment_id"]))
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("text/html", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json, text/html", False),
        ("application/json;q=0.5, text/html", True),
        ("text/html;q=0", False),
        ("text/*", True),
        ("text/html;q=nonsense", False),
    ],
)
def test_accept_header_negotiation(accept, html):
    assert prefers_html(accept) is html
