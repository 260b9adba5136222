"""Maximum (proxy) bids, eBay's way (SPEC section 13): the cases of eBay's help on
automatic bidding, through real sockets against the real database.

Lots here use a fixed increment of 100 so every expected price is plain arithmetic.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from server.auctions.models import Bid, Lot, MaxBid
from tests.support.factories import bid, create_lot


def with_max(lot_id: int, amount: int, max_amount: int, request_id: str | None = None) -> dict:
    return {**bid(lot_id, amount, request_id), "max_amount": max_amount}


def set_max(lot_id: int, max_amount: int, request_id: str | None = None) -> dict[str, Any]:
    return {
        "lot_id": lot_id,
        "max_amount": max_amount,
        "request_id": request_id or uuid.uuid4().hex,
    }


async def history(db: Any, lot_id: int) -> list[tuple[str, int, bool]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Bid.bidder_id, Bid.amount, Bid.auto).where(Bid.lot_id == lot_id).order_by(Bid.id)
        )
        return [tuple(row) for row in rows]


async def lot_row(db: Any, lot_id: int) -> Lot:
    async with db.sessions() as session:
        lot = await session.get(Lot, lot_id)
        assert lot is not None
        return lot


async def hundred_lot(server: Any, **fields: Any) -> int:
    lot = await create_lot(server, starting_price=1000, bid_increment=100, **fields)
    return int(lot["id"])


async def test_a_standing_maximum_answers_a_bid_at_that_bid_plus_one_increment(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    ack = await alice.call("place_bid", with_max(lot_id, 1000, 5000))
    assert ack["ok"] and ack["leading"] and ack["max_amount"] == 5000
    assert ack["lot"]["current_bid"] == 1000
    ack = await bob.call("place_bid", bid(lot_id, 2000))
    assert ack["ok"] and ack["leading"] is False, ack
    assert ack["bid"]["amount"] == 2000 and ack["bid"]["auto"] is False
    assert ack["lot"]["current_bid"] == 2100
    assert await history(db, lot_id) == [
        ("alice", 1000, False),
        ("bob", 2000, False),
        ("alice", 2100, True),
    ]
    outbid = await bob.wait_for("outbid", lambda e: e["lot_id"] == lot_id)
    assert (outbid["amount"], outbid["your_amount"]) == (2100, 2000)
    assert alice.events["outbid"] == []  # alice never lost the lead


async def test_equal_maxima_the_earlier_wins_at_that_amount(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    ack = await bob.call("place_bid", with_max(lot_id, 2000, 5000))
    assert ack["ok"] and ack["leading"] is False
    assert ack["lot"]["current_bid"] == 5000
    assert (
        ack["lot"]["high_bidder"]
        == (await alice.call("join_lot", {"lot_id": lot_id}))["lot"]["high_bidder"]
    )
    assert await history(db, lot_id) == [
        ("alice", 1000, False),
        ("bob", 2000, False),
        ("alice", 5000, True),
    ]
    assert (await lot_row(db, lot_id)).high_bidder_id == "alice"


async def test_a_maximum_exactly_one_increment_above_wins_at_it(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    ack = await bob.call("place_bid", with_max(lot_id, 2000, 5100))
    assert ack["ok"] and ack["leading"]
    assert ack["bid"]["amount"] == 2000
    assert ack["lot"]["current_bid"] == 5100
    assert await history(db, lot_id) == [
        ("alice", 1000, False),
        ("bob", 2000, False),
        ("alice", 5000, True),
        ("bob", 5100, True),
    ]
    outbid = await alice.wait_for("outbid", lambda e: e["lot_id"] == lot_id)
    assert (outbid["amount"], outbid["your_amount"]) == (5100, 5000)
    assert len(alice.events["outbid"]) == 1


async def test_a_maximum_less_than_one_increment_above_wins_at_itself(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    ack = await bob.call("place_bid", with_max(lot_id, 2000, 5050))
    assert ack["ok"] and ack["leading"]
    assert ack["lot"]["current_bid"] == 5050  # capped at the higher maximum


async def test_the_higher_maximum_wins_at_the_lower_plus_one_increment(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    ack = await bob.call("set_max_bid", set_max(lot_id, 9000))
    assert ack == {**ack, "ok": True, "leading": True, "max_amount": 9000}
    assert ack["lot"]["current_bid"] == 5100
    rows = await history(db, lot_id)
    assert rows == [
        ("alice", 1000, False),
        ("bob", 1100, True),
        ("alice", 5000, True),
        ("bob", 5100, True),
    ]


async def test_a_maximum_below_the_next_minimum_is_refused_with_bid_too_low(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", bid(lot_id, 2000)))["ok"]
    before = await history(db, lot_id)
    for call, payload in (
        ("set_max_bid", set_max(lot_id, 2050)),
        ("place_bid", with_max(lot_id, 2100, 2050)),
    ):
        ack = await bob.call(call, payload)
        assert ack["ok"] is False and ack["error"]["code"] in ("bid_too_low", "validation_error")
    ack = await bob.call("set_max_bid", set_max(lot_id, 2050))
    assert ack["error"]["code"] == "bid_too_low"
    assert ack["error"]["min_next_bid"] == 2100
    assert await history(db, lot_id) == before
    async with db.sessions() as session:
        assert (await session.scalars(select(MaxBid).where(MaxBid.lot_id == lot_id))).all() == []


async def test_a_maximum_must_be_chargeable(server):
    lot_id = await hundred_lot(server)
    bob = await server.socket("bob")
    ack = await bob.call("set_max_bid", set_max(lot_id, 10**12))
    assert ack["error"]["code"] == "amount_too_large", ack


async def test_the_leader_raises_their_own_maximum_without_outbidding_themselves(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    watcher = await server.socket("walter")
    await watcher.call("join_lot", {"lot_id": lot_id})
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    seq = (await lot_row(db, lot_id)).seq
    ack = await alice.call("set_max_bid", set_max(lot_id, 8000))
    assert ack["ok"] and ack["leading"] and ack["max_amount"] == 8000
    assert ack["lot"]["current_bid"] == 1000  # no self-outbid: the price stays
    assert (await lot_row(db, lot_id)).seq == seq
    lower = await alice.call("set_max_bid", set_max(lot_id, 6000))
    assert lower["error"]["code"] == "bid_too_low"  # a maximum is never lowered
    plain = await alice.call("place_bid", bid(lot_id, 1100))
    assert plain["error"]["code"] == "already_highest"
    ack = await bob.call("place_bid", with_max(lot_id, 2000, 7000))
    assert ack["ok"] and not ack["leading"]
    assert ack["lot"]["current_bid"] == 7100
    room = watcher.events["bid_placed"]
    await watcher.wait_for("bid_placed", lambda e: e["amount"] == 7100)
    assert [e["amount"] for e in room] == [1000, 2000, 7000, 7100]
    assert [e["auto"] for e in room] == [False, False, True, True]


async def test_a_maximum_that_reaches_the_reserve_bids_the_reserve_and_ends_buy_now(server, db):
    lot = await create_lot(
        server, starting_price=1000, bid_increment=100, reserve_price=3000, buy_now_price=6000
    )
    lot_id = lot["id"]
    assert lot["buy_now_price"] == 6000
    alice, watcher = await server.socket("alice"), await server.socket("walter")
    await watcher.call("join_lot", {"lot_id": lot_id})
    ack = await alice.call("place_bid", with_max(lot_id, 1000, 4000))
    assert ack["ok"] and ack["lot"]["current_bid"] == 3000 and ack["lot"]["reserve_met"]
    assert ack["lot"]["buy_now_price"] is None
    status = await watcher.wait_for("lot_status", lambda e: e["reason"] == "buy_now_withdrawn")
    assert status["status"] == "OPEN" and status["buy_now_price"] is None
    assert await history(db, lot_id) == [("alice", 1000, False), ("alice", 3000, True)]
    refused = await (await server.socket("bob")).call(
        "buy_now", {"lot_id": lot_id, "request_id": "b1"}
    )
    assert refused["error"]["code"] == "buy_now_unavailable"


async def test_anti_sniping_extends_once_per_triggering_bid(start_server, db):
    server = await start_server(anti_sniping_window_seconds=600, anti_sniping_extension_seconds=300)
    lot = await create_lot(server, starting_price=1000, bid_increment=100, ends_in=300)
    lot_id = lot["id"]
    alice, bob, watcher = [await server.socket(n) for n in ("alice", "bob", "walter")]
    await watcher.call("join_lot", {"lot_id": lot_id})
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    ack = await bob.call("place_bid", bid(lot_id, 2000))  # answered by alice's maximum
    assert ack["ok"] and ack["lot"]["current_bid"] == 2100
    answer = await watcher.wait_for("bid_placed", lambda e: e["amount"] == 2100)
    await watcher.wait_for("lot_extended", lambda e: e["seq"] == answer["seq"] + 1)
    # one extension per triggering bid: alice's opening bid and bob's, not alice's answer
    assert len(watcher.events["lot_extended"]) == 2
    seqs = [e["seq"] for name in ("bid_placed", "lot_extended") for e in watcher.events[name]]
    assert sorted(seqs) == list(range(min(seqs), min(seqs) + len(seqs)))


async def test_the_winner_pays_the_price_and_the_runner_up_is_offered_their_highest_bid(
    start_server, db
):
    """eBay's rule: each bidder's commitment is their highest visible bid. The winner's
    maximum is never charged; the runner-up, whose maximum lost, is offered at it."""
    server = await start_server(payment_window_seconds=2)
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot_id})
    assert (await bob.call("place_bid", with_max(lot_id, 1000, 4000)))["ok"]
    assert (await alice.call("place_bid", with_max(lot_id, 2000, 9000)))["ok"]
    assert (await lot_row(db, lot_id)).current_bid == 4100
    await server.request("POST", f"/api/lots/{lot_id}/close", as_user="sam", role="seller")
    first = await alice.wait_for("payment_required", lambda e: e["lot_id"] == lot_id, timeout=10)
    assert first["breakdown"]["hammer"] == 4100  # the price, not alice's maximum of 9000
    # alice lets the window lapse: bob is offered the lot at his own highest bid, 4000
    offered = await bob.wait_for("payment_required", lambda e: e["lot_id"] == lot_id, timeout=15)
    assert offered["breakdown"]["hammer"] == 4000
    status = await watcher.wait_for(
        "lot_status", lambda e: e["reason"] == "offered_to_next_bidder", timeout=10
    )
    assert status["hammer_price"] == 4000
