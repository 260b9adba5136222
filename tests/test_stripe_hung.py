"""Issue 18.2: a hung Stripe must not starve the database.

Our own localstripe (the session's one is shared by other tests) is stopped
with SIGSTOP while 25 payment windows lapse. Bids on an unrelated lot keep
working and the pool never runs dry, every window is enforced once, and after
SIGCONT the owed cancellations reach Stripe. Bid latency is printed (healthy
vs hung), not asserted: run with `-s` to read it.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp
import pytest
from sqlalchemy import func, select, text

from server.payments.models import Payment
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot
from tests.support.sales import intent_id
from tests.support.services import LocalStripe, wait_for

LOTS = 25
BUYERS = 5


@pytest.fixture
def own_stripe():
    standin = LocalStripe()
    standin.start()
    yield standin
    standin.stop()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = 'auction-server' AND state = 'idle in transaction'"
    " AND now() - state_change > interval '300 milliseconds'"
)


async def _bids(server, lot_id, bidders, start, count, pool_peaks):
    """`count` bids alternating bidders; (latencies, next amount)."""
    latencies = []
    amount = start
    for _ in range(count):
        client = bidders[(amount // 100) % len(bidders)]  # never the same bidder twice
        began = time.perf_counter()
        ack = await client.call("place_bid", bid(lot_id, amount))
        latencies.append(time.perf_counter() - began)
        assert ack["ok"], ack
        pool_peaks.append(server.context.db.engine.pool.checkedout())
        amount += 100
        await asyncio.sleep(0.02)
    return latencies, amount


@pytest.mark.parametrize("stripe_state", ["hung", "healthy"])
async def test_bids_keep_their_latency_while_stripe_hangs_and_windows_lapse(
    start_server, db, own_stripe, stripe_state
):
    """The same lapse of 25 windows with Stripe hung and healthy, for comparison."""
    hangs = stripe_state == "hung"
    server = await start_server(
        stripe_api_base=own_stripe.url,
        payment_window_seconds=6,
        stripe_background_timeout_seconds=1.0,
        bid_rate_per_second=1000.0,
        bid_rate_burst=1000,
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{own_stripe.url}/_config/webhooks/test",
            data={"url": f"{server.url}/api/payments/webhook", "secret": WEBHOOK_SECRET},
        ) as response,
    ):
        assert response.status == 200
    buyers = [await server.socket(f"buyer{i}") for i in range(BUYERS)]
    lots = [await create_lot(server, starting_price=1000, title=f"L{i}") for i in range(LOTS)]
    for index, lot in enumerate(lots):
        assert (await buyers[index % BUYERS].call("place_bid", bid(lot["id"], 1000)))["ok"]
    unrelated = await create_lot(server, starting_price=1000, bid_increment=100, title="Other")
    bidders = [await server.socket(name) for name in ("ann", "ben", "cat")]
    peaks: list[int] = []
    healthy, amount = await _bids(server, unrelated["id"], bidders, 1000, 60, peaks)

    await asyncio.gather(
        *(
            server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")
            for lot in lots
        )
    )
    infos = [
        info
        for buyer in buyers
        for info in [
            await buyer.wait_for("payment_required", lambda e, lot=lot: e["lot_id"] == lot["id"])
            for lot in lots[buyers.index(buyer) :: BUYERS]
        ]
    ]
    assert len(infos) == LOTS
    if hangs:
        own_stripe.pause()
    try:
        hung: list[float] = []

        async def windows_enforced():
            async with db.sessions() as session:
                return (
                    await session.scalar(
                        select(func.count()).select_from(Payment).where(Payment.status == "EXPIRED")
                    )
                ) == LOTS

        deadline = time.monotonic() + 30
        enforced_before_pause = await windows_enforced()
        waiting_in_transaction = []
        while not await windows_enforced():
            assert time.monotonic() < deadline, f"windows were not enforced (Stripe {stripe_state})"
            more, amount = await _bids(server, unrelated["id"], bidders, amount, 10, peaks)
            hung.extend(more)
            async with db.engine.connect() as conn:
                waiting_in_transaction.append(await conn.scalar(IDLE_IN_TRANSACTION))
        more, amount = await _bids(server, unrelated["id"], bidders, amount, 20, peaks)
        hung.extend(more)
    finally:
        if hangs:
            own_stripe.resume()
    pool_size = server.context.db.engine.pool.size()
    print(
        f"\nbid latency on an unrelated lot: before the lapse p50"
        f" {statistics.median(healthy) * 1000:.1f} ms p99 {p99(healthy) * 1000:.1f} ms"
        f" ({len(healthy)} bids); while 25 windows lapse, Stripe {stripe_state}: p50"
        f" {statistics.median(hung) * 1000:.1f} ms p99 {p99(hung) * 1000:.1f} ms"
        f" ({len(hung)} bids); pool checked out at most {max(peaks)} of {pool_size}"
    )
    assert max(peaks) < pool_size
    # Nobody sat in an open transaction (holding a connection, maybe a row lock) while
    # waiting on Stripe.
    assert max(waiting_in_transaction) == 0, waiting_in_transaction
    assert not enforced_before_pause  # the windows did lapse in the measured phase

    async def converged():
        async with db.sessions() as session:
            owed = await session.scalar(
                select(func.count()).select_from(Payment).where(Payment.next_retry_at.is_not(None))
            )
        return owed == 0

    await wait_for(converged, timeout=30)
    async with db.sessions() as session:
        payments = (await session.scalars(select(Payment))).all()
        strikes = {u.id: u.strikes for u in (await session.scalars(select(User))).all()}
    assert all((p.status, p.end_reason) == ("EXPIRED", "window_elapsed") for p in payments)
    for info in infos:
        intent = await fake_browser.get_intent(own_stripe.url, intent_id(info))
        assert intent["status"] == "canceled", intent
    for index, buyer in enumerate(buyers):
        assert len(buyer.events["payment_expired"]) == LOTS // BUYERS
        assert strikes[f"buyer{index}"] == LOTS // BUYERS
