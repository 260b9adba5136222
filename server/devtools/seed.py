"""Demo data for `python -m server seed` and `scripts/dev`.

Users alice, bob and carol (bidders), sam (seller) and root (admin), and a
handful of lots sold by sam in three kinds of currency: two-decimal (usd),
zero-decimal (jpy) and three-decimal (kwd, amounts in multiples of 10). The
open lots close a few minutes apart so a demo sees the hammer fall, the
payment window open and, if nobody pays, the lot move on.

One per_sale sale follows them: three usd lots closing a minute apart, each
buyer paying once for everything they won in it (one invoice, one payment).

Running it again adds no lots while sam still has open lots, so restarting
`scripts/dev` does not pile up duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.auctions.models import Lot, LotStatus
from server.core.db import Database
from server.sales.models import Sale, SaleStatus, Settlement
from server.users.models import User

DEMO_SELLER = "sam"

DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("alice", "bidder", "Alice"),
    ("bob", "bidder", "Bob"),
    ("carol", "bidder", "Carol"),
    (DEMO_SELLER, "seller", "Sam the seller"),
    ("root", "admin", "Root"),
)

#: Minutes between the ends of consecutive open demo lots.
STAGGER_MINUTES = 2.0


@dataclass(frozen=True, slots=True)
class DemoLot:
    title: str
    description: str
    currency: str
    starting_price: int
    reserve_price: int | None = None
    bid_increment: int | None = None


OPEN_LOTS = (
    DemoLot(
        "Brass ship's chronometer",
        "A working marine chronometer in its gimballed box, about 1890.",
        "usd",
        starting_price=5_000,
        bid_increment=500,
    ),
    DemoLot(
        "Edo-period tea bowl",
        "Raku-glazed chawan with a signed box. Starting at ¥3,000.",
        "jpy",
        starting_price=3_000,
        reserve_price=8_000,
        bid_increment=500,
    ),
    DemoLot(
        "Silver dallah coffee pot",
        "Hand-chased silver dallah. Amounts are in fils (1 KWD = 1000), steps of 10.",
        "kwd",
        starting_price=15_000,
        bid_increment=1_000,
    ),
    DemoLot(
        "First-edition atlas",
        "Folio atlas with 60 hand-coloured plates; reserve applies.",
        "usd",
        starting_price=12_000,
        reserve_price=20_000,
    ),
)

SCHEDULED_LOT = DemoLot(
    "Art deco table lamp",
    "Opens for bidding a few minutes after the others close.",
    "usd",
    starting_price=2_500,
)


DEMO_SALE_TITLE = "Evening sale: clocks and instruments"
#: The demo sale's premium (basis points of each hammer) and seconds between its lots' closes.
DEMO_SALE_PREMIUM_BPS = 1_500
DEMO_SALE_INTERVAL_SECONDS = 60

SALE_LOTS = (
    DemoLot(
        "Vienna regulator wall clock",
        "Walnut case, weight-driven, about 1880. Sold in the evening sale: one invoice per buyer.",
        "usd",
        starting_price=4_000,
        bid_increment=500,
    ),
    DemoLot(
        "Pocket sextant",
        "Brass pocket sextant in its leather case.",
        "usd",
        starting_price=2_500,
        bid_increment=250,
    ),
    DemoLot(
        "Carriage clock",
        "French gilt-brass carriage clock with repeater.",
        "usd",
        starting_price=6_000,
        bid_increment=500,
    ),
)


async def seed_demo(db: Database, *, first_close_minutes: float = 3.0) -> int:
    """Create the demo users and, unless sam has open lots already, the demo lots.

    The first open lot closes `first_close_minutes` from now and each next one
    `STAGGER_MINUTES` later; the scheduled lot opens after the last one closes,
    and the per_sale demo sale's lots close then, a minute apart. Returns how
    many lots were created.
    """
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        session = uow.session
        await session.execute(
            insert(User)
            .values([{"id": sub, "role": role, "name": name} for sub, role, name in DEMO_USERS])
            .on_conflict_do_nothing(index_elements=[User.id])
        )
        open_demo_lots = await session.scalar(
            select(func.count())
            .select_from(Lot)
            .where(Lot.seller_id == DEMO_SELLER, Lot.status == LotStatus.OPEN)
        )
        # One lot still open (say the late-opening one) is not a demo: start a new round.
        if open_demo_lots and open_demo_lots >= 2:
            return 0

        lots: list[Lot] = []
        for index, demo in enumerate(OPEN_LOTS):
            ends_at = now + timedelta(minutes=first_close_minutes + index * STAGGER_MINUTES)
            lots.append(_lot(demo, starts_at=now, ends_at=ends_at, status=LotStatus.OPEN))
        opens_at = lots[-1].ends_at + timedelta(minutes=STAGGER_MINUTES)
        lots.append(
            _lot(
                SCHEDULED_LOT,
                starts_at=opens_at,
                ends_at=opens_at + timedelta(minutes=10),
                status=LotStatus.SCHEDULED,
            )
        )
        session.add_all(lots)
        sale_lots = await _demo_sale(session, now=now, closes_from=opens_at)
        await session.flush()
        return len(lots) + sale_lots


async def _demo_sale(session: AsyncSession, *, now: datetime, closes_from: datetime) -> int:
    """The per_sale sale and its numbered lots, closing on the sale's schedule."""
    sale = Sale(
        title=DEMO_SALE_TITLE,
        currency="usd",
        settlement=Settlement.PER_SALE,
        buyer_premium_bps=DEMO_SALE_PREMIUM_BPS,
        starts_at=now,
        lots_close_from=closes_from,
        lot_interval_seconds=DEMO_SALE_INTERVAL_SECONDS,
        seller_id=DEMO_SELLER,
        created_by=DEMO_SELLER,
        status=SaleStatus.OPEN,
        lot_count=len(SALE_LOTS),
    )
    session.add(sale)
    await session.flush()
    for number, demo in enumerate(SALE_LOTS, start=1):
        lot = _lot(
            demo,
            starts_at=now,
            ends_at=closes_from + timedelta(seconds=(number - 1) * DEMO_SALE_INTERVAL_SECONDS),
            status=LotStatus.OPEN,
        )
        lot.sale_id, lot.lot_number = sale.id, number
        session.add(lot)
    return len(SALE_LOTS)


def _lot(demo: DemoLot, *, starts_at: datetime, ends_at: datetime, status: LotStatus) -> Lot:
    return Lot(
        seller_id=DEMO_SELLER,
        title=demo.title,
        description=demo.description,
        currency=demo.currency,
        starting_price=demo.starting_price,
        reserve_price=demo.reserve_price,
        bid_increment=demo.bid_increment,
        starts_at=starts_at,
        ends_at=ends_at,
        status=status,
    )
