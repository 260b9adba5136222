"""What the room sees: the sale in force, reserve_met, and events only after their commit.

Against the real app, database and Stripe stand-in: `hammer_price` and
`winner` follow the offer being paid for (the winner's, then the next
bidder's), in GET /api/lots/{id}, the list, join_lot and every `lot_status`;
a next-bidder offer never goes below the reserve; `bid_placed` carries
`reserve_met` and is sent only once the bid is committed; anti-sniping never
moves the end earlier; `min_next_bid - 1` is refused and `min_next_bid` taken.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp
import socketio
from sqlalchemy import select, text

from server.auctions.models import Lot
from server.payments.models import Payment
from tests.support.factories import bid, create_lot
from tests.support.sales import pay


async def _lot(server, lot_id: int) -> dict[str, Any]:
    status, lot = await server.request("GET", f"/api/lots/{lot_id}")
    assert status == 200, lot
    return lot


async def _status(watcher, lot_id: int, status: str, reason: str | None = None, timeout=10):
    return await watcher.wait_for(
        "lot_status",
        lambda e: (
            e["lot_id"] == lot_id
            and e["status"] == status
            and (reason is None or e["reason"] == reason)
        ),
        timeout=timeout,
    )


async def _wait_for_status(db, lot_id: int, status: str) -> None:
    for _ in range(150):
        async with db.sessions() as session:
            if (await session.get(Lot, lot_id)).status == status:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"lot {lot_id} never became {status}")


async def test_hammer_and_winner_follow_the_offer_in_force(start_server, db, localstripe):
    server = await start_server(payment_window_seconds=3)
    lot = await create_lot(server, starting_price=1000, bid_increment=100)
    lot_id = lot["id"]
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot_id})
    sockets, aliases = {}, {}
    for who, amount in (("bob", 1000), ("carol", 2000), ("alice", 5000)):
        sockets[who] = await server.socket(who)
        ack = await sockets[who].call("place_bid", bid(lot_id, amount))
        assert ack["ok"], ack
        aliases[who] = ack["bid"]["bidder"]
    open_lot = await _lot(server, lot_id)
    assert (open_lot["hammer_price"], open_lot["winner"]) == (None, None)

    await server.request("POST", f"/api/lots/{lot_id}/close", as_user="sam", role="seller")
    closed = await _status(watcher, lot_id, "PENDING_PAYMENT")
    assert (closed["hammer_price"], closed["winner"]) == (5000, aliases["alice"])
    first = await _lot(server, lot_id)
    assert (first["hammer_price"], first["winner"]) == (5000, aliases["alice"])

    # Alice lets the window lapse: carol is offered the lot at her own bid.
    offered = await _status(watcher, lot_id, "PENDING_PAYMENT", "offered_to_next_bidder")
    assert (offered["hammer_price"], offered["winner"]) == (2000, aliases["carol"])
    second = await _lot(server, lot_id)
    assert (second["hammer_price"], second["winner"]) == (2000, aliases["carol"])
    assert (second["current_bid"], second["high_bidder"]) == (5000, aliases["alice"])
    _, listing = await server.request("GET", "/api/lots")
    listed = next(item for item in listing["items"] if item["id"] == lot_id)
    assert (listed["hammer_price"], listed["winner"]) == (2000, aliases["carol"])
    late = await server.socket(None)
    snapshot = (await late.call("join_lot", {"lot_id": lot_id}))["lot"]
    assert (snapshot["hammer_price"], snapshot["winner"]) == (2000, aliases["carol"])

    info = await sockets["carol"].wait_for("payment_required", timeout=10)
    assert info["breakdown"]["hammer"] == 2000
    await pay(localstripe.url, info, sockets["carol"])
    sold = await _status(watcher, lot_id, "SOLD")
    assert (sold["hammer_price"], sold["winner"]) == (2000, aliases["carol"])
    final = await _lot(server, lot_id)
    assert (final["status"], final["hammer_price"], final["winner"]) == (
        "SOLD",
        2000,
        aliases["carol"],
    )


async def test_an_unsold_lot_after_every_offer_lapsed_shows_no_sale(start_server, db):
    server = await start_server(payment_window_seconds=1)
    lot = await create_lot(server, starting_price=1000, bid_increment=100)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    for who, amount in (("bob", 1000), ("alice", 5000)):
        assert (await (await server.socket(who)).call("place_bid", bid(lot["id"], amount)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    unsold = await _status(watcher, lot["id"], "UNSOLD", timeout=15)
    assert (unsold["hammer_price"], unsold["winner"]) == (None, None)
    final = await _lot(server, lot["id"])
    assert (final["hammer_price"], final["winner"], final["current_bid"]) == (None, None, 5000)


async def test_a_next_bidder_offer_never_goes_below_the_reserve(start_server, db):
    server = await start_server(payment_window_seconds=1)
    lot = await create_lot(server, starting_price=1000, bid_increment=100, reserve_price=3000)
    bob, alice = await server.socket("bob"), await server.socket("alice")
    assert (await bob.call("place_bid", bid(lot["id"], 2900)))["ok"]
    assert (await alice.call("place_bid", bid(lot["id"], 3000)))["ok"]
    await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
    await alice.wait_for("payment_expired", timeout=8)
    await _wait_for_status(db, lot["id"], "UNSOLD")
    async with db.sessions() as session:
        offered = (
            await session.scalars(select(Payment.buyer_id).where(Payment.lot_id == lot["id"]))
        ).all()
    assert offered == ["alice"]
    assert bob.events["payment_required"] == []


async def test_bid_placed_carries_reserve_met(server):
    lot = await create_lot(server, starting_price=1000, bid_increment=100, reserve_price=3000)
    plain = await create_lot(server, starting_price=1000)
    watcher = await server.socket(None)
    for each in (lot, plain):
        await watcher.call("join_lot", {"lot_id": each["id"]})
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", bid(lot["id"], 2900)))["ok"]
    assert (await bob.call("place_bid", bid(lot["id"], 3000)))["ok"]
    assert (await alice.call("place_bid", bid(plain["id"], 1000)))["ok"]
    below = await watcher.wait_for("bid_placed", lambda e: e["amount"] == 2900)
    met = await watcher.wait_for("bid_placed", lambda e: e["amount"] == 3000)
    unreserved = await watcher.wait_for("bid_placed", lambda e: e["lot_id"] == plain["id"])
    assert (below["reserve_met"], met["reserve_met"], unreserved["reserve_met"]) == (
        False,
        True,
        True,
    )


async def test_a_watcher_reading_the_lot_on_bid_placed_sees_the_bid(server, db):
    """`bid_placed` leaves only after the bid's commit.

    The database is made to take half a second over this lot's bid commits (a
    deferred trigger), so an event sent before the commit would reach the
    watcher while the lot still reads as before the bid.
    """
    lot = await create_lot(server, starting_price=1000, bid_increment=100)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION test_slow_bid_commit() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER test_slow_bid_commit AFTER INSERT ON bids "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"WHEN (NEW.lot_id = {int(lot['id'])}) EXECUTE FUNCTION test_slow_bid_commit()"
            )
        )
    seen: list[tuple[int, Any]] = []
    watcher = socketio.AsyncClient(reconnection=False)

    async with aiohttp.ClientSession() as http:

        async def on_bid_placed(event: dict[str, Any]) -> None:
            async with http.get(f"{server.url}/api/lots/{event['lot_id']}") as response:
                fetched = await response.json()
            seen.append((event["amount"], fetched["current_bid"]))

        watcher.on("bid_placed", on_bid_placed)
        try:
            await watcher.connect(server.url, transports=["websocket"], wait_timeout=5)
            await watcher.call("join_lot", {"lot_id": lot["id"]})
            alice = await server.socket("alice")
            for amount in (1000, 1100):
                bidder = alice if amount == 1000 else await server.socket("bob")
                assert (await bidder.call("place_bid", bid(lot["id"], amount)))["ok"]
            for _ in range(100):
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await watcher.disconnect()
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP TRIGGER test_slow_bid_commit ON bids"))
                await conn.execute(text("DROP FUNCTION test_slow_bid_commit()"))
    assert seen == [(1000, 1000), (1100, 1100)]


async def test_anti_sniping_never_moves_the_end_earlier(start_server):
    server = await start_server(anti_sniping_window_seconds=60, anti_sniping_extension_seconds=10)
    lot = await create_lot(server, starting_price=1000, ends_in=50)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 1000))
    assert ack["ok"], ack
    event = await watcher.wait_for("bid_placed")
    fetched = await _lot(server, lot["id"])
    original = datetime.fromisoformat(lot["ends_at"])
    for ends_at in (ack["lot"]["ends_at"], event["ends_at"], fetched["ends_at"]):
        assert datetime.fromisoformat(ends_at) == original
    assert watcher.events["lot_extended"] == []


async def test_a_bid_near_the_end_extends_it(start_server):
    server = await start_server(anti_sniping_window_seconds=60, anti_sniping_extension_seconds=120)
    lot = await create_lot(server, starting_price=1000, ends_in=30)
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 1000))
    assert datetime.fromisoformat(ack["lot"]["ends_at"]) > datetime.fromisoformat(lot["ends_at"])


async def test_min_next_bid_is_the_exact_boundary(server):
    lot = await create_lot(server, starting_price=1000)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    floor = lot["min_next_bid"]
    assert floor == 1000
    for bidder in (alice, bob, alice):
        low = await bidder.call("place_bid", bid(lot["id"], floor - 1))
        assert low["ok"] is False
        assert (low["error"]["code"], low["error"]["min_next_bid"]) == ("bid_too_low", floor)
        ack = await bidder.call("place_bid", bid(lot["id"], floor))
        assert ack["ok"] is True, ack
        assert ack["lot"]["current_bid"] == floor
        floor = ack["lot"]["min_next_bid"]
    assert (await _lot(server, lot["id"]))["bid_count"] == 3


async def test_min_next_bid_boundary_in_a_three_decimal_currency(server):
    lot = await create_lot(server, currency="kwd", starting_price=1000, bid_increment=250)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    low = await bob.call("place_bid", bid(lot["id"], 1240))
    assert low["error"]["code"] == "bid_too_low" and low["error"]["min_next_bid"] == 1250
    assert (await bob.call("place_bid", bid(lot["id"], 1250)))["ok"]
