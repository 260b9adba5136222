"""The catalogue API (`GET /api/lots`): every status for a fresh visitor, tabs, search, paging."""

from __future__ import annotations

from typing import Any

from tests.support.factories import add_lot, create_lot, create_sale
from tests.support.sales import sold_lot, won_lot


async def _ids(server: Any, query: str) -> list[int]:
    """Every lot id the query lists, following `next_cursor` page by page (2 at a time)."""
    seen: list[int] = []
    cursor = None
    while True:
        page_query = f"{query}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = await server.request("GET", "/api/lots?" + page_query)
        assert status == 200, page
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_a_fresh_visitor_sees_every_status_and_the_price_actually_paid(server, localstripe):
    """Results show the hammer: the sold lot's price is the bid paid, not its starting price."""
    open_lot = await create_lot(server, title="Open vase")
    upcoming = await create_lot(server, title="Later clock", starts_in=600, ends_in=1200)
    pending, _, _ = await won_lot(server, title="Pending chair", amount=2500)
    sold, _, _ = await sold_lot(server, localstripe.url, title="Sold lamp", amount=7700)
    unsold = await create_lot(server, title="Nobody's rug")
    status, closed = await server.request(
        "POST", f"/api/lots/{unsold['id']}/close", as_user="sam", role="seller"
    )
    assert (status, closed["status"]) == (200, "UNSOLD")

    status, page = await server.request("GET", "/api/lots")
    assert status == 200
    by_id = {item["id"]: item for item in page["items"]}
    assert set(by_id) == {open_lot["id"], upcoming["id"], pending["id"], sold["id"], unsold["id"]}
    assert by_id[sold["id"]]["status"] == "SOLD"
    assert by_id[sold["id"]]["hammer_price"] == 7700
    assert by_id[pending["id"]]["hammer_price"] == 2500
    assert by_id[unsold["id"]]["hammer_price"] is None

    assert await _ids(server, "view=results") == [unsold["id"], sold["id"], pending["id"]]
    assert await _ids(server, "view=open") == [open_lot["id"]]
    assert await _ids(server, "view=upcoming") == [upcoming["id"]]
    assert await _ids(server, "view=results&status=SOLD") == [sold["id"]]
    assert await _ids(server, "view=open&status=SOLD") == []


async def test_closing_soon_lists_open_lots_ending_within_the_window_soonest_first(server):
    later = await create_lot(server, title="Later", ends_in=7200)
    soon = await create_lot(server, title="Soon", ends_in=600)
    sooner = await create_lot(server, title="Sooner", ends_in=300)
    await create_lot(server, title="Not yet open", starts_in=60, ends_in=400)
    assert await _ids(server, "view=closing_soon&sort=ending") == [sooner["id"], soon["id"]]
    assert await _ids(server, "view=closing_soon&closing_within=500") == [sooner["id"]]
    assert await _ids(server, "view=open&sort=ending") == [sooner["id"], soon["id"], later["id"]]


async def test_search_finds_part_of_a_title_whatever_its_case_and_takes_wildcards_literally(
    server,
):
    vase = await create_lot(server, title="Blue Vase, Ming")
    await create_lot(server, title="Brass chronometer")
    percent = await create_lot(server, title="100% wool rug")
    under = await create_lot(server, title="snake_case sign")
    assert await _ids(server, "q=vASE") == [vase["id"]]
    assert await _ids(server, "q=%25") == [percent["id"]]
    assert await _ids(server, "q=_") == [under["id"]]
    assert await _ids(server, "q=nothing-like-it") == []


async def test_a_sellers_lots_are_listed_by_seller_id(server):
    mine = await create_lot(server, seller="sam", title="Mine")
    await create_lot(server, seller="sue", title="Hers")
    assert await _ids(server, "seller_id=sam") == [mine["id"]]


async def test_soonest_end_pages_through_every_lot_once(server):
    ids = [(await create_lot(server, title=f"L{i}", ends_in=600 + i * 60))["id"] for i in range(5)]
    assert await _ids(server, "sort=ending") == ids


async def test_bad_catalogue_queries_are_validation_errors(server):
    for query in (
        "view=closed",
        "sort=price",
        "q=",
        "q=" + "x" * 201,
        "q=a%00b",
        "closing_within=0",
        "closing_within=soon",
        "seller_id=",
    ):
        status, error = await server.request("GET", "/api/lots?" + query)
        assert (status, error["error"]["code"]) == (400, "validation_error"), query


async def test_a_sales_lots_are_listed_in_catalogue_order(server):
    sale = await create_sale(server)
    lots = [(await add_lot(server, sale, title=f"No. {n}"))["id"] for n in (1, 2, 3)]
    await create_lot(server, title="Outside the sale")
    assert await _ids(server, f"sale_id={sale['id']}&sort=lot_number") == lots
    status, page = await server.request("GET", f"/api/lots?sale_id={sale['id']}&sort=lot_number")
    assert [lot["lot_number"] for lot in page["items"]] == [1, 2, 3]
    status, error = await server.request("GET", "/api/lots?sale_id=0")
    assert (status, error["error"]["code"]) == (400, "validation_error")
