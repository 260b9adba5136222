"""Bids on one lot applied in batches: each bid judged against the one before it.

To put bids in one batch for sure, the test holds the lot's row lock from its
own connection: the first bid's transaction waits on it, and the bids sent
meanwhile queue in the server (`LotBatcher.waiting`) and go together into the
next transaction once the lock is released.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, text

from server.auctions.models import Bid, Lot, LotEvent
from tests.support.factories import bid, create_lot


@asynccontextmanager
async def lot_locked(db: Any, lot_id: int) -> AsyncIterator[None]:
    """Hold the lot's row lock until the block ends."""
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": lot_id})
        try:
            yield
        finally:
            await transaction.rollback()


async def until(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the condition never came true"
        await asyncio.sleep(0.01)


def batches_run(server: Any) -> float:
    value = server.context.metrics.registry.get_sample_value("auction_bid_batch_size_count")
    return value or 0.0


async def one_batch(server: Any, db: Any, lot_id: int, sends: list[tuple[Any, dict[str, Any]]]):
    """Send `sends` (client, bid) so that they are applied in one batch, in this order.

    A refused opener (the seller's own bid) takes the first transaction and waits on the
    lock the test holds; the others queue behind it one by one, so their arrival order is
    the list's order. Returns their acks.
    """
    seller = await server.socket("sam", role="seller")
    before = batches_run(server)
    async with lot_locked(db, lot_id):
        opener = asyncio.create_task(seller.call("place_bid", bid(lot_id, 10**6)))
        await until(lambda: batches_run(server) == before + 1)
        calls = []
        for n, (client, payload) in enumerate(sends, start=1):
            calls.append(asyncio.create_task(client.call("place_bid", payload)))
            await until(lambda n=n: server.context.bid_batcher.waiting(lot_id) == n)
    assert (await opener)["error"]["code"] == "own_lot"
    acks = list(await asyncio.gather(*calls))
    assert batches_run(server) == before + 2, "the bids did not share one batch"
    return acks


async def history(db: Any, lot_id: int) -> list[tuple[int, str, int]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(Bid.id, Bid.bidder_id, Bid.amount).where(Bid.lot_id == lot_id).order_by(Bid.id)
        )
        return [tuple(row) for row in rows]


async def test_a_bid_below_the_minimum_its_batch_neighbour_set_is_refused(server, db):
    lot = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob, carol = [await server.socket(name) for name in ("alice", "bob", "carol")]
    acks = await one_batch(
        server,
        db,
        lot["id"],
        [(alice, bid(lot["id"], 200)), (bob, bid(lot["id"], 205)), (carol, bid(lot["id"], 210))],
    )
    assert acks[0]["ok"] and acks[2]["ok"], acks
    assert acks[1]["ok"] is False
    assert acks[1]["error"]["code"] == "bid_too_low"
    assert acks[1]["error"]["min_next_bid"] == 210
    assert acks[0]["lot"]["min_next_bid"] == 210
    assert acks[2]["lot"]["current_bid"] == 210
    assert acks[2]["lot"]["bid_count"] == 2
    assert await history(db, lot["id"]) == [
        (acks[0]["bid"]["id"], "alice", 200),
        (acks[2]["bid"]["id"], "carol", 210),
    ]
    async with db.sessions() as session:
        final = await session.get(Lot, lot["id"])
    assert (final.current_bid, final.high_bidder_id, final.bid_count) == (210, "carol", 2)
    assert final.high_bid_id == acks[2]["bid"]["id"]
    assert final.seq == lot["seq"] + 2


async def test_one_request_id_twice_in_a_batch_places_one_bid_with_one_answer(server, db):
    lot = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    same = bid(lot["id"], 150, "twice")
    acks = await one_batch(
        server,
        db,
        lot["id"],
        [
            (alice, same),
            (bob, bid(lot["id"], 160)),
            (alice, same),
            (alice, bid(lot["id"], 999, "twice")),
        ],
    )
    assert acks[0]["ok"] and acks[1]["ok"] and acks[2]["ok"], acks
    assert acks[2] == acks[0]
    assert acks[3]["ok"] is False and acks[3]["error"]["code"] == "conflict"
    rows = await history(db, lot["id"])
    assert [amount for _, _, amount in rows] == [150, 160]
    # A retry in a later batch gets the same bid back.
    again = await alice.call("place_bid", same)
    assert again["ok"] and again["bid"] == acks[0]["bid"]
    assert len(await history(db, lot["id"])) == 2


async def test_a_refused_bid_in_the_middle_leaves_the_others_standing(server, db):
    lot = await create_lot(server, starting_price=100, bid_increment=10)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice, bob = await server.socket("alice"), await server.socket("bob")
    seller = await server.socket("sam", role="seller")
    acks = await one_batch(
        server,
        db,
        lot["id"],
        [
            (alice, bid(lot["id"], 100)),
            (alice, bid(lot["id"], 300)),  # already the highest
            (seller, bid(lot["id"], 400)),  # own lot
            (bob, bid(lot["id"], 50)),  # too low
            (bob, bid(lot["id"], 110)),
        ],
    )
    codes = [a["bid"]["amount"] if a["ok"] else a["error"]["code"] for a in acks]
    assert codes == [100, "already_highest", "own_lot", "bid_too_low", 110]
    placed = await watcher.wait_for("bid_placed", lambda e: e["amount"] == 110)
    assert [e["amount"] for e in watcher.events["bid_placed"]] == [100, 110]
    assert placed["seq"] == lot["seq"] + 2 == acks[4]["lot"]["seq"]
    outbid = await alice.wait_for("outbid")
    assert outbid == {"lot_id": lot["id"], "amount": 110, "your_amount": 100, "min_next_bid": 120}


async def test_a_batch_in_the_sniping_window_extends_once_per_bid_that_moves_the_end(
    start_server, db
):
    # The window is wider than the extension: every bid in it moves the end again.
    server = await start_server(anti_sniping_window_seconds=60, anti_sniping_extension_seconds=30)
    lot = await create_lot(server, starting_price=100, bid_increment=10, ends_in=20)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice, bob = await server.socket("alice"), await server.socket("bob")
    acks = await one_batch(
        server,
        db,
        lot["id"],
        [(alice, bid(lot["id"], 100)), (bob, bid(lot["id"], 110)), (alice, bid(lot["id"], 120))],
    )
    assert all(a["ok"] for a in acks), acks
    await watcher.wait_for("bid_placed", lambda e: e["amount"] == 120)
    extended = await watcher.wait_for("lot_extended", lambda e: e["seq"] == lot["seq"] + 6)
    events = sorted(
        [("bid", e["seq"], e["ends_at"]) for e in watcher.events["bid_placed"]]
        + [("ext", e["seq"], e["ends_at"]) for e in watcher.events["lot_extended"]],
        key=lambda e: e[1],
    )
    assert [kind for kind, _, _ in events] == ["bid", "ext"] * 3
    assert [seq for _, seq, _ in events] == list(range(lot["seq"] + 1, lot["seq"] + 7))
    ends = [end for kind, _, end in events if kind == "ext"]
    assert ends == sorted(set(ends)) and ends[0] > lot["ends_at"]
    assert acks[2]["lot"]["ends_at"] == extended["ends_at"]
    async with db.sessions() as session:
        recorded = (
            await session.scalars(
                select(LotEvent.seq).where(
                    LotEvent.lot_id == lot["id"], LotEvent.type == "extended"
                )
            )
        ).all()
        final = await session.get(Lot, lot["id"])
    assert sorted(recorded) == [lot["seq"] + 2, lot["seq"] + 4, lot["seq"] + 6]
    assert final.seq == lot["seq"] + 6


async def test_a_batch_after_an_extension_judges_the_window_by_the_new_end(start_server, db):
    # The extension reaches past the window: the first bid moves the end, the others do not.
    server = await start_server(anti_sniping_window_seconds=60, anti_sniping_extension_seconds=120)
    lot = await create_lot(server, starting_price=100, bid_increment=10, ends_in=30)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice, bob = await server.socket("alice"), await server.socket("bob")
    acks = await one_batch(
        server,
        db,
        lot["id"],
        [(alice, bid(lot["id"], 100)), (bob, bid(lot["id"], 110)), (alice, bid(lot["id"], 120))],
    )
    assert all(a["ok"] for a in acks), acks
    await watcher.wait_for("bid_placed", lambda e: e["amount"] == 120)
    await asyncio.sleep(0.1)
    assert [e["seq"] for e in watcher.events["lot_extended"]] == [lot["seq"] + 2]
    assert [e["seq"] for e in watcher.events["bid_placed"]] == [
        lot["seq"] + 1,
        lot["seq"] + 3,
        lot["seq"] + 4,
    ]
    assert acks[0]["lot"]["ends_at"] == acks[2]["lot"]["ends_at"] > lot["ends_at"]


async def test_seq_grows_by_one_per_event_across_batches_in_commit_order(server, db):
    lot = await create_lot(server, starting_price=100, bid_increment=1)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    bidders = [await server.socket(f"bidder{i}") for i in range(6)]
    acks = []
    for round_number in range(3):
        sends = [
            (client, bid(lot["id"], 100 + round_number * 10 + n))
            for n, client in enumerate(bidders[round_number % 2 :: 2])
        ]
        acks += await one_batch(server, db, lot["id"], sends)
    # And some racing freely, in whatever batches they fall.
    loose = await asyncio.gather(
        *(client.call("place_bid", bid(lot["id"], 200 + n)) for n, client in enumerate(bidders))
    )
    accepted = [a for a in acks + list(loose) if a["ok"]]
    rows = await history(db, lot["id"])
    last = rows[-1][2]
    await watcher.wait_for("bid_placed", lambda e: e["amount"] == last)
    events = watcher.events["bid_placed"]
    # Received in commit order: ids, amounts and seqs all increase, seq by exactly one.
    assert [e["bid_id"] for e in events] == [bid_id for bid_id, _, _ in rows]
    assert all(a["amount"] < b["amount"] for a, b in itertools.pairwise(events))
    assert [e["seq"] for e in events] == list(range(lot["seq"] + 1, lot["seq"] + 1 + len(rows)))
    assert sorted(a["bid"]["id"] for a in accepted) == [bid_id for bid_id, _, _ in rows]
    for ack in accepted:
        event = next(e for e in events if e["bid_id"] == ack["bid"]["id"])
        assert ack["lot"]["seq"] == event["seq"]
        assert ack["lot"]["min_next_bid"] == event["min_next_bid"]


async def test_a_request_id_taken_by_another_lot_mid_batch_refuses_only_that_bid(server, db):
    """The unique constraint catches the race; the batch runs again and refuses one bid."""
    lot = await create_lot(server, starting_price=100, bid_increment=10)
    other = await create_lot(server, starting_price=100, bid_increment=10)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    await alice.call("place_bid", bid(other["id"], 100))  # alice exists as a user
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        # Another lot's bid with alice's request_id, not yet committed: invisible to the
        # batch's checks, but the batch's insert must wait on the unique index for it.
        await conn.execute(
            text(
                "INSERT INTO bids (lot_id, bidder_id, amount, request_id) "
                "VALUES (:lot, 'alice', 5000, 'contested')"
            ),
            {"lot": other["id"]},
        )
        batch = asyncio.create_task(
            one_batch(
                server,
                db,
                lot["id"],
                [(alice, bid(lot["id"], 100, "contested")), (bob, bid(lot["id"], 110))],
            )
        )
        await _until_blocked(db, "INSERT")
        await transaction.commit()
    acks = await batch
    assert acks[0]["ok"] is False and acks[0]["error"]["code"] == "conflict", acks
    assert acks[1]["ok"], acks
    assert acks[1]["lot"]["bid_count"] == 1
    assert [(who, amount) for _, who, amount in await history(db, lot["id"])] == [("bob", 110)]


async def _until_blocked(db: Any, statement: str) -> None:
    """Wait until a server statement containing `statement` waits on a lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND application_name = 'auction-server' "
        "AND strpos(query, :statement) > 0"
    )
    for _ in range(1000):
        async with db.engine.connect() as conn:
            if (await conn.execute(query, {"statement": statement})).scalar():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("no server statement ever waited on the lock")


async def test_two_batches_sharing_new_bidders_in_opposite_order_both_commit(server, db):
    """New users are inserted in one order in every batch: no deadlock between two lots."""
    first = await create_lot(server, starting_price=100, bid_increment=10)
    second = await create_lot(server, starting_price=100, bid_increment=10)
    # Names the users table has never seen: each batch must insert both.
    zed, amy = await server.socket("zed-new"), await server.socket("amy-new")
    seller = await server.socket("sam", role="seller")
    async with lot_locked(db, first["id"]), lot_locked(db, second["id"]):
        openers = [
            asyncio.create_task(seller.call("place_bid", bid(lot["id"], 10**6)))
            for lot in (first, second)
        ]
        await until(lambda: batches_run(server) >= 2)
        calls = []
        for lot, order in ((first, (zed, amy)), (second, (amy, zed))):
            for n, client in enumerate(order):
                calls.append(
                    asyncio.create_task(client.call("place_bid", bid(lot["id"], 100 + 10 * n)))
                )
                await until(lambda lot=lot, n=n: server.context.bid_batcher.waiting(lot["id"]) > n)
    await asyncio.gather(*openers)
    acks = await asyncio.gather(*calls)
    assert all(a["ok"] for a in acks), acks


async def test_maxima_in_one_batch_are_resolved_each_against_the_one_before(server, db):
    """Proxy resolution is the per-bid step of a batch: a maximum met inside the same
    batch answers at once, exactly as it would across transactions."""
    lot = await create_lot(server, starting_price=1000, bid_increment=100)
    lot_id = lot["id"]
    alice, bob, carol = [await server.socket(name) for name in ("alice", "bob", "carol")]
    acks = await one_batch(
        server,
        db,
        lot_id,
        [
            (alice, {**bid(lot_id, 1000), "max_amount": 5000}),
            (bob, bid(lot_id, 2000)),
            (carol, {**bid(lot_id, 3000), "max_amount": 6000}),
        ],
    )
    assert [ack["leading"] for ack in acks] == [True, False, True]
    assert [row[1:] for row in await history(db, lot_id)] == [
        ("alice", 1000),
        ("bob", 2000),
        ("alice", 2100),
        ("carol", 3000),
        ("alice", 5000),
        ("carol", 5100),
    ]
    async with db.sessions() as session:
        final = await session.get(Lot, lot_id)
        assert (final.current_bid, final.high_bidder_id, final.leader_max) == (5100, "carol", 6000)


async def test_a_retry_waiting_on_the_lock_its_original_holds_gets_the_original_answer(server, db):
    """The lock and the checks are one statement, read with one snapshot taken before the
    lock is granted: the original's bid, committed while the retry waited, must still be
    found (the batch reads the checks again when the lot moved under it)."""
    lot = await create_lot(server, starting_price=100, bid_increment=10)
    other = await create_lot(server, starting_price=100, bid_increment=10)
    alice = await server.socket("alice")
    await alice.call("place_bid", bid(other["id"], 100))  # alice exists as a user
    async with db.engine.connect() as conn:
        transaction = await conn.begin()
        # The original, placed by another process: it holds the lot's lock and moves it.
        await conn.execute(text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": lot["id"]})
        original = (
            await conn.execute(
                text(
                    "INSERT INTO bids (lot_id, bidder_id, amount, request_id) "
                    "VALUES (:lot, 'alice', 100, 'again') RETURNING id"
                ),
                {"lot": lot["id"]},
            )
        ).scalar_one()
        await conn.execute(
            text(
                "UPDATE lots SET current_bid = 100, high_bidder_id = 'alice', high_bid_id = :bid,"
                " bid_count = 1, seq = seq + 1 WHERE id = :lot"
            ),
            {"bid": original, "lot": lot["id"]},
        )
        retry = asyncio.create_task(alice.call("place_bid", bid(lot["id"], 100, "again")))
        await _until_blocked(db, "FOR UPDATE")
        await transaction.commit()
    ack = await retry
    assert ack["ok"], ack
    assert ack["bid"]["id"] == original and ack["leading"] is True
    assert [(who, amount) for _, who, amount in await history(db, lot["id"])] == [("alice", 100)]
