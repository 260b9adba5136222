"""The lot page (/lots/{id}) in Chromium: entering amounts, confirming, maxima, buy-now.

Each test drives real pages served by the real app against PostgreSQL and localstripe;
what the bidder sees is checked on the page, what was placed is checked in the API.
Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.support.browser import (
    CHROMIUM,
    DESKTOP,
    LAUNCH_ARGS,
    BidderPage,
    open_lot,
)
from tests.support.factories import create_lot

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


async def open_tab(
    browser: Browser, url: str, name: str, *, viewport=DESKTOP, locale: str = "en-US"
) -> BidderPage:
    context = await browser.new_context(
        viewport=viewport, locale=locale, timezone_id="Europe/Berlin"
    )
    return await BidderPage.open(context, url, name)


async def bids_of(server, lot_id: int) -> list[tuple[int, bool]]:
    status, body = await server.request("GET", f"/api/lots/{lot_id}/bids")
    assert status == 200
    return [(item["amount"], item["auto"]) for item in body["items"]]


async def test_a_decimal_comma_in_a_german_browser_places_exactly_450_00(browser, start_server):
    server = await start_server(dev_mode=True)
    lot = await create_lot(server, title="Meissen figurine", starting_price=20_000, currency="eur")
    tab = await open_tab(browser, server.url, "alice", locale="de-DE")
    try:
        await tab.sign_in("Alice")
        lot_tab = await open_lot(tab, server.url, lot["id"])
        page = lot_tab.page
        # The box starts at the minimum, written the German way; the end time in Berlin time.
        await expect(page.get_by_label("Your bid (EUR)")).to_have_value("200,00")
        berlin = datetime.fromisoformat(lot["ends_at"]).astimezone(ZoneInfo("Europe/Berlin"))
        await expect(page.locator("#lot-ends-at")).to_contain_text(f"um {berlin:%H:%M:%S} MEZ")
        # "1.000" could be a thousand (German) or one (English): refused, nothing placed.
        await lot_tab.bid("1.000")
        await expect(lot_tab.message).to_contain_text("could be read two ways")
        await expect(page.get_by_label("Your bid (EUR)")).to_have_attribute("aria-invalid", "true")
        assert await bids_of(server, lot["id"]) == []
        await lot_tab.bid("450,00")
        await expect(lot_tab.message).to_have_text("Your bid of 450,00\xa0€ is the highest.")
        # The error line is gone: the success replaced it.
        await expect(lot_tab.message).not_to_contain_text("two ways")
        assert await bids_of(server, lot["id"]) == [(45_000, False)]
        await expect(lot_tab.price).to_have_text("450,00\xa0€")
        await tab.shot("lot-de-DE-decimal-comma")
        assert tab.problems == []
    finally:
        await tab.context.close()
