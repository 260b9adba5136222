"""Window ends applied in batches (server/sales/window.py): Stripe is still asked first for
each window, and each window's own answer decides it, whatever else is in its batch; a
batch that cannot be written falls back to one window at a time; a crash between Stripe's
answers and the commit is recovered by the sweep; two processes end each window once."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy import func, select, text, update

from server.auctions.models import Lot, LotEvent
from server.payments.models import Payment
from server.sales import tasks, window
from server.sales.cancellation import cancel_at_stripe
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.sales import drop_webhooks, end_window, intent_id, won_lot

CANCEL = r"/v1/payment_intents/pi_\w+/cancel"


async def _won(server, count, prefix="buyer"):
    """`count` lots won by distinct buyers: [(lot, PaymentInfo, socket)]."""
    return [
        await won_lot(server, buyer=f"{prefix}{i}", amount=5000 + i, title=f"L{i}")
        for i in range(count)
    ]


async def _claim_and_ask(server, payment_ids):
    """What a batch is made of: the lapsed windows claimed, and Stripe's answer for each."""
    context = server.context
    claimed = await window.claim_due_windows(context, len(payment_ids), grace=None, own=payment_ids)
    assert sorted(w.payment_id for w in claimed) == sorted(payment_ids)
    answers = await asyncio.gather(
        *(cancel_at_stripe(context, w.intent_id, w.cancel_key) for w in claimed)
    )
    return list(zip(claimed, answers, strict=True))


async def _state(db, won):
    """Per won lot: (payment status, lot status, buyer's strikes, UNSOLD events of the lot)."""
    rows = []
    async with db.sessions() as session:
        for lot, info, _client in won:
            payment = await session.get(Payment, info["payment_id"])
            lot_row = await session.get(Lot, lot["id"])
            buyer = await session.get(User, payment.buyer_id)
            unsold = await session.scalar(
                select(func.count())
                .select_from(LotEvent)
                .where(LotEvent.lot_id == lot["id"], LotEvent.type == "status")
                .where(LotEvent.data["to"].astext == "UNSOLD")
            )
            rows.append((payment.status, lot_row.status, buyer.strikes, unsold))
    return rows


@asynccontextmanager
async def _failing_lot_events(db, times):
    """The first `times` inserts into lot_events fail inside PostgreSQL (as if the process
    died before its commit); later ones pass."""
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE SEQUENCE batch_crash_counter"))
        await conn.execute(
            text(
                "CREATE FUNCTION batch_crash() RETURNS trigger AS $$ BEGIN "
                f"IF nextval('batch_crash_counter') <= {int(times)} THEN "
                "RAISE EXCEPTION 'simulated crash'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER batch_crash BEFORE INSERT ON lot_events FOR EACH ROW "
                "EXECUTE FUNCTION batch_crash()"
            )
        )
    try:
        yield
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER batch_crash ON lot_events"))
            await conn.execute(text("DROP FUNCTION batch_crash()"))
            await conn.execute(text("DROP SEQUENCE batch_crash_counter"))


async def test_one_batch_sells_the_lot_paid_at_the_deadline_and_ends_the_others(
    start_server, db, localstripe, proxy
):
    """Four windows end in one batch: one buyer paid just before the end (Stripe's answer
    to our cancel says succeeded), one cancel fails at Stripe, two are plain. The paid
    lot is SOLD with no strike; the other three expire, each with its strike and its
    lot UNSOLD; the failed cancel is owed to Stripe (retried later), the others are done."""
    server = await start_server(stripe_api_base=proxy.url)
    await drop_webhooks(localstripe.url, WEBHOOK_SECRET)  # only our cancel can tell us
    won = await _won(server, 4)
    await server.stop_jobs()
    (_, paid, _), (_, failing, _), _, _ = won
    status, result = await fake_browser.confirm_card(localstripe.url, paid)
    assert (status, result["status"]) == (200, "succeeded")
    outage = proxy.refuse(
        "POST", f"/v1/payment_intents/{intent_id(failing)}/cancel", 500, "api_error", "api_error"
    )
    ids = [info["payment_id"] for _lot, info, _client in won]
    for payment_id in ids:
        await end_window(db, payment_id)

    batch = await _claim_and_ask(server, ids)
    outcomes = await window.apply_answers(server.context, batch)

    by_payment = {
        w.payment_id: outcome for (w, _answer), outcome in zip(batch, outcomes, strict=True)
    }
    assert by_payment == {
        ids[0]: "succeeded",
        ids[1]: "expired",
        ids[2]: "expired",
        ids[3]: "expired",
    }
    assert await _state(db, won) == [
        ("SUCCEEDED", "SOLD", 0, 0),
        ("EXPIRED", "UNSOLD", 1, 1),
        ("EXPIRED", "UNSOLD", 1, 1),
        ("EXPIRED", "UNSOLD", 1, 1),
    ]
    async with db.sessions() as session:
        payments = {p.id: p for p in await session.scalars(select(Payment))}
    assert payments[ids[1]].next_retry_at is not None  # its cancel is owed to Stripe
    assert [payments[i].next_retry_at for i in (ids[0], ids[2], ids[3])] == [None] * 3
    assert all(payments[i].stripe_lease_until is None for i in ids)
    for _lot, info, _client in won[2:]:
        intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
        assert intent["status"] == "canceled", intent
    proxy.refusals.remove(outage)
    await won[0][2].wait_for("payment_succeeded", lambda e: e["payment_id"] == ids[0])
    for _lot, info, client in won[1:]:
        expired = await client.wait_for(
            "payment_expired", lambda e, i=info: e["payment_id"] == i["payment_id"]
        )
        assert expired["reason"] == "window_elapsed"


async def test_a_batch_that_cannot_be_written_ends_each_window_on_its_own(server, db):
    """The batch's transaction fails (its first lot event is refused): each window is then
    ended by itself, once, and none waits for the sweep."""
    won = await _won(server, 3)
    await server.stop_jobs()
    ids = [info["payment_id"] for _lot, info, _client in won]
    for payment_id in ids:
        await end_window(db, payment_id)
    batch = await _claim_and_ask(server, ids)

    async with _failing_lot_events(db, times=1):
        outcomes = await window.apply_answers(server.context, batch)

    assert outcomes == ["expired"] * 3
    assert await _state(db, won) == [("EXPIRED", "UNSOLD", 1, 1)] * 3


async def test_a_crash_between_stripes_answers_and_the_commit_is_recovered_by_the_sweep(
    server, db, localstripe
):
    """Stripe cancelled every intent, then nothing we wrote survived (the batch and each
    window's own transaction fail). Once the claims' leases run out, the sweep asks
    Stripe again (the intents are already cancelled) and ends each window once."""
    won = await _won(server, 3)
    await server.stop_jobs()
    ids = [info["payment_id"] for _lot, info, _client in won]
    for payment_id in ids:
        await end_window(db, payment_id)
    batch = await _claim_and_ask(server, ids)

    async with _failing_lot_events(db, times=1000):
        outcomes = await window.apply_answers(server.context, batch)
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert [row[0] for row in await _state(db, won)] == ["REQUIRES_PAYMENT"] * 3
    for _lot, info, _client in won:
        intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
        assert intent["status"] == "canceled", intent
    # Nothing claims a window while its lease holds; then the sweep does.
    assert await window.claim_due_windows(server.context, 10, grace=timedelta(0)) == []
    async with db.engine.begin() as conn:
        await conn.execute(
            update(Payment)
            .where(Payment.id.in_(ids))
            .values(stripe_lease_until=func.now() - text("interval '1 second'"))
        )

    assert await tasks.expire_due_windows(server.context) == 3

    assert await _state(db, won) == [("EXPIRED", "UNSOLD", 1, 1)] * 3
    for _lot, info, client in won:
        await client.wait_for(
            "payment_expired", lambda e, i=info: e["payment_id"] == i["payment_id"]
        )


async def test_two_processes_ending_the_same_windows_end_each_once(
    start_server, db, localstripe, proxy
):
    """Both processes' date jobs and sweeps go for the same six lapsed windows at once:
    each window is claimed by one of them (Stripe is asked once per window), and each
    ends once (one strike, one UNSOLD)."""
    first = await start_server(stripe_api_base=proxy.url)
    won = await _won(first, 6)
    second = await start_server(stripe_api_base=proxy.url)
    await first.stop_jobs()
    await second.stop_jobs()
    ids = [info["payment_id"] for _lot, info, _client in won]
    for payment_id in ids:
        await end_window(db, payment_id)
    await asyncio.sleep(1.1)  # lapsed longer than the sweep's grace, too

    results = await asyncio.gather(
        *(window.expire_payment_window(s.context, pid) for pid in ids for s in (first, second)),
        tasks.expire_due_windows(first.context),
        tasks.expire_due_windows(second.context),
    )

    by_date_jobs = results[: 2 * len(ids)]
    swept = results[2 * len(ids) :]
    # A date job whose window its own process's sweep is ending reports that outcome.
    assert set(by_date_jobs) <= {"expired", None}, results
    assert sum(swept) <= len(ids), results
    assert await _state(db, won) == [("EXPIRED", "UNSOLD", 1, 1)] * len(ids)
    for _lot, info, _client in won:
        path = f"/v1/payment_intents/{intent_id(info)}/cancel"
        assert proxy.count("POST", path) == 1, proxy.requests
        intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
        assert intent["status"] == "canceled", intent


async def test_a_date_job_whose_window_its_own_sweep_is_ending_gets_that_outcome(server, db):
    """The sweep of this process claimed the window just before its date job ran: the
    date job reports the sweep's outcome ("expired"), not "nothing to do"."""
    won = await _won(server, 1)
    await server.stop_jobs()
    payment_id = won[0][1]["payment_id"]
    await end_window(db, payment_id)
    await asyncio.sleep(1.1)  # lapsed longer than the sweep's grace
    slots = server.context.payment_job_slots
    for _ in range(3):  # the batch that would end it waits for the test
        await slots.acquire()
    sweep = asyncio.create_task(tasks.expire_due_windows(server.context))
    await asyncio.sleep(0)  # the sweep holds the last slot for its claim
    last = asyncio.create_task(slots.acquire())  # queued: the test's once the claim is done
    await last
    async with db.sessions() as session:
        assert (await session.get(Payment, payment_id)).stripe_lease_until is not None
    date_job = asyncio.create_task(window.expire_payment_window(server.context, payment_id))
    await asyncio.sleep(0.2)
    for _ in range(4):
        slots.release()
    assert await date_job == "expired"
    assert await sweep == 1
    assert await _state(db, won) == [("EXPIRED", "UNSOLD", 1, 1)]
