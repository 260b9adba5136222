"""Maximum bids and buy-now under concurrency, retries and prying eyes (SPEC section 13)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from sqlalchemy import func, select

from server.auctions.models import Bid, MaxBid
from server.payments.models import Payment
from tests.support.factories import bid, create_lot
from tests.test_max_bids import history, hundred_lot, set_max, with_max


def secret_leaks(events: dict[str, list[Any]], secret: int) -> list[tuple[str, Any]]:
    """Events that name a maximum, or carry the secret value anywhere."""
    leaks = []
    for name, payloads in events.items():
        for payload in payloads:
            flat = repr(payload)
            if "max" in flat.replace("min_next_bid", "") or str(secret) in flat:
                leaks.append((name, payload))
    return leaks


async def race(server: Any, db: Any, maxima: list[int]) -> tuple[int, list[Any], list[dict]]:
    """`len(maxima)` clients set their maxima on one lot at once; returns (lot, clients, acks)."""
    lot_id = await hundred_lot(server)
    clients = [await server.socket(f"bidder{n}") for n in range(len(maxima))]
    for client in clients:
        assert (await client.call("join_lot", {"lot_id": lot_id}))["ok"]
    acks = await asyncio.gather(
        *(
            client.call("set_max_bid", set_max(lot_id, maximum))
            for client, maximum in zip(clients, maxima, strict=True)
        )
    )
    return lot_id, clients, list(acks)


async def test_twenty_maxima_racing_end_at_the_second_highest_plus_one_increment(server, db):
    rng = random.Random(13)
    maxima = [1000 * m for m in rng.sample(range(2, 200), 20)]
    lot_id, clients, acks = await race(server, db, maxima)
    for ack in acks:  # every maximum was accepted or refused as below the price by then
        assert ack["ok"] or ack["error"]["code"] == "bid_too_low", ack
    top, second = sorted(maxima)[-1], sorted(maxima)[-2]
    winner = f"bidder{maxima.index(top)}"
    rows = await history(db, lot_id)
    amounts = [amount for _, amount, _ in rows]
    assert amounts == sorted(set(amounts)), "the history must strictly increase"
    assert rows[-1][:2] == (winner, min(second + 100, top))
    final = rows[-1][1]
    watcher_events = clients[0]
    await watcher_events.wait_for("bid_placed", lambda e: e["amount"] == final)
    for client in clients:
        assert secret_leaks(client.events, top) == [], "a maximum reached the room"
        client.check_contract()
    status, listed = await server.request("GET", f"/api/lots/{lot_id}/bids?limit=1000")
    assert status == 200 and str(top) not in repr(listed)
    assert all(isinstance(item["auto"], bool) for item in listed["items"])
    assert sum(not item["auto"] for item in listed["items"]) == 0  # set_max_bid bids are auto


async def test_equal_top_maxima_racing_the_earlier_wins_at_that_amount(server, db):
    rng = random.Random(7)
    maxima = [1000 * m for m in rng.sample(range(2, 150), 18)] + [200_000, 200_000]
    rng.shuffle(maxima)
    lot_id, clients, acks = await race(server, db, maxima)
    tied = [f"bidder{n}" for n, maximum in enumerate(maxima) if maximum == 200_000]
    async with db.sessions() as session:
        first = await session.scalar(
            select(MaxBid.bidder_id)
            .where(MaxBid.lot_id == lot_id, MaxBid.bidder_id.in_(tied))
            .order_by(MaxBid.id)
            .limit(1)
        )
    rows = await history(db, lot_id)
    assert rows[-1][:2] == (first, 200_000)
    amounts = [amount for _, amount, _ in rows]
    assert amounts == sorted(set(amounts))
    assert all(ack["ok"] or ack["error"]["code"] == "bid_too_low" for ack in acks)
    await clients[0].wait_for("bid_placed", lambda e: e["amount"] == 200_000)
    for client in clients:
        assert not any("max" in repr(e).replace("min_next_bid", "") for e in client.events.values())
        client.check_contract()


async def test_a_retried_set_max_bid_has_one_effect_and_the_same_answer(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    request = set_max(lot_id, 9000, "raise-1")
    first, again, racing = await asyncio.gather(
        bob.call("set_max_bid", request),
        bob.call("set_max_bid", request),
        bob.call("set_max_bid", request),
    )
    later = await bob.call("set_max_bid", request)
    for ack in (first, again, racing, later):
        assert ack["ok"] and ack["max_amount"] == 9000 and ack["leading"], ack
        assert ack["lot"]["current_bid"] == 5100
    async with db.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(MaxBid).where(MaxBid.bidder_id == "bob")
        )
    assert count == 1
    assert len(await history(db, lot_id)) == 4
    other = await bob.call("set_max_bid", set_max(lot_id, 9500, "raise-1"))
    assert other["error"]["code"] == "conflict"
    # the leader's own raise, retried: still one raise
    raise_request = set_max(lot_id, 12000, "raise-2")
    acks = [await bob.call("set_max_bid", raise_request) for _ in range(2)]
    assert all(ack["ok"] and ack["max_amount"] == 12000 for ack in acks), acks


async def test_buy_now_closes_the_lot_for_the_caller_once(server, db):
    lot = await create_lot(server, starting_price=1000, reserve_price=5000, buy_now_price=8000)
    lot_id = lot["id"]
    alice, bob, watcher = [await server.socket(n) for n in ("alice", "bob", "walter")]
    await watcher.call("join_lot", {"lot_id": lot_id})
    assert (await bob.call("place_bid", bid(lot_id, 2000)))["ok"]  # below the reserve
    request = {"lot_id": lot_id, "request_id": "buy-1"}
    acks = await asyncio.gather(alice.call("buy_now", request), alice.call("buy_now", request))
    for ack in acks:
        assert ack["ok"], ack
        assert ack["lot"]["status"] == "PENDING_PAYMENT"
        assert ack["lot"]["hammer_price"] == 8000 and ack["lot"]["buy_now_price"] is None
    info = await alice.wait_for("payment_required", lambda e: e["lot_id"] == lot_id, timeout=10)
    assert info["breakdown"]["hammer"] == 8000
    async with db.sessions() as session:
        payments = (await session.scalars(select(Payment).where(Payment.lot_id == lot_id))).all()
    assert [(p.buyer_id, p.hammer) for p in payments] == [("alice", 8000)]
    assert await history(db, lot_id) == [("bob", 2000, False), ("alice", 8000, False)]
    status = await watcher.wait_for("lot_status", lambda e: e["status"] == "PENDING_PAYMENT")
    assert status["reason"] == "buy_now"
    await bob.wait_for("outbid", lambda e: e["lot_id"] == lot_id)
    late = await bob.call("place_bid", bid(lot_id, 9000))
    assert late["error"]["code"] == "lot_locked"
    watcher.check_contract()


async def test_buy_now_racing_a_bid_that_meets_the_reserve_exactly_one_wins(server, db):
    for round_ in range(6):
        lot = await create_lot(
            server,
            title=f"race {round_}",
            starting_price=1000,
            reserve_price=3000,
            buy_now_price=7000,
        )
        lot_id = lot["id"]
        alice, bob = await server.socket(f"a{round_}"), await server.socket(f"b{round_}")
        calls = [
            alice.call("buy_now", {"lot_id": lot_id, "request_id": uuid.uuid4().hex}),
            bob.call("place_bid", bid(lot_id, 3000)),
        ]
        if round_ % 2:
            calls.reverse()
        results = await asyncio.gather(*calls)
        bought, bid_ack = results if round_ % 2 == 0 else results[::-1]
        assert bought["ok"] != bid_ack["ok"], (bought, bid_ack)
        if bought["ok"]:
            assert bid_ack["error"]["code"] == "lot_locked"
        else:
            assert bought["error"]["code"] == "buy_now_unavailable"
        async with db.sessions() as session:
            payments = await session.scalar(
                select(func.count()).select_from(Payment).where(Payment.lot_id == lot_id)
            )
            bids = await session.scalar(
                select(func.count()).select_from(Bid).where(Bid.lot_id == lot_id)
            )
        assert (payments, bids) == ((1, 1) if bought["ok"] else (0, 1))


async def test_buy_now_is_refused_to_the_seller_and_on_lots_without_it(server):
    lot = await create_lot(server, starting_price=1000)
    bob = await server.socket("bob")
    ack = await bob.call("buy_now", {"lot_id": lot["id"], "request_id": "x"})
    assert ack["error"]["code"] == "buy_now_unavailable"
    priced = await create_lot(server, starting_price=1000, buy_now_price=5000)
    seller = await server.socket("sam", role="seller")
    ack = await seller.call("buy_now", {"lot_id": priced["id"], "request_id": "y"})
    assert ack["error"]["code"] == "own_lot"


async def test_buy_now_price_must_be_at_least_the_reserve_and_chargeable(server):
    base = {
        "title": "t",
        "currency": "usd",
        "starting_price": 1000,
        "ends_at": "2099-01-01T00:00:00Z",
    }
    for extra, field in (
        ({"buy_now_price": 900}, "buy_now_price"),
        ({"reserve_price": 5000, "buy_now_price": 4000}, "buy_now_price"),
        ({"buy_now_price": 10**12}, "buy_now_price"),
    ):
        status, body = await server.request(
            "POST", "/api/lots", as_user="sam", role="seller", json={**base, **extra}
        )
        assert status == 400 and field in body["error"]["fields"], body


async def test_my_bids_shows_the_callers_maximum_to_them_only(server, db):
    lot_id = await hundred_lot(server)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", with_max(lot_id, 1000, 5000)))["ok"]
    assert (await bob.call("place_bid", bid(lot_id, 2000)))["ok"]
    status, mine = await server.request("GET", "/api/me/bids", as_user="alice")
    assert status == 200
    [item] = mine["items"]
    assert (item["lot"]["id"], item["max_amount"], item["leading"]) == (lot_id, 5000, True)
    assert item["your_highest_bid"] == 2100
    status, theirs = await server.request("GET", "/api/me/bids", as_user="bob")
    [item] = theirs["items"]
    assert (item["max_amount"], item["leading"], item["your_highest_bid"]) == (None, False, 2000)
    assert "5000" not in repr(theirs)
    status, listed = await server.request("GET", f"/api/lots/{lot_id}/bids")
    assert [(i["amount"], i["auto"]) for i in listed["items"]] == [
        (2100, True),
        (2000, False),
        (1000, False),
    ]
    status, _ = await server.request("GET", "/api/me/bids")
    assert status == 401
