"""Demo data: the users and lots `scripts/dev` shows, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy import select, update

from server.core.money import chargeable_step
from server.devtools.seed import seed_demo
from server.models import Lot, LotStatus, User


async def _lots(db):
    async with db.sessions() as session:
        return (await session.scalars(select(Lot).order_by(Lot.ends_at))).all()


async def test_seed_creates_the_demo_users_with_their_roles(db):
    await seed_demo(db)
    async with db.sessions() as session:
        roles = dict((await session.execute(select(User.id, User.role))).all())
    assert roles == {
        "alice": "bidder",
        "bob": "bidder",
        "carol": "bidder",
        "sam": "seller",
        "root": "admin",
    }


async def test_seed_creates_staggered_open_lots_and_one_scheduled(db):
    before = datetime.now(UTC)
    created = await seed_demo(db, first_close_minutes=1.5)
    lots = await _lots(db)
    assert created == len(lots) == 5

    open_lots = [lot for lot in lots if lot.status == LotStatus.OPEN]
    scheduled = [lot for lot in lots if lot.status == LotStatus.SCHEDULED]
    assert len(open_lots) == 4
    assert len(scheduled) == 1
    assert {lot.currency for lot in open_lots} == {"usd", "jpy", "kwd"}
    assert all(lot.seller_id == "sam" for lot in lots)

    first = open_lots[0].ends_at
    assert before + timedelta(minutes=1.5) <= first <= datetime.now(UTC) + timedelta(minutes=1.5)
    ends = [lot.ends_at for lot in open_lots]
    assert all(later - earlier >= timedelta(minutes=1) for earlier, later in pairwise(ends))
    assert all(lot.starts_at <= datetime.now(UTC) for lot in open_lots)
    assert scheduled[0].starts_at > ends[-1]


async def test_seed_amounts_are_chargeable_in_their_currency(db):
    await seed_demo(db)
    for lot in await _lots(db):
        step = chargeable_step(lot.currency)
        for amount in (lot.starting_price, lot.reserve_price, lot.bid_increment):
            assert amount is None or (amount > 0 and amount % step == 0), (lot.title, amount)


async def test_seeding_again_adds_no_lots_while_demo_lots_are_open(db):
    assert await seed_demo(db) == 5
    assert await seed_demo(db) == 0
    assert len(await _lots(db)) == 5


async def test_seeding_again_after_the_demo_lots_closed_starts_a_new_round(db):
    await seed_demo(db)
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Lot).values(status=LotStatus.UNSOLD))
    assert await seed_demo(db) == 5
    assert len(await _lots(db)) == 10


async def test_one_lot_left_open_does_not_keep_a_restarted_demo_empty(db):
    await seed_demo(db)
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Lot).values(status=LotStatus.UNSOLD))
        first = (await _lots(db))[0]
        await uow.session.execute(
            update(Lot).where(Lot.id == first.id).values(status=LotStatus.OPEN)
        )
    assert await seed_demo(db) == 5


async def test_seed_keeps_an_existing_users_role(db):
    async with db.unit_of_work() as uow:
        uow.session.add(User(id="alice", role="admin"))
    await seed_demo(db)
    async with db.sessions() as session:
        assert await session.scalar(select(User.role).where(User.id == "alice")) == "admin"
