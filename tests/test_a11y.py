"""axe-core on every page the server serves, in Chromium, at desktop and phone width.

Each test opens a page in the state a person would see it in (lots with bids, a
signed-in user, a form with an error showing) and fails on any serious or critical
axe violation (tests/support/a11y.py). Lesser findings are printed.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.support.a11y import assert_accessible
from tests.support.browser import DESKTOP, EXPECT_TIMEOUT_MS, PHONE, BidderPage, open_lot
from tests.support.factories import bid, create_lot
from tests.support.sales import won_lot

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


async def _tab(browser: Browser, url: str, viewport: dict[str, int]) -> BidderPage:
    context = await browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC")
    return await BidderPage.open(context, url, "a11y")


async def test_the_catalogue_has_no_serious_accessibility_problems(browser, start_server):
    server = await start_server(dev_mode=True)
    lot = await create_lot(server, title="Walnut writing slope", starting_price=5000)
    await create_lot(server, title="Pair of pewter candlesticks", currency="jpy")
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(lot["id"], 5000)))["ok"]
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        tab = await _tab(browser, server.url, viewport)
        try:
            await expect(tab.page.get_by_text("Walnut writing slope").first).to_be_visible()
            await assert_accessible(tab.page, f"the catalogue, guest, {width}")
            await tab.page.get_by_role("button", name="Sign in as Alice").click()
            await expect(tab.page.get_by_text("Alice").first).to_be_visible()
            await assert_accessible(tab.page, f"the catalogue, signed in, {width}")
            assert tab.problems == []
        finally:
            await tab.context.close()


async def test_the_lot_page_has_no_serious_accessibility_problems(browser, start_server):
    """A lot with a bid history, a reserve, a signed-in bidder and a refusal showing."""
    server = await start_server(dev_mode=True)
    lot = await create_lot(
        server,
        title="Ebonised bracket clock",
        description="Twin fusee movement, striking on a bell.",
        starting_price=5000,
        reserve_price=20_000,
        bid_increment=500,
    )
    bob, carol = await server.socket("bob"), await server.socket("carol")
    assert (await bob.call("place_bid", bid(lot["id"], 5000)))["ok"]
    assert (await carol.call("place_bid", bid(lot["id"], 5500)))["ok"]
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        tab = await _tab(browser, server.url, viewport)
        try:
            lot_tab = await open_lot(tab, server.url, lot["id"])
            await expect(lot_tab.price).to_have_text("$55.00")
            await assert_accessible(tab.page, f"the lot page, guest, {width}")
            await tab.page.goto(server.url)
            await tab.page.get_by_role("button", name="Sign in as Alice").click()
            await tab.page.get_by_text("Bidding as Alice").wait_for()
            lot_tab = await open_lot(tab, server.url, lot["id"])
            await lot_tab.bid("55.00")  # too low: a refusal is on the page while it is scanned
            await expect(lot_tab.message).not_to_be_empty()
            await assert_accessible(tab.page, f"the lot page, signed in, {width}")
            assert tab.problems == []
        finally:
            await tab.context.close()


async def test_the_account_page_has_no_serious_accessibility_problems(browser, start_server):
    """Alice's account with a payment due, a bid and her strikes."""
    server = await start_server(dev_mode=True, buyer_premium_bps=1000)
    await won_lot(server, buyer="alice", amount=12_345, title="Pair of Staffordshire dogs")
    other = await create_lot(server, title="Mahogany tea caddy", starting_price=3000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(other["id"], 3000)))["ok"]
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        tab = await _tab(browser, server.url, viewport)
        try:
            await tab.page.get_by_role("button", name="Sign in as Alice").click()
            await tab.page.get_by_text("Bidding as Alice").wait_for()
            await tab.page.goto(f"{server.url}/account")
            await expect(tab.payment.get_by_role("heading")).to_have_text(
                "Pay for “Pair of Staffordshire dogs”"
            )
            await expect(tab.page.locator("main")).to_contain_text("Mahogany tea caddy")
            await assert_accessible(tab.page, f"the account page, {width}")
            assert tab.problems == []
        finally:
            await tab.context.close()
