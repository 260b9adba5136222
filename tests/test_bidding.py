"""Live bidding over real Socket.IO clients against the real app and database."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from server.auctions.models import Bid, Lot
from server.users.models import User
from tests.support.factories import bid, create_lot
from tests.support.services import wait_for


async def test_join_lot_acks_with_the_snapshot(server):
    lot = await create_lot(server)
    watcher = await server.socket(None)
    ack = await watcher.call("join_lot", {"lot_id": lot["id"]})
    assert ack["ok"] is True
    assert ack["lot"]["id"] == lot["id"]
    assert ack["lot"]["seq"] == lot["seq"]
    assert await watcher.call("leave_lot", {"lot_id": lot["id"]}) == {"ok": True}


async def test_a_bid_is_acked_and_broadcast_to_the_room(server):
    lot = await create_lot(server, starting_price=1000)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 1000))
    assert ack["ok"] is True
    assert set(ack["bid"]) >= {"id", "lot_id", "amount", "created_at"}
    assert ack["bid"]["amount"] == 1000
    assert ack["lot"]["current_bid"] == 1000
    assert ack["lot"]["bid_count"] == 1
    event = await watcher.wait_for("bid_placed")
    assert event["lot_id"] == lot["id"]
    assert event["seq"] == lot["seq"] + 1 == ack["lot"]["seq"]
    assert event["bid_id"] == ack["bid"]["id"]
    assert event["amount"] == 1000
    assert event["bidder"] == ack["lot"]["high_bidder"]
    assert event["bid_count"] == 1
    assert event["min_next_bid"] == ack["lot"]["min_next_bid"] > 1000
    assert "ends_at" in event


async def test_the_outbid_bidder_is_told_privately(server):
    lot = await create_lot(server, starting_price=1000, bid_increment=100)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    assert (await bob.call("place_bid", bid(lot["id"], 1500)))["ok"]
    outbid = await alice.wait_for("outbid")
    assert outbid == {
        "lot_id": lot["id"],
        "amount": 1500,
        "your_amount": 1000,
        "min_next_bid": 1600,
    }
    await asyncio.sleep(0.1)
    assert bob.events["outbid"] == []


@pytest.mark.parametrize(
    ("arrange", "who", "amount", "code"),
    [
        ("none", "alice", 900, "bid_too_low"),
        ("alice_bid", "bob", 1050, "bid_too_low"),
        ("alice_bid", "alice", 5000, "already_highest"),
        ("none", "sam", 5000, "own_lot"),
        ("suspended", "alice", 5000, "bidder_suspended"),
        ("scheduled", "alice", 5000, "lot_not_open"),
        ("pending", "alice", 5000, "lot_locked"),
        ("ended", "alice", 5000, "auction_ended"),
        ("unsold", "alice", 5000, "auction_ended"),
        ("none", None, 5000, "unauthorized"),
        ("missing", "alice", 5000, "not_found"),
    ],
)
async def test_every_refusal_has_its_code_and_changes_nothing(
    server, db, arrange, who, amount, code
):
    lot = await create_lot(
        server,
        starting_price=1000,
        bid_increment=100,
        **({"starts_in": 600, "ends_in": 1200} if arrange == "scheduled" else {}),
    )
    lot_id = lot["id"] if arrange != "missing" else 987654
    if arrange == "alice_bid":
        alice = await server.socket("alice")
        assert (await alice.call("place_bid", bid(lot_id, 1000)))["ok"]
    if arrange == "suspended":
        async with db.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO users (id, role, strikes) VALUES ('alice', 'bidder', 2)")
            )
    if arrange == "ended":
        # The lot is made overdue but still OPEN: the window between its end and the
        # close sweep, where the bid itself must refuse it. The sweep (every 0.25 s
        # here) would close it between the two snapshots, so no job runs from now on.
        await server.stop_jobs()
    if arrange in ("pending", "ended", "unsold"):
        status = {"pending": "PENDING_PAYMENT", "ended": "OPEN", "unsold": "UNSOLD"}[arrange]
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE lots SET status = CAST(:s AS varchar), "
                    "starts_at = now() - interval '2 hours', "
                    "ends_at = CASE WHEN CAST(:s AS varchar) = 'OPEN' "
                    "THEN now() - interval '1 second' ELSE ends_at END WHERE id = :id"
                ),
                {"s": status, "id": lot_id},
            )
    before = await _snapshot(db)
    client = await server.socket(who, role="seller" if who == "sam" else "bidder")
    ack = await client.call("place_bid", bid(lot_id, amount))
    assert ack["ok"] is False
    assert ack["error"]["code"] == code, ack
    assert ack["error"]["message"]
    assert await _snapshot(db) == before


async def _snapshot(db):
    async with db.sessions() as session:
        bids = (await session.execute(select(Bid.id, Bid.amount))).all()
        lots = (
            await session.execute(
                select(Lot.id, Lot.current_bid, Lot.bid_count, Lot.seq, Lot.status, Lot.ends_at)
            )
        ).all()
    return sorted(bids), sorted(lots)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "bid",
        42,
        [1, 2],
        {},
        {"lot_id": 1},
        {"lot_id": "x", "amount": 100, "request_id": "r"},
        {"lot_id": 1, "amount": "100", "request_id": "r"},
        {"lot_id": 1, "amount": 100.5, "request_id": "r"},
        {"lot_id": 1, "amount": True, "request_id": "r"},
        {"lot_id": 1, "amount": 10**30, "request_id": "r"},
        {"lot_id": 1, "amount": -5, "request_id": "r"},
        {"lot_id": 1, "amount": 100},
        {"lot_id": 1, "amount": 100, "request_id": ""},
        {"lot_id": 1, "amount": 100, "request_id": "x" * 500},
        {"lot_id": 1, "amount": 100, "request_id": 7},
        {"lot_id": -1, "amount": 100, "request_id": "r"},
        {"lot_id": 10**40, "amount": 100, "request_id": "r"},
    ],
)
async def test_malformed_bids_get_error_acks(server, db, payload):
    await create_lot(server, starting_price=100)
    before = await _snapshot(db)
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] in ("validation_error", "not_found")
    assert await _snapshot(db) == before
    assert alice.sio.connected


@pytest.mark.parametrize("blank", ["", " \t"])
async def test_a_malformed_bid_is_refused_naming_every_bad_field(server, db, blank):
    lot = await create_lot(server, starting_price=100)
    before = await _snapshot(db)
    alice = await server.socket("alice")
    ack = await alice.call(
        "place_bid", {"lot_id": str(lot["id"]), "amount": 1.5, "request_id": blank, "max": 9}
    )
    assert ack["error"]["code"] == "validation_error"
    assert ack["error"]["fields"] == {
        "lot_id": "'lot_id' must be an integer",
        "amount": "'amount' must be an integer",
        "request_id": "'request_id' must not be empty",
        "max": "'max' is not a field of this request",
    }
    assert ack["error"]["message"] == "; ".join(ack["error"]["fields"].values())
    assert await _snapshot(db) == before


@pytest.mark.parametrize("event", ["join_lot", "leave_lot", "my_payments", "no_such_event"])
@pytest.mark.parametrize("payload", [None, "x", 3, [1], {"lot_id": "abc"}])
async def test_every_event_answers_malformed_payloads(server, event, payload):
    client = await server.socket("alice")
    ack = await client.call(event, payload)
    if event == "my_payments" and payload is None:
        assert ack == {"ok": True, "payments": []}
        return
    if event == "my_payments" and isinstance(payload, dict):
        # Strict: a field the event does not have is refused by name, not ignored.
        assert ack["error"]["fields"] == {"lot_id": "'lot_id' is not a field of this request"}
    assert ack["ok"] is False
    assert ack["error"]["code"] in ("validation_error", "not_found")


async def test_a_retried_request_id_places_one_bid(server, db):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    request = bid(lot["id"], 1200, "retry-me")
    first, second = await asyncio.gather(
        alice.call("place_bid", request), alice.call("place_bid", request)
    )
    third = await alice.call("place_bid", request)
    assert first["ok"] and second["ok"] and third["ok"]
    assert first["bid"] == second["bid"] == third["bid"]
    async with db.sessions() as session:
        assert (await session.scalars(select(Bid.amount))).all() == [1200]
    reused = await alice.call("place_bid", bid(lot["id"], 5000, "retry-me"))
    assert (reused["ok"], reused["error"]["code"]) == (False, "conflict")


async def test_concurrent_bidders_leave_a_strictly_increasing_complete_history(server, db):
    lot = await create_lot(server, starting_price=100, bid_increment=1)
    bidders = [await server.socket(f"bidder{i}") for i in range(24)]
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    rng = random.Random(7)

    async def hammer(client):
        accepted = []
        for _ in range(8):
            current = (await client.call("join_lot", {"lot_id": lot["id"]}))["lot"]
            amount = current["min_next_bid"] + rng.randint(0, 3)
            ack = await client.call("place_bid", bid(lot["id"], amount))
            if ack["ok"]:
                accepted.append(ack["bid"])
            else:
                assert ack["error"]["code"] in ("bid_too_low", "already_highest"), ack
        return accepted

    results = await asyncio.gather(*(hammer(client) for client in bidders))
    accepted = sorted((b for r in results for b in r), key=lambda b: b["id"])
    async with db.sessions() as session:
        history = (
            await session.execute(
                select(Bid.id, Bid.amount).where(Bid.lot_id == lot["id"]).order_by(Bid.id)
            )
        ).all()
        final = await session.get(Lot, lot["id"])
    assert len(accepted) >= 10
    assert [(b["id"], b["amount"]) for b in accepted] == [tuple(row) for row in history]
    amounts = [amount for _, amount in history]
    assert all(a < b for a, b in itertools.pairwise(amounts))
    assert final.current_bid == amounts[-1]
    assert final.bid_count == len(amounts)
    # Every accepted bid reached the watcher, each seq once.
    events = await watcher.wait_for("bid_placed", lambda e: e["amount"] == amounts[-1])
    assert events
    seen = sorted(e["bid_id"] for e in watcher.events["bid_placed"])
    assert seen == [row[0] for row in history]
    seqs = [e["seq"] for e in watcher.events["bid_placed"]]
    assert len(set(seqs)) == len(seqs)


async def test_a_late_bid_extends_the_end(start_server):
    server = await start_server(anti_sniping_window_seconds=60, anti_sniping_extension_seconds=120)
    lot = await create_lot(server, starting_price=100, ends_in=30)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 100))
    assert ack["ok"]
    extended = await watcher.wait_for("lot_extended")
    placed = await watcher.wait_for("bid_placed")
    assert extended["seq"] == placed["seq"] + 1 == ack["lot"]["seq"]
    assert extended["ends_at"] > lot["ends_at"]
    assert ack["lot"]["ends_at"] == extended["ends_at"]
    assert placed["ends_at"] == extended["ends_at"]


async def test_an_early_bid_does_not_extend(start_server):
    server = await start_server(anti_sniping_window_seconds=60)
    lot = await create_lot(server, starting_price=100, ends_in=600)
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 100))
    assert ack["lot"]["ends_at"] == lot["ends_at"]
    await asyncio.sleep(0.1)
    assert alice.events["lot_extended"] == []


async def test_bids_are_rate_limited_per_user(start_server, db):
    # One new bid per 100 s after a burst of 3: however slowly a busy machine sends the
    # six bids, the fourth to sixth find the bucket empty.
    server = await start_server(bid_rate_per_second=0.01, bid_rate_burst=3)
    lot = await create_lot(server, starting_price=100, bid_increment=1)
    alice = await server.socket("alice")
    codes = []
    for i in range(6):
        ack = await alice.call("place_bid", bid(lot["id"], 100 + i))
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    assert codes[:3] == ["ok", "already_highest", "already_highest"]
    assert "rate_limited" in codes[3:]
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(lot["id"], 500)))["ok"]


async def test_users_are_upserted_from_claims(server, db):
    lot = await create_lot(server, starting_price=100)
    alice = await server.socket("alice")
    await alice.call("place_bid", bid(lot["id"], 100))
    async with db.sessions() as session:
        user = await session.get(User, "alice")
        seller = await session.get(User, "sam")
    assert (user.role, seller.role) == ("bidder", "seller")


async def test_the_scheduler_closes_at_ends_at_and_a_bid_racing_it_is_in_or_out(start_server, db):
    """Bids and the close take the same lock: a bid is either before the close or refused."""
    server = await start_server(anti_sniping_window_seconds=0)
    lot = await create_lot(server, starting_price=100, bid_increment=1, ends_in=3.0)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    alice, bob = await server.socket("alice"), await server.socket("bob")
    acks = []
    # Bid every 40 ms until well past the close, however long the set-up took on a busy machine.
    refused_after = 0
    for i in range(1000):
        client = alice if i % 2 == 0 else bob
        acks.append(await client.call("place_bid", bid(lot["id"], 100 + i)))
        refused_after += not acks[-1]["ok"]
        if refused_after == 10:
            break
        await asyncio.sleep(0.04)
    status = await watcher.wait_for("lot_status", timeout=5)
    assert status["status"] in ("PENDING_PAYMENT", "UNSOLD")
    async with db.sessions() as session:
        bids = (await session.scalars(select(Bid).where(Bid.lot_id == lot["id"]))).all()
        final = await session.get(Lot, lot["id"])
    accepted = [a for a in acks if a["ok"]]
    assert {a["bid"]["id"] for a in accepted} == {b.id for b in bids}
    # Accepted while open, then refused once the hammer fell; never interleaved.
    first_refusal = next(i for i, a in enumerate(acks) if not a["ok"])
    assert all(a["ok"] for a in acks[:first_refusal])
    assert {a["error"]["code"] for a in acks[first_refusal:]} <= {"lot_locked", "auction_ended"}
    assert final.current_bid == accepted[-1]["bid"]["amount"]
    assert final.status == "PENDING_PAYMENT"
    assert final.closed_at is not None


async def test_a_lot_due_while_no_server_runs_is_closed_once_at_start(start_server, db):
    """The schedule lives in the database: a restart still closes, once, right away."""
    first = await start_server()
    lot = await create_lot(first, starting_price=100, ends_in=60)
    await first.app.shutdown()
    await first.app.cleanup()
    # The lot's end passes while no server runs (moved, not waited for: a shutdown slowed
    # by load must not let the first server close it on its own schedule).
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE lots SET starts_at = now() - interval '1 hour', "
                "ends_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": lot["id"]},
        )
    restarted_at = datetime.now(UTC)
    watcher_server = await start_server()
    watcher = await watcher_server.socket(None)

    async def closed() -> Lot | None:
        async with db.sessions() as session:
            current = await session.get(Lot, lot["id"])
        return current if current is not None and current.status != "OPEN" else None

    current = await wait_for(closed, timeout=15)
    assert current.status == "UNSOLD"
    # Closed by the restarted server, with no bid and no later request to prompt it.
    assert current.ends_at < restarted_at <= current.closed_at
    async with db.engine.connect() as conn:
        history = (
            await conn.execute(
                text("SELECT count(*) FROM lot_events WHERE lot_id = :id AND type = 'status'"),
                {"id": lot["id"]},
            )
        ).scalar()
    assert history == 1
    assert watcher.sio.connected


async def test_a_scheduled_lot_opens_at_starts_at(server, db):
    lot = await create_lot(server, starting_price=100, starts_in=60, ends_in=120)
    watcher = await server.socket(None)
    await watcher.call("join_lot", {"lot_id": lot["id"]})
    # Its start comes once the watcher is in (a start 0.6 s after creation passed before the
    # join on a busy machine, and the watcher never heard it): the scheduler opens it.
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE lots SET starts_at = now() - interval '1 second' WHERE id = :id"),
            {"id": lot["id"]},
        )
    opened = await watcher.wait_for("lot_status", timeout=4)
    assert opened["status"] == "OPEN"
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 100)))["ok"]


async def test_an_extension_moves_the_scheduled_close(start_server, db):
    server = await start_server(anti_sniping_window_seconds=5, anti_sniping_extension_seconds=2)
    alice = await server.socket("alice")  # connected first: the bid must beat a 1 s end
    lot = await create_lot(server, starting_price=100, ends_in=1.0)
    ack = await alice.call("place_bid", bid(lot["id"], 100))
    assert ack["lot"]["ends_at"] > lot["ends_at"]
    await asyncio.sleep(1.3)
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "OPEN"
    async with db.engine.begin() as conn:
        await conn.execute(update(Lot).where(Lot.id == lot["id"]).values(reserve_price=10**6))
    for _ in range(80):
        async with db.sessions() as session:
            if (await session.get(Lot, lot["id"])).status != "OPEN":
                break
        await asyncio.sleep(0.05)
    async with db.sessions() as session:
        assert (await session.get(Lot, lot["id"])).status == "UNSOLD"


async def test_one_request_id_racing_on_two_lots_places_one_bid(server, db):
    first = await create_lot(server, starting_price=100)
    second = await create_lot(server, starting_price=100)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    for round_number in range(10):
        request_id = f"shared-{round_number}"
        acks = await asyncio.gather(
            alice.call("place_bid", bid(first["id"], 10_000 * (round_number + 1), request_id)),
            alice.call("place_bid", bid(second["id"], 10_000 * (round_number + 1), request_id)),
        )
        assert sorted(a["ok"] for a in acks) == [False, True], acks
        refused = next(a for a in acks if not a["ok"])
        assert refused["error"]["code"] == "conflict"
        # alice is now the high bidder on one lot; bob outbids her there so she may bid again.
        won = next(a for a in acks if a["ok"])
        outbid = await bob.call("place_bid", bid(won["bid"]["lot_id"], won["lot"]["min_next_bid"]))
        assert outbid["ok"], outbid
    async with db.sessions() as session:
        ids = await session.scalars(select(Bid.request_id).where(Bid.bidder_id == "alice"))
        assert sorted(ids.all()) == sorted(f"shared-{n}" for n in range(10))
