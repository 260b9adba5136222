"""`GET /api/seller/payments`: the money side of a seller's own lots, buyers by alias only."""

from __future__ import annotations

from tests.support.sales import sold_lot, won_lot


async def test_a_seller_reads_the_payments_for_their_lots_with_buyers_by_alias(
    start_server, localstripe
):
    server = await start_server(buyer_premium_bps=1000)
    sold, paid, _ = await sold_lot(server, localstripe.url, seller="sam", title="Lamp", amount=5000)
    pending, waiting, _ = await won_lot(server, seller="sam", buyer="bob", title="Rug", amount=2000)
    await won_lot(server, seller="sue", buyer="carol", title="Not sam's", amount=3000)

    status, page = await server.request("GET", "/api/seller/payments", as_user="sam", role="seller")
    assert status == 200, page
    assert [item["lot_title"] for item in page["items"]] == ["Rug", "Lamp"]
    lamp = page["items"][1]
    assert (lamp["status"], lamp["amount"], lamp["breakdown"]) == (
        "SUCCEEDED",
        5500,
        {"hammer": 5000, "premium": 500, "total": 5500},
    )
    assert lamp["paid_at"] is not None and lamp["refunded_amount"] == 0
    status, lot = await server.request("GET", f"/api/lots/{sold['id']}")
    assert lamp["buyer"] == lot["winner"] and lamp["buyer"].startswith("Bidder ")
    text = str(page)
    for secret in ("alice", "bob", "client_secret", "pi_", "buyer_id", "email", "last4"):
        assert secret not in text, secret
    assert page["items"][0]["id"] == waiting["payment_id"]

    status, page = await server.request(
        "GET", "/api/seller/payments?status=SUCCEEDED", as_user="sam", role="seller"
    )
    assert [item["id"] for item in page["items"]] == [paid["payment_id"]]
    status, page = await server.request(
        "GET", f"/api/seller/payments?lot_id={pending['id']}&limit=1", as_user="sam", role="seller"
    )
    assert [item["lot_id"] for item in page["items"]] == [pending["id"]]


async def test_only_sellers_and_admins_read_seller_payments(server, localstripe):
    await sold_lot(server, localstripe.url, seller="sam")
    status, error = await server.request("GET", "/api/seller/payments", as_user="alice")
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, error = await server.request("GET", "/api/seller/payments")
    assert status == 401
    # Another seller sees none of sam's, even when asking for them by name.
    status, page = await server.request(
        "GET", "/api/seller/payments?seller_id=sam", as_user="sue", role="seller"
    )
    assert (status, page["items"]) == (200, [])
    status, page = await server.request(
        "GET", "/api/seller/payments?seller_id=sam", as_user="root", role="admin"
    )
    assert len(page["items"]) == 1
    status, error = await server.request(
        "GET", "/api/seller/payments?status=PAID", as_user="sam", role="seller"
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
