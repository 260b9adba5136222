"""Several real server processes sharing PostgreSQL and Redis (SPEC section 10).

Each test starts `python -m server serve` twice, with its own Redis channel,
and talks to both with real Socket.IO clients: events cross processes through
Redis, and scheduled work runs on every process yet happens once, which the
database shows. The last test stops a process with SIGTERM and checks the
graceful stop.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, text, update

from server.auctions.models import Lot, LotEvent
from server.notifications.models import OutboxMessage
from server.payments.models import Payment, PaymentAttempt
from server.settings import Settings
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import services
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot
from tests.support.processes import ProcessGroup, ServerProcess
from tests.support.sales import drop_webhooks, intent_id, pay
from tests.support.services import LocalStripe, redis_url, wait_for
from tests.support.smtp import SmtpSink
from tests.support.stripe_proxy import StripeProxy

pytestmark = pytest.mark.multiprocess

StartProcesses = Callable[..., Awaitable[list[ServerProcess]]]


@pytest.fixture
def redis() -> str:
    url = redis_url()
    if url is None:
        pytest.skip(
            "Redis is not available (set TEST_REDIS_URL or run one on 127.0.0.1:6379); "
            "several server processes need it to share Socket.IO events"
        )
    return url


@pytest.fixture
async def start_processes(
    test_database: services.TestDatabase,
    localstripe: LocalStripe,
    settings: Settings,
    make_token: Callable[..., str],
    db: Any,
    tmp_path: Path,
) -> AsyncIterator[StartProcesses]:
    """`await start_processes(n, redis=..., **env)`: n servers on the test database and Stripe.

    Every process is stopped at the end, whatever the test did.
    """
    group = ProcessGroup(
        {
            "DATABASE_URL": test_database.url,
            "STRIPE_API_BASE": localstripe.url,
            "STRIPE_SECRET_KEY": settings.stripe_secret_key,
            "STRIPE_PUBLISHABLE_KEY": settings.stripe_publishable_key,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JWT_SECRET": settings.jwt_secret,
        },
        tmp_path,
        make_token,
    )

    async def start(count: int = 2, *, redis: str | None = None, **env: str) -> list[ServerProcess]:
        return await group.start(count, **({"REDIS_URL": redis} if redis else {}), **env)

    try:
        yield start
    finally:
        await group.stop_all()


async def register_webhook(localstripe: LocalStripe, process: ServerProcess) -> None:
    """localstripe delivers every event to this one process, as Stripe would to one URL."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{localstripe.url}/_config/webhooks/test",
            data={"url": f"{process.url}/api/payments/webhook", "secret": WEBHOOK_SECRET},
        ) as response,
    ):
        assert response.status == 200, await response.text()


async def status_changes(db: Any, lot_id: int) -> list[tuple[str, str, str]]:
    async with db.sessions() as session:
        rows = (
            await session.scalars(
                select(LotEvent.data)
                .where(LotEvent.lot_id == lot_id, LotEvent.type == "status")
                .order_by(LotEvent.seq)
            )
        ).all()
    return [(row["from"], row["to"], row["reason"]) for row in rows]


async def lot_status(db: Any, lot_id: int) -> str:
    async with db.sessions() as session:
        lot = await session.get(Lot, lot_id)
        assert lot is not None
        return lot.status


async def test_events_cross_processes(start_processes, redis, localstripe, db):
    a, b = await start_processes(2, redis=redis)
    await register_webhook(localstripe, a)
    lot = await create_lot(a, starting_price=1000, bid_increment=100)
    watcher_a, watcher_b = await a.socket(None), await b.socket(None)
    for watcher in (watcher_a, watcher_b):
        assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    alice, bob = await a.socket("alice"), await b.socket("bob")

    first = await alice.call("place_bid", bid(lot["id"], 1000))
    assert first["ok"], first
    placed = await watcher_b.wait_for("bid_placed")
    assert (placed["lot_id"], placed["amount"], placed["bid_id"]) == (
        lot["id"],
        1000,
        first["bid"]["id"],
    )
    assert placed["seq"] == first["lot"]["seq"]

    assert (await bob.call("place_bid", bid(lot["id"], 1500)))["ok"]
    outbid = await alice.wait_for("outbid")
    assert outbid == {
        "lot_id": lot["id"],
        "amount": 1500,
        "your_amount": 1000,
        "min_next_bid": 1600,
    }

    status, closed = await a.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert (status, closed["status"]) == (200, "PENDING_PAYMENT")
    info = await bob.wait_for("payment_required", timeout=10)
    assert (info["lot_id"], info["amount"]) == (lot["id"], 1500)
    for watcher in (watcher_a, watcher_b):
        await watcher.wait_for("lot_status", lambda e: e["status"] == "PENDING_PAYMENT")

    # Paid in bob's browser; the webhook reaches process a, bob's socket is on b.
    await pay(localstripe.url, info, bob)
    for watcher in (watcher_a, watcher_b):
        await watcher.wait_for("lot_status", lambda e: e["status"] == "SOLD", timeout=10)
        assert info["client_secret"] not in str(watcher.events)
    assert len(bob.events["payment_required"]) == 1
    assert alice.events["payment_required"] == []


async def test_an_expiring_window_is_expired_once_across_processes(
    start_processes, redis, localstripe, db
):
    a, b = await start_processes(2, redis=redis, PAYMENT_WINDOW_SECONDS="2")
    lot = await create_lot(a, starting_price=1000, bid_increment=100)
    alice_a, alice_b = await a.socket("alice"), await b.socket("alice")
    carol_a, carol_b = await a.socket("carol"), await b.socket("carol")
    assert (await carol_b.call("place_bid", bid(lot["id"], 2000)))["ok"]
    assert (await alice_a.call("place_bid", bid(lot["id"], 5000)))["ok"]
    status, _ = await b.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200

    first = await alice_a.wait_for("payment_required", timeout=10)
    await alice_b.wait_for("payment_required")
    for alice in (alice_a, alice_b):
        expired = await alice.wait_for("payment_expired", timeout=8)
        assert expired == {
            "payment_id": first["payment_id"],
            "lot_id": lot["id"],
            "reason": "window_elapsed",
        }
    second = await carol_a.wait_for("payment_required", timeout=8)
    assert second["breakdown"]["hammer"] == 2000
    await carol_b.wait_for("payment_required")
    # Nobody pays the second chance either, and nobody is left: UNSOLD.
    await wait_for(lambda: _is(db, lot["id"], "UNSOLD"), timeout=10)
    await asyncio.sleep(1.0)  # time for any duplicate to arrive

    for client in (alice_a, alice_b, carol_a, carol_b):
        assert len(client.events["payment_required"]) == 1, client.events
        assert len(client.events["payment_expired"]) == 1, client.events
    assert await status_changes(db, lot["id"]) == [
        ("OPEN", "PENDING_PAYMENT", "closed_by_seller"),
        ("PENDING_PAYMENT", "PENDING_PAYMENT", "offered_to_next_bidder"),
        ("PENDING_PAYMENT", "UNSOLD", "not_paid"),
    ]
    async with db.sessions() as session:
        offers = (
            await session.execute(
                select(Payment.buyer_id, Payment.offer_number, Payment.status)
                .where(Payment.lot_id == lot["id"])
                .order_by(Payment.id)
            )
        ).all()
        strikes = {user.id: user.strikes for user in (await session.scalars(select(User))).all()}
    assert [tuple(row) for row in offers] == [
        ("alice", 1, "EXPIRED"),
        ("carol", 2, "EXPIRED"),
    ]
    assert (strikes["alice"], strikes["carol"]) == (1, 1)
    intent = await fake_browser.get_intent(localstripe.url, intent_id(first))
    assert intent["status"] == "canceled"


async def _is(db: Any, lot_id: int, status: str) -> bool:
    return await lot_status(db, lot_id) == status


async def test_the_survivor_expires_the_window_of_a_killed_process(
    start_processes, redis, localstripe, db
):
    # Each process reaches Stripe through its own proxy, so we know which one
    # created the intent (and holds the precise expiry job): that one is killed.
    proxies = [StripeProxy(localstripe.url), StripeProxy(localstripe.url)]
    for proxy in proxies:
        await proxy.start()
    try:
        a, b = [
            (
                await start_processes(
                    1, redis=redis, PAYMENT_WINDOW_SECONDS="2", STRIPE_API_BASE=p.url
                )
            )[0]
            for p in proxies
        ]
        processes = {a.name: a, b.name: b}
        lot = await create_lot(a, starting_price=1000, bid_increment=100)
        alice = {name: await p.socket("alice") for name, p in processes.items()}
        bob = {name: await p.socket("bob") for name, p in processes.items()}
        assert (await bob["b"].call("place_bid", bid(lot["id"], 1000)))["ok"]
        assert (await alice["a"].call("place_bid", bid(lot["id"], 3000)))["ok"]
        status, _ = await a.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        info = await alice["a"].wait_for("payment_required", timeout=10)
        creators = [p.creations_forwarded for p in proxies]
        assert sorted(creators) == [0, 1], creators
        doomed, survivor = (a, b) if creators[0] else (b, a)

        await asyncio.sleep(0.5)  # mid-window
        await doomed.kill()
        # Only the survivor is left to expire it (its sweep), and never before expires_at.
        # How soon after is the sweep interval's business, not a test's: a bound in seconds
        # here failed on a busy machine (2.08 s > 2.0 s) with nothing wrong.
        expired = await alice[survivor.name].wait_for("payment_expired", timeout=8)
        arrived = time.time()
        assert expired["payment_id"] == info["payment_id"]
        assert arrived >= datetime.fromisoformat(info["expires_at"]).timestamp(), "expired early"
        second = await bob[survivor.name].wait_for("payment_required", timeout=8)
        assert second["breakdown"]["hammer"] == 1000
        assert await status_changes(db, lot["id"]) == [
            ("OPEN", "PENDING_PAYMENT", "closed_by_seller"),
            ("PENDING_PAYMENT", "PENDING_PAYMENT", "offered_to_next_bidder"),
        ]
    finally:
        for proxy in proxies:
            await proxy.stop()


async def test_scheduled_work_runs_on_every_process_and_happens_once(
    start_processes, redis, localstripe, db
):
    """Closes, intent retries, reconciliation and the outbox, all racing on two processes."""
    proxy = StripeProxy(localstripe.url)
    await proxy.start()
    sink = SmtpSink().start()
    try:
        a, b = await start_processes(
            2,
            redis=redis,
            STRIPE_API_BASE=proxy.url,
            SMTP_URL=sink.url,
            ANTI_SNIPING_WINDOW_SECONDS="0",
            AUCTION_RECONCILE_AFTER_SECONDS="1",
            AUCTION_RECONCILE_INTERVAL_SECONDS="0.5",
        )
        # Every webhook is lost: only reconciliation can see the payments succeed.
        await drop_webhooks(localstripe.url, WEBHOOK_SECRET)
        proxy.fail_next_creations(4)  # the first intent creations fail; retries follow
        lots, buyers = [], []
        for index in range(6):
            process = (a, b)[index % 2]
            lot = await create_lot(process, starting_price=1000, title=f"Lot {index}")
            buyer = await (b, a)[index % 2].socket(f"buyer{index}", email=f"b{index}@example.com")
            assert (await buyer.call("place_bid", bid(lot["id"], 1000 + index)))["ok"]
            lots.append(lot)
            buyers.append(buyer)
        # Every lot's time runs out once its bid is in (an end set at creation raced the
        # set-up on a busy machine): both processes' sweeps go for the same six closes.
        async with db.engine.begin() as conn:
            await conn.execute(
                update(Lot)
                .where(Lot.id.in_([lot["id"] for lot in lots]))
                .values(
                    # starts_at goes back too: ends_at must stay after it (a check constraint)
                    # when the lot was created less than a second ago.
                    starts_at=func.least(Lot.starts_at, func.now() - text("interval '2 seconds'")),
                    ends_at=func.now() - text("interval '1 second'"),
                )
            )

        infos = [await buyer.wait_for("payment_required", timeout=15) for buyer in buyers]
        for info in infos[:3]:
            status, intent = await fake_browser.confirm_card(localstripe.url, info)
            assert (status, intent["status"]) == (200, "succeeded")
        for buyer in buyers[:3]:
            await buyer.wait_for("payment_succeeded", timeout=10)
        await wait_for(lambda: len(sink.messages()) >= 9, timeout=10)
        await asyncio.sleep(1.0)  # time for any duplicate to happen

        for index, lot in enumerate(lots):
            changes = await status_changes(db, lot["id"])
            expected = [("OPEN", "PENDING_PAYMENT", "ends_at")]
            if index < 3:
                expected.append(("PENDING_PAYMENT", "SOLD", "paid"))
            assert changes == expected, (index, changes)
        async with db.sessions() as session:
            payments = (await session.scalars(select(Payment).order_by(Payment.lot_id))).all()
            succeeded = (
                await session.scalars(
                    select(PaymentAttempt.payment_id).where(PaymentAttempt.outcome == "succeeded")
                )
            ).all()
            outbox = (
                await session.execute(select(OutboxMessage.recipient_id, OutboxMessage.topic))
            ).all()
        assert [p.lot_id for p in payments] == [lot["id"] for lot in lots]
        assert len({p.stripe_payment_intent_id for p in payments}) == 6
        assert [p.status for p in payments] == ["SUCCEEDED"] * 3 + ["REQUIRES_PAYMENT"] * 3
        assert sorted(succeeded) == sorted(p.id for p in payments[:3])
        assert proxy.creations_forwarded == 6, "an intent was created twice at Stripe"
        assert sorted(map(tuple, outbox)) == sorted(
            [(f"buyer{i}", "payment_required") for i in range(6)]
            + [(f"buyer{i}", "receipt") for i in range(3)]
        )
        sent = sorted((m.rcpt_tos[0], m.subject) for m in sink.messages())
        assert len(sent) == len(set(sent)) == 9, sent
        for index, buyer in enumerate(buyers):
            assert len(buyer.events["payment_required"]) == 1
            assert len(buyer.events["payment_succeeded"]) == (1 if index < 3 else 0)
    finally:
        sink.stop()
        await proxy.stop()


async def test_sigterm_stops_gracefully(start_processes, localstripe, db):
    """Stop accepting, tell sockets goodbye, finish the request in flight, exit 0."""
    proxy = StripeProxy(localstripe.url)
    await proxy.start()
    try:
        (server,) = await start_processes(
            1, STRIPE_API_BASE=proxy.url, AUCTION_STRIPE_RETRY_BASE_SECONDS="60"
        )
        lot = await create_lot(server, starting_price=1000)
        alice = await server.socket("alice")
        reasons: list[Any] = []
        alice.sio.on("disconnect", lambda reason=None: reasons.append(reason))
        assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
        # The intent creation at the close fails, and its retry is a minute away...
        proxy.fail_next_creations(1)
        status, _ = await server.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        # ...so the buyer's own request creates it, and Stripe is slow to answer.
        proxy.fail_next_creations(1, mode="slow", delay=1.5)
        in_flight = asyncio.create_task(
            server.request(
                "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
            )
        )
        await wait_for(lambda: proxy.creations_forwarded == 1, timeout=5)

        server.signal(signal.SIGTERM)
        await wait_for(lambda: reasons, timeout=5)
        assert reasons == [alice.sio.reason.SERVER_DISCONNECT]
        assert not in_flight.done()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)

        status, info = await asyncio.wait_for(in_flight, 10)
        assert (status, info["status"], info["lot_id"]) == (200, "REQUIRES_PAYMENT", lot["id"])
        assert await server.wait_exit(10) == 0
        async with db.sessions() as session:
            payment = await session.get(Payment, info["payment_id"])
        assert payment is not None and payment.status == "REQUIRES_PAYMENT"
        messages = [entry["msg"] for entry in server.log_entries()]
        assert any(m.startswith("stopping") for m in messages), messages
        assert "told 1 sockets goodbye" in messages
        assert messages[-1] == "stopped"
    finally:
        await proxy.stop()
