"""Bids of several lots due at once share one transaction (`place_group`).

To put several lots' bids into one group for sure, the test takes every batch
slot of the server (`MAX_CONCURRENT_BATCHES`) with seller's bids on filler lots
whose row locks it holds: the bids sent meanwhile on the lots under test wait
for a slot, and once the fillers are released the first of those lots to get a
slot takes the others' waiting bids into its transaction. That they shared a
transaction is read from PostgreSQL: rows written by one transaction have one
`xmin`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text

from server.auctions.batching import MAX_CONCURRENT_BATCHES
from tests.support.factories import bid, create_lot
from tests.test_bid_batches import _until_blocked, batches_run, history, until


@asynccontextmanager
async def slots_taken(server: Any, db: Any) -> AsyncIterator[None]:
    """Every batch slot held (by filler lots whose locks the test holds) until the block ends."""
    seller = await server.socket("sam", role="seller")
    fillers = [
        await create_lot(server, starting_price=100, bid_increment=10)
        for _ in range(MAX_CONCURRENT_BATCHES)
    ]
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(
            text("SELECT id FROM lots WHERE id = ANY(:ids) FOR UPDATE"),
            {"ids": [lot["id"] for lot in fillers]},
        )
        openers = []
        for lot in fillers:
            # One at a time: each filler's batch starts (and waits on its lock) alone.
            before = batches_run(server)
            openers.append(asyncio.create_task(seller.call("place_bid", bid(lot["id"], 10**6))))
            await until(lambda before=before: batches_run(server) == before + 1)
        try:
            yield
        finally:
            await transaction.rollback()
    for ack in await asyncio.gather(*openers):
        assert ack["error"]["code"] == "own_lot", ack


async def queue(server: Any, sends: list[tuple[Any, dict[str, Any]]]) -> list[asyncio.Task[Any]]:
    """Send each (client, payload) and wait until it waits in its lot's queue, in order."""
    batcher = server.context.bid_batcher
    calls = []
    for client, payload in sends:
        lot_id = payload["lot_id"]
        before = batcher.waiting(lot_id)
        calls.append(asyncio.create_task(client.call("place_bid", payload)))
        await until(lambda lot_id=lot_id, before=before: batcher.waiting(lot_id) == before + 1)
    return calls


async def writers(db: Any, lot_ids: list[int]) -> dict[int, set[str]]:
    """Per lot, the transactions (xmin) that wrote its bids."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT lot_id, CAST(xmin AS text) FROM bids WHERE lot_id = ANY(:ids)"),
            {"ids": lot_ids},
        )
        found: dict[int, set[str]] = {lot_id: set() for lot_id in lot_ids}
        for lot_id, xmin in rows:
            found[lot_id].add(xmin)
        return found


async def test_lots_due_at_once_share_one_transaction_each_judged_on_its_own(server, db):
    first = await create_lot(server, starting_price=100, bid_increment=10)
    second = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob, carol, dave, erin = [
        await server.socket(name) for name in ("alice", "bob", "carol", "dave", "erin")
    ]
    async with slots_taken(server, db):
        calls = await queue(
            server,
            [
                (alice, bid(first["id"], 100)),
                (dave, {**bid(second["id"], 100), "max_amount": 500}),
                (bob, bid(first["id"], 105)),
                (erin, bid(second["id"], 150)),
                (carol, bid(first["id"], 110)),
            ],
        )
    acks = await asyncio.gather(*calls)
    a100, d100, b105, e150, c110 = acks
    assert a100["ok"] and c110["ok"] and d100["ok"] and e150["ok"], acks
    assert b105["ok"] is False and b105["error"]["code"] == "bid_too_low"
    assert b105["error"]["min_next_bid"] == 110
    assert c110["lot"]["current_bid"] == 110 and c110["lot"]["bid_count"] == 2
    # The house answered erin for dave's maximum, in the same transaction.
    assert e150["leading"] is False and e150["lot"]["current_bid"] == 160
    assert [(who, amount) for _, who, amount in await history(db, first["id"])] == [
        ("alice", 100),
        ("carol", 110),
    ]
    assert [(who, amount) for _, who, amount in await history(db, second["id"])] == [
        ("dave", 100),
        ("erin", 150),
        ("dave", 160),
    ]
    found = await writers(db, [first["id"], second["id"]])
    assert len(found[first["id"]] | found[second["id"]]) == 1, "the lots did not share one"
    async with db.engine.connect() as conn:
        lots = await conn.execute(
            text(
                "SELECT id, current_bid, high_bidder_id, bid_count FROM lots WHERE id = ANY(:ids)"
            ),
            {"ids": [first["id"], second["id"]]},
        )
        assert sorted(tuple(row) for row in lots) == sorted(
            [(first["id"], 110, "carol", 2), (second["id"], 160, "dave", 3)]
        )


async def test_a_lot_closed_meanwhile_is_left_out_and_never_holds_up_the_others(server, db):
    """A group skips a lot held locked elsewhere (here: closing); that lot's bid runs alone."""
    first = await create_lot(server, starting_price=100, bid_increment=10)
    second = await create_lot(server, starting_price=100, bid_increment=10)
    closing = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob, carol = [await server.socket(name) for name in ("alice", "bob", "carol")]
    async with db.engine.connect() as conn:
        close = await conn.begin()
        await conn.execute(
            text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": closing["id"]}
        )
        async with slots_taken(server, db):
            calls = await queue(
                server,
                [
                    (alice, bid(closing["id"], 100)),
                    (bob, bid(first["id"], 100)),
                    (carol, bid(second["id"], 100)),
                ],
            )
        # The closing lot's row is still held: the others are answered all the same.
        assert (await calls[1])["ok"] and (await calls[2])["ok"]
        assert not calls[0].done()
        assert await history(db, closing["id"]) == []
        await conn.execute(
            text("UPDATE lots SET status = 'UNSOLD' WHERE id = :id"), {"id": closing["id"]}
        )
        await close.commit()
    late = await calls[0]
    assert late["ok"] is False and late["error"]["code"] == "auction_ended", late
    assert await history(db, closing["id"]) == []
    found = await writers(db, [first["id"], second["id"]])
    assert found[first["id"]] == found[second["id"]], "the two open lots did not share one"


async def test_a_lot_whose_write_fails_does_not_fail_the_other_lots_bids(server, db):
    """The group's transaction fails whole; each lot then runs alone and only its own fails."""
    good = await create_lot(server, starting_price=100, bid_increment=10)
    bad = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_bid() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_bid BEFORE INSERT ON bids FOR EACH ROW "
                f"WHEN (NEW.lot_id = {int(bad['id'])}) EXECUTE FUNCTION refuse_bid()"
            )
        )
    try:
        async with slots_taken(server, db):
            calls = await queue(server, [(alice, bid(bad["id"], 100)), (bob, bid(good["id"], 100))])
        failed, placed = await asyncio.gather(*calls)
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_bid ON bids"))
            await conn.execute(text("DROP FUNCTION refuse_bid()"))
    assert failed["ok"] is False and failed["error"]["code"] == "internal", failed
    assert placed["ok"], placed
    assert [(who, amount) for _, who, amount in await history(db, good["id"])] == [("bob", 100)]
    assert await history(db, bad["id"]) == []


async def test_one_request_id_on_two_lots_of_a_group_is_one_request(server, db, caplog):
    """Seen before the insert: the group neither fails nor runs again."""
    caplog.set_level(logging.INFO, logger="server.auctions.bids")
    first = await create_lot(server, starting_price=100, bid_increment=10)
    second = await create_lot(server, starting_price=100, bid_increment=10)
    alice = await server.socket("alice")
    async with slots_taken(server, db):
        calls = await queue(
            server,
            [(alice, bid(first["id"], 100, "once")), (alice, bid(second["id"], 100, "once"))],
        )
    placed, reused = await asyncio.gather(*calls)
    assert placed["ok"], placed
    assert reused["ok"] is False and reused["error"]["code"] == "conflict", reused
    assert await history(db, second["id"]) == []
    assert "raced another lot" not in caplog.text and "each runs alone" not in caplog.text


async def test_no_ack_before_the_group_commits(server, db):
    """A group waiting on its write (a request_id race) answers none of its bids until it
    commits; the race then refuses only the bid that lost it."""
    first = await create_lot(server, starting_price=100, bid_increment=10)
    second = await create_lot(server, starting_price=100, bid_increment=10)
    other = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    await alice.call("place_bid", bid(other["id"], 100))  # alice exists as a user
    async with db.engine.connect() as conn:
        race = await conn.begin()
        await conn.execute(
            text(
                "INSERT INTO bids (lot_id, bidder_id, amount, request_id) "
                "VALUES (:lot, 'alice', 5000, 'contested')"
            ),
            {"lot": other["id"]},
        )
        async with slots_taken(server, db):
            calls = await queue(
                server,
                [(bob, bid(first["id"], 100)), (alice, bid(second["id"], 100, "contested"))],
            )
        await _until_blocked(db, "INSERT")
        # Bob's bid is written, but its transaction has not committed: no answer yet.
        assert not calls[0].done()
        assert await history(db, first["id"]) == []
        await race.commit()
    placed, lost = await asyncio.gather(*calls)
    assert placed["ok"], placed
    assert [(who, amount) for _, who, amount in await history(db, first["id"])] == [("bob", 100)]
    assert lost["ok"] is False and lost["error"]["code"] == "conflict", lost
