"""The catalogue (/) in Chromium: sales and lot numbers, filters, search, live prices, results."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.a11y import assert_accessible
from tests.support.browser import DESKTOP, EXPECT_TIMEOUT_MS, PHONE, BidderPage
from tests.support.factories import bid, create_lot, create_sale

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


async def sale_lot(server, sale: dict, title: str, starting_price: int) -> dict:
    body = {"title": title, "currency": "usd", "starting_price": starting_price}
    status, lot = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json={**body, "sale_id": sale["id"]}
    )
    assert status == 201, lot
    return lot


async def test_sales_filters_search_live_prices_and_results(browser, start_server):
    server = await start_server(dev_mode=True)
    sale = await create_sale(server, title="Maritime sale", settlement="per_lot", closes_in=7200)
    sextant = await sale_lot(server, sale, "Brass sextant", 20_000)
    await sale_lot(server, sale, "Ship's bell", 15_000)
    await sale_lot(server, sale, "Captain's log, 1888", 5_000)
    soon = await create_lot(
        server, title="Carved whale-bone box", starting_price=3000, ends_in=1200
    )
    sold = await create_lot(server, title="Ivory chess set", starting_price=4000)
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(sold["id"], 4500)))["ok"]
    status, _ = await server.request(
        "POST", f"/api/lots/{sold['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200

    context = await browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    tab = await BidderPage.open(context, server.url, "guest")
    page = tab.page
    try:
        # The sale, its lots in catalogue order with their numbers; other lots after it.
        maritime = page.get_by_role("region", name="Maritime sale")
        await expect(maritime.locator(".lot-number")).to_have_text(["Lot 1", "Lot 2", "Lot 3"])
        await expect(maritime.locator("h3")).to_have_text(
            ["Brass sextant", "Ship's bell", "Captain's log, 1888"]
        )
        others = page.get_by_role("region", name="Other lots")
        await expect(others.locator("article.tile")).to_have_count(2)
        # A result is visible to a fresh visitor: the hammer, awaiting payment.
        chess = page.locator("article.tile").filter(has_text="Ivory chess set")
        await expect(chess.locator(".price")).to_have_text("Hammer $45.00, awaiting payment")
        await expect(page.get_by_text("No lots are open right now")).to_have_count(0)

        # Live prices: a bid elsewhere changes the tile without a reload.
        assert (await bob.call("place_bid", bid(sextant["id"], 21_000)))["ok"]
        tile = page.locator("article.tile").filter(has_text="Brass sextant")
        await expect(tile.locator(".price")).to_have_text("Current bid $210.00")
        await expect(tile.locator(".tile-meta")).to_contain_text("1 bid")

        await page.get_by_label("Closing soon").check()
        await expect(page.locator("article.tile h3")).to_have_text(["Carved whale-bone box"])
        await page.get_by_label("Results").check()
        await expect(page.locator("article.tile h3")).to_have_text(["Ivory chess set"])
        await page.get_by_label("All lots").check()
        await page.get_by_label("Search by title").fill("BELL")
        await expect(page.locator("article.tile h3")).to_have_text(["Ship's bell"])
        assert page.url.endswith("/?q=BELL")
        await tab.shot("catalogue-search")
        # The filter is in the address: a reload keeps it.
        await page.goto(f"{server.url}/?show=open&q=box")
        await expect(page.locator("article.tile h3")).to_have_text(["Carved whale-bone box"])
        await expect(page.get_by_label("Open", exact=True)).to_be_checked()
        await page.get_by_label("Search by title").fill("chess")
        await expect(page.locator("#empty")).to_have_text("No lot title contains “chess”.")
        await page.get_by_label("Search by title").fill("")
        await page.get_by_label("All lots").check()
        await expect(page.locator("article.tile")).to_have_count(5)
        await assert_accessible(page, "the catalogue with a sale, desktop")
        await page.set_viewport_size(PHONE)
        await assert_accessible(page, "the catalogue with a sale, phone")
        await tab.shot("catalogue-sale-phone")
        # A sale's lot page names its number and its sale.
        await page.get_by_role("link", name="Brass sextant").click()
        await expect(page.locator("#lot-number")).to_have_text("Lot 1")
        await expect(page.locator("#lot-sale")).to_have_text("· Maritime sale")
        assert soon["id"] and tab.problems == []
    finally:
        await context.close()
