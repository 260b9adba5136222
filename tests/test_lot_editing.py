"""`PATCH /api/lots/{id}`: a seller changes a lot before the first bid, with creation's rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.factories import add_lot, bid, create_lot, create_sale, in_seconds, iso


async def patch(server: Any, lot_id: int, body: Any, *, as_user="sam", role="seller"):
    return await server.request(
        "PATCH", f"/api/lots/{lot_id}", as_user=as_user, role=role, json=body
    )


async def test_a_seller_changes_the_terms_before_anyone_bids(server):
    lot = await create_lot(server, title="Vase", starting_price=1000, reserve_price=5000)
    status, changed = await patch(
        server,
        lot["id"],
        {
            "title": "  Blue vase ",
            "description": "Ming, probably",
            "starting_price": 2000,
            "reserve_price": None,
            "buy_now_price": 9000,
        },
    )
    assert status == 200, changed
    assert (changed["title"], changed["description"]) == ("Blue vase", "Ming, probably")
    assert (changed["starting_price"], changed["min_next_bid"]) == (2000, 2000)
    assert (changed["has_reserve"], changed["buy_now_price"]) == (False, 9000)
    status, fetched = await server.request("GET", f"/api/lots/{lot['id']}")
    assert {key: fetched[key] for key in changed if key != "seq"} == {
        key: changed[key] for key in changed if key != "seq"
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reserve_price": 500}, "reserve_price"),  # below the starting price of 1000
        ({"starting_price": 0}, "starting_price"),
        ({"currency": "kwd", "starting_price": 1005}, "starting_price"),
        ({"currency": "xyz"}, "currency"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"starting_price": None}, "starting_price"),
        ({"buy_now_price": 900}, "buy_now_price"),
        ({"seller_id": "mallory"}, "seller_id"),
        ({"status": "SOLD"}, "status"),
        ({}, "body"),
    ],
)
async def test_bad_changes_are_refused_and_change_nothing(server, body, field):
    lot = await create_lot(server, title="Vase", starting_price=1000)
    status, error = await patch(server, lot["id"], body)
    assert (status, error["error"]["code"]) == (400, "validation_error"), error
    assert field in error["error"]["fields"], error
    status, fetched = await server.request("GET", f"/api/lots/{lot['id']}")
    assert fetched == lot


async def test_once_someone_bid_the_terms_stay_as_they_are(server):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    status, error = await patch(server, lot["id"], {"title": "Something else"})
    assert (status, error["error"]["code"]) == (409, "lot_has_bids")
    status, fetched = await server.request("GET", f"/api/lots/{lot['id']}")
    assert fetched["title"] == lot["title"]


async def test_a_standing_maximum_also_freezes_the_terms(server):
    lot = await create_lot(server, starting_price=1000)
    bob = await server.socket("bob")
    ack = await bob.call(
        "set_max_bid", {"lot_id": lot["id"], "max_amount": 5000, "request_id": "m1"}
    )
    assert ack["ok"], ack
    status, error = await patch(server, lot["id"], {"starting_price": 4000})
    assert (status, error["error"]["code"]) == (409, "lot_has_bids")


async def test_only_the_lots_seller_or_an_admin_changes_it_and_only_before_it_closes(server):
    lot = await create_lot(server, seller="sam")
    for user, role, expected in (
        (None, "bidder", 401),
        ("bob", "bidder", 403),
        ("sue", "seller", 403),
    ):
        status, _ = await patch(server, lot["id"], {"title": "Mine now"}, as_user=user, role=role)
        assert status == expected, user
    status, changed = await patch(
        server, lot["id"], {"title": "By admin"}, as_user="root", role="admin"
    )
    assert (status, changed["title"]) == (200, "By admin")
    status, error = await patch(server, 999999, {"title": "x"})
    assert (status, error["error"]["code"]) == (404, "not_found")
    status, _ = await server.request(
        "POST", f"/api/lots/{lot['id']}/cancel", as_user="sam", role="seller"
    )
    assert status == 200
    status, error = await patch(server, lot["id"], {"title": "Too late"})
    assert (status, error["error"]["code"]) == (409, "lot_not_open")


async def test_moving_the_start_schedules_or_opens_the_lot_and_says_so(server):
    lot = await create_lot(server, starts_in=600, ends_in=3600)
    assert lot["status"] == "SCHEDULED"
    watcher = await server.socket()
    assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]

    status, opened = await patch(server, lot["id"], {"starts_at": iso(in_seconds(-1))})
    assert (status, opened["status"]) == (200, "OPEN"), opened
    event = await watcher.wait_for("lot_status", lambda e: e["status"] == "OPEN")
    assert (event["reason"], event["seq"]) == ("edited", opened["seq"])
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], opened["min_next_bid"])))["ok"]

    other = await create_lot(server, ends_in=3600)
    status, scheduled = await patch(server, other["id"], {"starts_at": iso(in_seconds(600))})
    assert (status, scheduled["status"]) == (200, "SCHEDULED")
    ack = await alice.call("place_bid", bid(other["id"], other["min_next_bid"]))
    assert ack["error"]["code"] == "lot_not_open", ack


async def test_a_lot_of_a_sale_keeps_the_sales_currency_and_schedule(server):
    sale = await create_sale(server, buyer_premium_bps=1000)
    lot = await add_lot(server, sale, title="Lot one", starting_price=1000)
    status, error = await patch(
        server, lot["id"], {"currency": "eur", "ends_at": iso(in_seconds(7200))}
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
    assert set(error["error"]["fields"]) == {"currency", "ends_at"}
    status, changed = await patch(
        server, lot["id"], {"title": "Lot one, cleaned", "starting_price": 1500}
    )
    assert status == 200, changed
    assert (changed["title"], changed["starting_price"]) == ("Lot one, cleaned", 1500)
    assert (changed["sale_id"], changed["lot_number"], changed["ends_at"]) == (
        sale["id"],
        1,
        lot["ends_at"],
    )


async def test_an_edit_racing_the_first_bid_never_changes_terms_under_a_bid(server):
    """The lot row lock orders them: a bid lands on the old terms and the edit is refused,
    or the edit lands first and the bid is judged by the new terms."""
    alice = await server.socket("alice")
    for round_number in range(6):
        lot = await create_lot(server, title=f"Race {round_number}", starting_price=1000)
        edit, ack = await asyncio.gather(
            patch(server, lot["id"], {"starting_price": 5000}),
            alice.call("place_bid", bid(lot["id"], 1000)),
        )
        _, after = await server.request("GET", f"/api/lots/{lot['id']}")
        if ack["ok"]:
            assert (edit[0], edit[1]["error"]["code"]) == (409, "lot_has_bids"), edit
            assert (after["starting_price"], after["bid_count"]) == (1000, 1)
        else:
            assert edit[0] == 200, edit
            assert ack["error"]["code"] == "bid_too_low", ack
            assert (after["starting_price"], after["bid_count"]) == (5000, 0)
