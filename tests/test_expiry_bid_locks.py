"""A window's end and a bid group that share a buyer must not deadlock.

A bid group (`server.auctions.bids.place_group`) locks all its lots at once
(`FOR UPDATE SKIP LOCKED`), including a lot awaiting payment whose bid it will
refuse, and then writes the accepted bids: a bid's row (and the lot's
`high_bidder_id`) takes a `KEY SHARE` lock on its bidder's `users` row (the
foreign key). A window's end locks the buyer's row to count the strike, then the
lot. Were the buyer's row locked `FOR UPDATE`, a group holding the buyer's lot
and writing the buyer's bid on another lot would wait on the window's end, which
waits on the group's lot: a deadlock, one of them aborted after
`deadlock_timeout`. The strike changes no key, so `FOR NO KEY UPDATE` is enough
and never conflicts with a foreign key's check.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from server.sales import window
from server.sales.cancellation import cancel_at_stripe
from tests.support.factories import create_lot
from tests.support.sales import end_window, won_lot


async def _waiting_on_a_lock(db) -> int:
    async with db.engine.connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return int(count or 0)


async def _claimed(server, payment_id):
    context = server.context
    [claim] = await window.claim_due_windows(context, 1, grace=None, own=[payment_id])
    answer = await cancel_at_stripe(context, claim.intent_id, claim.cancel_key)
    return claim, answer


async def _group_holding_the_lots_while(db, lots, bidder, other_lot, ending):
    """The group's locks and write, as `bid_statements` takes them, around `ending`."""
    async with db.engine.connect() as conn:
        group = await conn.begin()
        await conn.execute(
            text("SELECT id FROM lots WHERE id = ANY(:ids) ORDER BY id FOR UPDATE SKIP LOCKED"),
            {"ids": lots},
        )
        task = asyncio.create_task(ending())
        deadline = asyncio.get_running_loop().time() + 10
        while await _waiting_on_a_lock(db) == 0:  # the window's end waits for the lot
            assert not task.done(), task
            assert asyncio.get_running_loop().time() < deadline, "the end never waited"
            await asyncio.sleep(0.01)
        # The bidder's bid on the other lot: both foreign keys to the bidder's row.
        await conn.execute(
            text(
                "INSERT INTO bids (lot_id, bidder_id, amount, request_id, auto, created_at) "
                "VALUES (:lot, :who, 1000, 'group-bid', false, now())"
            ),
            {"lot": other_lot, "who": bidder},
        )
        await conn.execute(
            text("UPDATE lots SET high_bidder_id = :who, current_bid = 1000 WHERE id = :lot"),
            {"lot": other_lot, "who": bidder},
        )
        await group.commit()
    return await task


async def test_a_batch_of_window_ends_and_a_bid_group_sharing_its_buyer_do_not_deadlock(
    start_server, db
):
    server = await start_server()
    lot, info, _alice = await won_lot(server, buyer="alice", amount=5000, title="B")
    other = await create_lot(server, starting_price=1000, bid_increment=10)
    await server.stop_jobs()
    await end_window(db, info["payment_id"])
    claim, answer = await _claimed(server, info["payment_id"])

    outcomes = await _group_holding_the_lots_while(
        db,
        [lot["id"], other["id"]],
        "alice",
        other["id"],
        lambda: window.apply_window_ends(server.context, [(claim, answer)]),
    )
    assert outcomes == {info["payment_id"]: "expired"}


async def test_one_window_end_and_a_bid_group_sharing_its_buyer_do_not_deadlock(start_server, db):
    server = await start_server()
    lot, info, _alice = await won_lot(server, buyer="alice", amount=5000, title="B")
    other = await create_lot(server, starting_price=1000, bid_increment=10)
    await server.stop_jobs()
    await end_window(db, info["payment_id"])
    claim, answer = await _claimed(server, info["payment_id"])

    outcome = await _group_holding_the_lots_while(
        db,
        [lot["id"], other["id"]],
        "alice",
        other["id"],
        lambda: window.apply_window_end(server.context, claim, answer),
    )
    assert outcome == "expired"
