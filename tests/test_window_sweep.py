"""Lapsed windows that no date job ends (lost in a restart, or another process's) are
ended by the sweeps: in batches, each exactly once, with its intent cancelled at Stripe,
however many processes sweep the same database."""

from __future__ import annotations

from sqlalchemy import func, select

from server.auctions.models import Lot, LotEvent
from server.payments.models import Payment
from server.users.models import User
from tests.support import stripe as fake_browser
from tests.support.sales import end_window, intent_id, won_lot
from tests.support.services import wait_for

WINDOWS = 6


async def test_lapsed_windows_without_date_jobs_end_once_under_two_sweeping_processes(
    start_server, db, localstripe
):
    options = dict(sweep_interval_seconds=0.1)
    server = await start_server(**options)
    won = [
        await won_lot(server, buyer=f"buyer{i}", amount=5000 + i, title=f"L{i}")
        for i in range(WINDOWS)
    ]
    await start_server(**options)  # a second process on the same database
    # The date jobs stay scheduled for the windows' real ends (minutes away): only the
    # sweeps can see these windows lapse.
    for _lot, info, _client in won:
        await end_window(db, info["payment_id"])

    async def all_expired():
        async with db.sessions() as session:
            statuses = (await session.scalars(select(Payment.status))).all()
        return statuses if set(statuses) == {"EXPIRED"} else None

    assert len(await wait_for(all_expired, timeout=20)) == WINDOWS
    async with db.sessions() as session:
        payments = (await session.scalars(select(Payment))).all()
        strikes = {u.id: u.strikes for u in (await session.scalars(select(User))).all()}
        for lot, _info, _client in won:
            assert (await session.get(Lot, lot["id"])).status == "UNSOLD"
            unsold = await session.scalar(
                select(func.count())
                .select_from(LotEvent)
                .where(LotEvent.lot_id == lot["id"], LotEvent.type == "status")
                .where(LotEvent.data["to"].astext == "UNSOLD")
            )
            assert unsold == 1, lot
    assert all(p.end_reason == "window_elapsed" for p in payments)
    assert {f"buyer{i}": strikes[f"buyer{i}"] for i in range(WINDOWS)} == {
        f"buyer{i}": 1 for i in range(WINDOWS)
    }
    for _lot, info, _client in won:
        intent = await fake_browser.get_intent(localstripe.url, intent_id(info))
        assert intent["status"] == "canceled", intent
