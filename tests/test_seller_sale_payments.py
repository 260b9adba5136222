"""`GET /api/seller/payments` with per_sale sales: an invoice's payment is one item per lot.

Real throughout: a per_sale sale's lots closed through the API, the invoices' intents
at the Stripe stand-in, one paid as Stripe.js would, one marked paid at the desk, a
lot returned and refunded by its line. Items have a lot's payment's shape; the buyer is
only their alias on that lot.
"""

from __future__ import annotations

from typing import Any

from tests.support.factories import add_lot, bid, create_sale
from tests.support.sales import pay, won_lot
from tests.test_invoice_card_money import ADMIN, get_invoice

SAM = {"as_user": "sam", "role": "seller"}


async def listed(server: Any, query: str = "", **who: Any) -> dict[str, Any]:
    status, page = await server.request("GET", f"/api/seller/payments{query}", **(who or SAM))
    assert status == 200, page
    return page


async def test_a_per_sale_invoice_is_one_item_per_lot_with_its_lines_money(
    start_server, localstripe
):
    server = await start_server(buyer_premium_bps=1000, tax_rate_bps=2000, tax_on="premium")
    alone, _alone_info, _ = await won_lot(server, seller="sam", buyer="dora", title="Alone")
    sale = await create_sale(server, settlement="per_sale", title="Spring")
    sockets = {who: await server.socket(who) for who in ("alice", "bob")}
    lots = []
    for n, (who, hammer) in enumerate([("alice", 10_000), ("bob", 20_000), ("alice", 30_000)]):
        lot = await add_lot(server, sale, title=f"Spring {n + 1}", starting_price=hammer)
        assert (await sockets[who].call("place_bid", bid(lot["id"], hammer)))["ok"]
        lots.append(lot)
    for lot in lots:
        status, closed = await server.request("POST", f"/api/lots/{lot['id']}/close", **SAM)
        assert status == 200, closed
    due = {
        who: await client.wait_for("payment_required", lambda e: e.get("invoice_id"), timeout=15)
        for who, client in sockets.items()
    }
    # Another seller's sale: none of it is sam's.
    other = await create_sale(server, seller="sue", settlement="per_sale")
    theirs = await add_lot(server, other, seller="sue", starting_price=5_000)
    assert (await sockets["bob"].call("place_bid", bid(theirs["id"], 5_000)))["ok"]
    status, _ = await server.request(
        "POST", f"/api/lots/{theirs['id']}/close", as_user="sue", role="seller"
    )
    assert status == 200

    page = await listed(server)
    items = page["items"]
    assert page["next_cursor"] is None
    payment_ids = sorted({due["alice"]["payment_id"], due["bob"]["payment_id"]}, reverse=True)
    by_payment = {
        payment_ids[0]: [x for x in items if x["id"] == payment_ids[0]],
        payment_ids[1]: [x for x in items if x["id"] == payment_ids[1]],
    }
    # Newest payment first; an invoice's items in its line order; the lot's own payment last.
    assert [x["id"] for x in items] == [
        *[payment_ids[0]] * len(by_payment[payment_ids[0]]),
        *[payment_ids[1]] * len(by_payment[payment_ids[1]]),
        _alone_info["payment_id"],
    ]
    alice_items = [x for x in items if x["id"] == due["alice"]["payment_id"]]
    assert [x["lot_id"] for x in alice_items] == [lots[0]["id"], lots[2]["id"]]
    invoice = await get_invoice(server, due["alice"]["invoice_id"])
    for item, line in zip(alice_items, invoice["lines"], strict=True):
        assert item["breakdown"] == {
            "hammer": line["hammer"],
            "premium": line["premium"],
            "tax": line["tax"],
            "total": line["total"],
        }
        assert line["tax"] > 0 and item["amount"] == line["total"]
        assert (item["status"], item["refunded_amount"], item["paid_at"]) == (
            "REQUIRES_PAYMENT",
            0,
            None,
        )
        assert (item["sale_id"], item["offer_number"], item["currency"]) == (sale["id"], 1, "usd")
        _, lot = await server.request("GET", f"/api/lots/{item['lot_id']}")
        assert item["buyer"] == lot["winner"] and item["buyer"].startswith("Bidder ")
        assert (item["lot_title"], item["lot_number"]) == (lot["title"], lot["lot_number"])
    assert set(items[0]) == set(items[-1])  # a line has a lot payment's fields, no more
    text = str(page)
    for secret in ("alice", "bob", "dora", "client_secret", "pi_", "buyer_id", "invoice"):
        assert secret not in text, secret

    # Paid: alice by card, bob at the desk (his payment ends CANCELED, paid_at_desk).
    await pay(localstripe.url, due["alice"], sockets["alice"])
    status, body = await server.request(
        "POST",
        f"/api/admin/invoices/{due['bob']['invoice_id']}/mark-paid",
        json={"method": "bank_transfer", "reference": "TRX 7"},
        **ADMIN,
    )
    assert status == 200, body
    paid = (await listed(server, "?status=SUCCEEDED"))["items"]
    assert sorted(x["lot_id"] for x in paid) == sorted(lot["id"] for lot in lots)
    assert all(x["paid_at"] is not None for x in paid)

    # The third lot comes back: its line is refunded, the first line stays paid in full.
    status, body = await server.request(
        "POST",
        f"/api/admin/invoices/{due['alice']['invoice_id']}/refund",
        json={"line_id": invoice["lines"][1]["id"], "reason": "returned"},
        **ADMIN,
    )
    assert status == 201, body
    now = {x["lot_id"]: x for x in (await listed(server))["items"]}
    assert (now[lots[2]["id"]]["status"], now[lots[2]["id"]]["refunded_amount"]) == (
        "REFUNDED",
        invoice["lines"][1]["total"],
    )
    assert (now[lots[0]["id"]]["status"], now[lots[0]["id"]]["refunded_amount"]) == (
        "SUCCEEDED",
        0,
    )
    assert [x["lot_id"] for x in (await listed(server, "?status=REFUNDED"))["items"]] == [
        lots[2]["id"]
    ]
    one = (await listed(server, f"?lot_id={lots[1]['id']}"))["items"]
    assert [(x["lot_id"], x["status"]) for x in one] == [(lots[1]["id"], "SUCCEEDED")]

    # Pages count payments: an invoice is never split, and nothing is lost or repeated.
    everything = (await listed(server))["items"]
    walked: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await listed(server, f"?limit=1{cursor}")
        assert len({x["id"] for x in page["items"]}) == 1
        walked.extend(page["items"])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert walked == everything and len(walked) == 4
    assert alone["id"] in {x["lot_id"] for x in walked}

    # Sue sees only her own lot's line; an admin reads sam's by name.
    sues = (await listed(server, as_user="sue", role="seller"))["items"]
    assert [x["lot_id"] for x in sues] == [theirs["id"]]
    admins = (await listed(server, "?seller_id=sam", **ADMIN))["items"]
    assert admins == everything
