"""REQUIRE_CARD_TO_BID (SPEC section 14): without a usable default card (none, removed,
or expiring before the lot ends) a bid, a maximum or a buy-now answers `card_required`
and changes nothing. Off (the default), bidding needs no card."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from server.auctions.models import Bid, Lot, MaxBid
from tests.support.cards import save_card
from tests.support.factories import bid, create_lot


async def _lot_and_bids(db, lot_id):
    async with db.sessions() as session:
        lot = await session.get(Lot, lot_id)
        bids = await session.scalar(select(func.count()).select_from(Bid))
        maxima = await session.scalar(select(func.count()).select_from(MaxBid))
        return (lot.current_bid, lot.bid_count, lot.seq, lot.status, bids, maxima)


async def test_without_a_usable_card_every_way_to_bid_is_refused_and_changes_nothing(
    start_server, db, localstripe
):
    server = await start_server(require_card_to_bid=True)
    lot = await create_lot(server, starting_price=1000, buy_now_price=9000)
    before = await _lot_and_bids(db, lot["id"])
    alice = await server.socket("alice")
    for event, payload in (
        ("place_bid", bid(lot["id"], 1000)),
        ("place_bid", {**bid(lot["id"], 1000), "max_amount": 5000}),
        ("set_max_bid", {"lot_id": lot["id"], "max_amount": 5000, "request_id": "m1"}),
        ("buy_now", {"lot_id": lot["id"], "request_id": "b1"}),
    ):
        ack = await alice.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "card_required", (event, ack)
    assert await _lot_and_bids(db, lot["id"]) == before

    # A card that lapses before the lot ends is no better.
    now = datetime.now(UTC)
    late_lot = await create_lot(server, starting_price=1000, ends_in=75 * 24 * 3600)
    await save_card(server, localstripe.url, "alice", exp_month=now.month, exp_year=now.year)
    ack = await alice.call("place_bid", bid(late_lot["id"], 1000))
    assert ack["error"]["code"] == "card_required"
    # It still covers a lot that ends within its month... at least one ending in an hour
    # (unless the month ends within the hour: then it too is refused).
    ack = await alice.call("place_bid", bid(lot["id"], 1000))
    ends = datetime.fromisoformat(lot["ends_at"])
    assert ack["ok"] is (ends.month == now.month), ack

    # A valid card: accepted. Removed again: refused.
    card = await save_card(server, localstripe.url, "alice")
    ack = await alice.call("place_bid", bid(late_lot["id"], 1000))
    assert ack["ok"] is True, ack
    status, _ = await server.request("DELETE", f"/api/me/cards/{card['id']}", as_user="alice")
    assert status == 204
    status, cards = await server.request("GET", "/api/me/cards", as_user="alice")
    assert [c["default"] for c in cards["items"]] == [True]  # the lapsing one is left
    bob = await server.socket("bob")
    await save_card(server, localstripe.url, "bob")
    ack = await bob.call("place_bid", bid(late_lot["id"], 2000))
    assert ack["ok"] is True, ack
    before = await _lot_and_bids(db, late_lot["id"])
    ack = await alice.call("place_bid", bid(late_lot["id"], 3000))
    assert ack["error"]["code"] == "card_required"
    assert await _lot_and_bids(db, late_lot["id"]) == before


async def test_off_by_default_bids_need_no_card(server, db):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 1000))
    assert ack["ok"] is True, ack
