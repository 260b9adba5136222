"""Sales as catalogues (SPEC 15): creating one, numbering its lots, staggered closes, reading."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from server.auctions.models import Lot
from server.sales.catalogue import close_sale_if_done
from server.sales.models import Sale
from tests.support.factories import add_lot, bid, create_lot, create_sale, in_seconds, iso


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_seller_creates_a_sale_and_anyone_reads_it(server):
    sale = await create_sale(server, title="Autumn sale", buyer_premium_bps=2000, interval=30)
    assert sale["status"] == "OPEN"
    assert (sale["settlement"], sale["buyer_premium_bps"]) == ("per_sale", 2000)
    assert (sale["seller_id"], sale["created_by"], sale["lot_count"]) == ("sam", "sam", 0)
    assert sale["last_lot_closes_at"] is None
    status, fetched = await server.request("GET", f"/api/sales/{sale['id']}")
    assert status == 200
    assert fetched["title"] == "Autumn sale"
    assert fetched["lots"] == []
    status, listing = await server.request("GET", "/api/sales")
    assert [item["id"] for item in listing["items"]] == [sale["id"]]


async def test_the_premium_defaults_to_the_house_setting(start_server):
    server = await start_server(buyer_premium_bps=1500)
    sale = await create_sale(server)
    assert sale["buyer_premium_bps"] == 1500


async def test_a_sale_starting_later_is_scheduled(server):
    later = await create_sale(server, starts_in=600, closes_in=3600)
    now = await create_sale(server)
    assert later["status"] == "SCHEDULED"
    for status, expected in (("SCHEDULED", [later["id"]]), ("OPEN", [now["id"]])):
        code, page = await server.request("GET", f"/api/sales?status={status}")
        assert code == 200
        assert [item["id"] for item in page["items"]] == expected


async def test_sales_are_listed_newest_first_in_pages(server):
    ids = [(await create_sale(server, title=f"S{n}"))["id"] for n in range(3)]
    _status, first = await server.request("GET", "/api/sales?limit=2")
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    _, rest = await server.request("GET", f"/api/sales?limit=2&cursor={first['next_cursor']}")
    assert [item["id"] for item in rest["items"]] == ids[:1]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(("role", "code"), [("bidder", 403), (None, 401)])
async def test_only_sellers_and_admins_create_sales(server, db, role, code):
    body = {
        "title": "x",
        "currency": "usd",
        "settlement": "per_lot",
        "lots_close_from": iso(in_seconds(600)),
        "lot_interval_seconds": 60,
    }
    who = {"as_user": "bob", "role": role} if role else {}
    status, error = await server.request("POST", "/api/sales", json=body, **who)
    assert status == code, error
    async with db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Sale)) == 0


async def test_a_bad_sale_names_every_problem_and_creates_nothing(server, db):
    body = {
        "title": "  ",
        "currency": "usd",
        "settlement": "weekly",
        "buyer_premium_bps": -1,
        "lots_close_from": iso(in_seconds(600)),
        "lot_interval_seconds": 1.5,
        "colour": "red",
    }
    status, error = await server.request(
        "POST", "/api/sales", as_user="sam", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
    assert set(error["error"]["fields"]) == {
        "title",
        "settlement",
        "buyer_premium_bps",
        "lot_interval_seconds",
        "colour",
    }
    async with db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Sale)) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "xyz"}, "currency"),
        # Times as seconds from now, made when the test runs: a parallel run may reach it
        # minutes after collection, when a time fixed then would be in the past.
        ({"lots_close_from": -5}, "lots_close_from"),
        ({"starts_at": 900}, "lots_close_from"),
        ({"lots_close_from": 91 * 86400}, "lots_close_from"),
        ({"lot_interval_seconds": 86401}, "lot_interval_seconds"),
        ({"buyer_premium_bps": 100_001}, "buyer_premium_bps"),
    ],
)
async def test_sale_rules_across_fields(server, change, field):
    times = {"starts_at", "lots_close_from"}
    body = {
        "title": "x",
        "currency": "usd",
        "settlement": "per_sale",
        "lots_close_from": iso(in_seconds(600)),
        "lot_interval_seconds": 60,
        **{
            name: iso(in_seconds(value)) if name in times else value
            for name, value in change.items()
        },
    }
    status, error = await server.request(
        "POST", "/api/sales", as_user="sam", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (400, "validation_error"), error
    assert list(error["error"]["fields"]) == [field]


async def test_lots_are_numbered_in_order_and_close_staggered(server):
    sale = await create_sale(server, closes_in=3600, interval=90)
    lots = [await add_lot(server, sale, title=f"Lot {n}") for n in range(1, 4)]
    assert [lot["lot_number"] for lot in lots] == [1, 2, 3]
    assert {lot["sale_id"] for lot in lots} == {sale["id"]}
    first_close = at(sale["lots_close_from"])
    for n, lot in enumerate(lots):
        assert at(lot["ends_at"]) == first_close + timedelta(seconds=90 * n)
        assert lot["status"] == "OPEN"
    _status, fetched = await server.request("GET", f"/api/sales/{sale['id']}")
    assert [lot["title"] for lot in fetched["lots"]] == ["Lot 1", "Lot 2", "Lot 3"]
    assert fetched["lot_count"] == 3
    assert at(fetched["last_lot_closes_at"]) == first_close + timedelta(seconds=180)
    _, lot = await server.request("GET", f"/api/lots/{lots[1]['id']}")
    assert (lot["sale_id"], lot["lot_number"]) == (sale["id"], 2)


async def test_lots_of_a_scheduled_sale_open_with_it(server):
    sale = await create_sale(server, starts_in=600, closes_in=3600)
    lot = await add_lot(server, sale)
    assert lot["status"] == "SCHEDULED"
    assert at(lot["starts_at"]) == at(sale["starts_at"])


async def test_lots_added_at_once_get_distinct_numbers(server, db):
    sale = await create_sale(server, interval=5)
    lots = await asyncio.gather(*(add_lot(server, sale, title=f"L{n}") for n in range(8)))
    assert sorted(lot["lot_number"] for lot in lots) == list(range(1, 9))
    for lot in lots:
        offset = timedelta(seconds=5 * (lot["lot_number"] - 1))
        assert at(lot["ends_at"]) == at(sale["lots_close_from"]) + offset


async def test_standalone_lots_have_no_sale(server):
    lot = await create_lot(server)
    assert (lot["sale_id"], lot["lot_number"]) == (None, None)


async def test_a_lot_of_a_sale_names_every_problem(server, db):
    sale = await create_sale(server, currency="eur")
    body = {
        "title": "Clock",
        "currency": "usd",
        "starting_price": 1000,
        "ends_at": iso(in_seconds(600)),
        "sale_id": sale["id"],
    }
    status, error = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
    assert set(error["error"]["fields"]) == {"currency", "ends_at"}
    async with db.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Lot)) == 0


async def test_a_lot_of_a_sale_is_priced_with_the_sales_premium(server):
    # 0.45 USD + 20 % = 0.54, above Stripe's 0.50 minimum; without a premium it is below.
    plain = await create_sale(server, buyer_premium_bps=0)
    premium = await create_sale(server, buyer_premium_bps=2000)
    status, error = await server.request(
        "POST",
        "/api/lots",
        as_user="sam",
        role="seller",
        json={"title": "x", "currency": "usd", "starting_price": 45, "sale_id": plain["id"]},
    )
    assert (status, list(error["error"]["fields"])) == (400, ["starting_price"]), error
    lot = await add_lot(server, premium, starting_price=45)
    assert lot["starting_price"] == 45


async def test_a_standalone_lot_still_needs_its_end(server):
    body = {"title": "x", "currency": "usd", "starting_price": 1000}
    status, error = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert (status, list(error["error"]["fields"])) == (400, ["ends_at"])


async def test_only_the_sales_seller_or_an_admin_adds_lots(server):
    sale = await create_sale(server, seller="sam")
    body = {"title": "x", "currency": "usd", "starting_price": 1000, "sale_id": sale["id"]}
    status, error = await server.request(
        "POST", "/api/lots", as_user="sue", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, lot = await server.request("POST", "/api/lots", as_user="root", role="admin", json=body)
    assert status == 201, lot
    assert (lot["seller_id"], lot["lot_number"]) == ("sam", 1)
    status, error = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json={**body, "sale_id": 10**6}
    )
    assert (status, error["error"]["code"]) == (404, "not_found")


async def test_a_sale_past_its_closes_takes_no_lots(server, db):
    sale = await create_sale(server, closes_in=3600, interval=60)
    await add_lot(server, sale)
    async with db.engine.begin() as conn:
        await conn.execute(
            Sale.__table__.update()
            .where(Sale.id == sale["id"])
            .values(
                starts_at=datetime.fromisoformat(iso(in_seconds(-7200))),
                lots_close_from=datetime.fromisoformat(iso(in_seconds(-60))),
            )
        )
    body = {"title": "x", "currency": "usd", "starting_price": 1000, "sale_id": sale["id"]}
    status, error = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (409, "sale_closed"), error


async def test_a_late_bid_extends_its_own_lot_only(server):
    sale = await create_sale(server, closes_in=30, interval=600)
    first, second = await add_lot(server, sale), await add_lot(server, sale)
    bob = await server.socket("bob")
    ack = await bob.call("place_bid", bid(first["id"], 1000))
    assert ack["ok"], ack
    extended = at(ack["lot"]["ends_at"])
    assert extended > at(first["ends_at"])  # the anti-sniping window (60 s) applies per lot
    _, untouched = await server.request("GET", f"/api/lots/{second['id']}")
    assert at(untouched["ends_at"]) == at(second["ends_at"])


async def test_the_lots_close_in_catalogue_order(server):
    sale = await create_sale(server, closes_in=1.5, interval=1, settlement="per_lot")
    lots = [await add_lot(server, sale) for _ in range(3)]
    closed = []
    for _ in range(200):
        closed = []
        for lot in lots:
            _, now = await server.request("GET", f"/api/lots/{lot['id']}")
            closed.append(now)
        if all(lot["status"] == "UNSOLD" for lot in closed):
            break
        await asyncio.sleep(0.1)
    assert [lot["status"] for lot in closed] == ["UNSOLD"] * 3
    times = [at(lot["closed_at"]) for lot in closed]
    assert times == sorted(times)
    assert all(at(lot["closed_at"]) >= at(lot["ends_at"]) for lot in closed)


async def test_the_sale_closes_once_with_its_last_lot(server):
    sale = await create_sale(server)
    first, second = await add_lot(server, sale), await add_lot(server, sale)
    context = server.context

    async def close(lot_id: int) -> str:
        status, _ = await server.request(
            "POST", f"/api/lots/{lot_id}/close", as_user="sam", role="seller"
        )
        assert status == 200
        status, fetched = await server.request("GET", f"/api/sales/{sale['id']}")
        return str(fetched["status"])

    # Each close of a lot checks its sale (server.sales.offers.lot_closed): the last closes it.
    assert await close(first["id"]) == "OPEN"
    assert await close(second["id"]) == "CLOSED"
    async with context.db.unit_of_work() as uow:
        assert await close_sale_if_done(uow, sale["id"]) is None  # once only
    status, fetched = await server.request("GET", f"/api/sales/{sale['id']}")
    assert (fetched["status"], fetched["closed_at"] is not None) == ("CLOSED", True)
    body = {"title": "x", "currency": "usd", "starting_price": 1000, "sale_id": sale["id"]}
    status, error = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert (status, error["error"]["code"]) == (409, "sale_closed")
