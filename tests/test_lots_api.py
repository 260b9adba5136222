"""Lots over REST: create, list, detail, bids, close, cancel; roles and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.auctions.models import LotEvent
from tests.support.factories import bid, create_lot, in_seconds, iso


async def test_a_seller_creates_an_open_lot(server):
    lot = await create_lot(
        server, title="Vase", starting_price=2500, reserve_price=5000, description="Blue"
    )
    assert lot["status"] == "OPEN"
    assert lot["seller_id"] == "sam"
    assert (lot["current_bid"], lot["bid_count"], lot["min_next_bid"]) == (None, 0, 2500)
    assert lot["reserve_met"] is False
    assert "reserve_price" not in lot
    assert lot["seq"] >= 0
    status, fetched = await server.request("GET", f"/api/lots/{lot['id']}")
    assert status == 200
    assert fetched["title"] == "Vase"
    assert "reserve_price" not in fetched


async def test_a_future_start_makes_a_scheduled_lot(server):
    lot = await create_lot(server, starts_in=3600, ends_in=7200)
    assert lot["status"] == "SCHEDULED"


@pytest.mark.parametrize("role", ["bidder", None])
async def test_only_sellers_and_admins_create_lots(server, role):
    body = {"title": "x", "currency": "usd", "starting_price": 100, "ends_at": iso(in_seconds(60))}
    if role is None:
        status, error = await server.request("POST", "/api/lots", json=body)
        assert (status, error["error"]["code"]) == (401, "unauthorized")
    else:
        status, error = await server.request(
            "POST", "/api/lots", as_user="bob", role=role, json=body
        )
        assert (status, error["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    "change",
    [
        {"currency": "USD"},
        {"currency": "dollars"},
        {"starting_price": 10.5},
        {"starting_price": "100"},
        {"starting_price": True},
        {"starting_price": 0},
        {"starting_price": -5},
        {"starting_price": 10**20},
        {"title": ""},
        {"title": 7},
        {"ends_at": "tomorrow"},
        {"ends_at": "2020-01-01T00:00:00Z"},
        {"ends_at": "2031-01-01T00:00:00"},
        {"reserve_price": 0},
        {"bid_increment": "5"},
        {"currency": "kwd", "starting_price": 1005},
    ],
)
async def test_bad_lot_input_is_a_validation_error(server, db, change):
    body = {
        "title": "x",
        "currency": "usd",
        "starting_price": 100,
        "ends_at": iso(in_seconds(60)),
        **change,
    }
    status, error = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (400, "validation_error"), error
    status, listing = await server.request("GET", "/api/lots")
    assert listing["items"] == []


async def test_bad_json_is_a_validation_error(server):
    for raw in (b"{not json", b"[1,2]", b"\xff\xfe"):
        status, error = await server.request(
            "POST",
            "/api/lots",
            as_user="sam",
            role="seller",
            data=raw,
            headers={"Content-Type": "application/json"},
        )
        assert (status, error["error"]["code"]) == (400, "validation_error")


async def test_listing_pages_with_a_cursor_and_filters_by_status(server):
    ids = [(await create_lot(server, title=f"L{i}"))["id"] for i in range(5)]
    await create_lot(server, starts_in=600, ends_in=1200)
    seen, cursor = [], None
    while True:
        query = "?status=OPEN&limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await server.request("GET", "/api/lots" + query)
        assert status == 200
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    for query in ("?status=NOPE", "?limit=0", "?limit=x", "?cursor=garbage!"):
        status, error = await server.request("GET", "/api/lots" + query)
        assert (status, error["error"]["code"]) == (400, "validation_error"), query


async def test_unknown_lots_are_404(server):
    for path in ("/api/lots/999999", "/api/lots/abc", "/api/lots/999999/bids"):
        status, error = await server.request("GET", path)
        assert (status, error["error"]["code"]) == (404, "not_found")


async def test_bid_history_is_newest_first_with_aliases(server):
    lot = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    for client, amount in ((alice, 100), (bob, 110), (alice, 150)):
        ack = await client.call("place_bid", bid(lot["id"], amount))
        assert ack["ok"], ack
    status, history = await server.request("GET", f"/api/lots/{lot['id']}/bids")
    assert status == 200
    assert [b["amount"] for b in history["items"]] == [150, 110, 100]
    aliases = [b["bidder"] for b in history["items"]]
    assert aliases[0] == aliases[2] != aliases[1]
    assert all("alice" not in a and "bob" not in a for a in aliases)


async def test_seller_closes_now_and_the_history_records_it(server, db):
    lot = await create_lot(server)
    status, error = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="eve", role="seller"
    )
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, error = await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="bob")
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200
    assert closed["status"] == "UNSOLD"
    status, error = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert (status, error["error"]["code"]) == (409, "lot_not_open")
    async with db.sessions() as session:
        events = (
            await session.scalars(
                select(LotEvent).where(LotEvent.lot_id == lot["id"]).order_by(LotEvent.seq)
            )
        ).all()
    assert [e.type for e in events] == ["created", "status"]
    assert events[-1].data == {"from": "OPEN", "to": "UNSOLD", "reason": "no_bids"}
    assert events[-1].actor_id == "sam"


async def test_cancel_withdraws_an_open_lot_once(server):
    lot = await create_lot(server)
    status, canceled = await server.request(
        "POST", f"/api/lots/{lot['id']}/cancel", as_user="root", role="admin"
    )
    assert (status, canceled["status"]) == (200, "CANCELED")
    status, error = await server.request(
        "POST", f"/api/lots/{lot['id']}/cancel", as_user="root", role="admin"
    )
    assert (status, error["error"]["code"]) == (409, "lot_not_open")
    bidder = await server.socket("alice")
    ack = await bidder.call("place_bid", bid(lot["id"], 5000))
    assert ack == {
        "ok": False,
        "error": {"code": "auction_ended", "message": "Bidding on this lot has ended"},
    }
