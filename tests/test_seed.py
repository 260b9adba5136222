"""Demo data: the users and lots `scripts/dev` shows, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy import select, update

from server.core.money import chargeable_step
from server.devtools.seed import seed_demo
from server.models import Lot, LotStatus, Sale, User

#: The standalone demo lots (4 open, 1 scheduled) and the demo sale's three.
DEMO_LOTS = 5 + 3


async def _lots(db, *, standalone: bool = True):
    """The demo lots by end: the standalone ones, or (standalone=False) the sale's."""
    in_sale = Lot.sale_id.is_(None) if standalone else Lot.sale_id.is_not(None)
    async with db.sessions() as session:
        return (await session.scalars(select(Lot).where(in_sale).order_by(Lot.ends_at))).all()


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
    assert created == DEMO_LOTS
    assert len(lots) == 5

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


async def test_seed_has_one_per_sale_sale_closing_lot_by_lot(db):
    await seed_demo(db)
    standalone = await _lots(db)
    in_sale = await _lots(db, standalone=False)
    async with db.sessions() as session:
        sales = (await session.scalars(select(Sale))).all()
    assert len(sales) == 1
    sale = sales[0]
    assert (sale.settlement, sale.currency, sale.seller_id) == ("per_sale", "usd", "sam")
    assert sale.buyer_premium_bps > 0
    assert sale.lot_count == len(in_sale) == 3
    assert [lot.lot_number for lot in in_sale] == [1, 2, 3]
    for lot in in_sale:
        assert lot.sale_id == sale.id and lot.status == LotStatus.OPEN
        offset = timedelta(seconds=(lot.lot_number - 1) * sale.lot_interval_seconds)
        assert lot.ends_at == sale.lots_close_from + offset
    # The sale's lots close after the standalone ones, so a demo sees both kinds of payment.
    assert in_sale[0].ends_at > max(lot.ends_at for lot in standalone if lot.status == "OPEN")


async def test_seed_amounts_are_chargeable_in_their_currency(db):
    await seed_demo(db)
    for lot in [*await _lots(db), *await _lots(db, standalone=False)]:
        step = chargeable_step(lot.currency)
        for amount in (lot.starting_price, lot.reserve_price, lot.bid_increment):
            assert amount is None or (amount > 0 and amount % step == 0), (lot.title, amount)


async def test_seeding_again_adds_no_lots_while_demo_lots_are_open(db):
    assert await seed_demo(db) == DEMO_LOTS
    assert await seed_demo(db) == 0
    assert len(await _lots(db)) == 5


async def test_seeding_again_after_the_demo_lots_closed_starts_a_new_round(db):
    await seed_demo(db)
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Lot).values(status=LotStatus.UNSOLD))
    assert await seed_demo(db) == DEMO_LOTS
    assert len(await _lots(db)) == 10


async def test_one_lot_left_open_does_not_keep_a_restarted_demo_empty(db):
    await seed_demo(db)
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(Lot).values(status=LotStatus.UNSOLD))
        first = (await _lots(db))[0]
        await uow.session.execute(
            update(Lot).where(Lot.id == first.id).values(status=LotStatus.OPEN)
        )
    assert await seed_demo(db) == DEMO_LOTS


async def test_seed_keeps_an_existing_users_role(db):
    async with db.unit_of_work() as uow:
        uow.session.add(User(id="alice", role="admin"))
    await seed_demo(db)
    async with db.sessions() as session:
        assert await session.scalar(select(User.role).where(User.id == "alice")) == "admin"
