"""The whole product in Chromium: a seller lists a lot with a photo on the seller desk, two
bidders fight for it on its page, the time runs out, the winner pays, and the seller's desk
follows every step live (results and payments), naming the buyers by alias only."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.async_api import expect
from sqlalchemy import func, select, text, update

from server.auctions.models import Lot
from tests.support.browser import DESKTOP, EXPECT_TIMEOUT_MS, PHONE, BidderPage, open_lot
from tests.support.desk import open_desk

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


async def test_a_lot_listed_on_the_desk_is_fought_for_won_paid_and_followed_live(
    browser, start_server, db, tmp_path
):
    server = await start_server(dev_mode=True, buyer_premium_bps=1000)
    photo = tmp_path / "inkstand.png"
    Image.new("RGB", (900, 700), (200, 160, 60)).save(photo, format="PNG")
    title = "Gilt bronze inkstand"

    seller = await open_desk(browser, f"{server.url}/seller", as_name="Sam the seller")
    bidders: list[BidderPage] = []
    try:
        editor = seller.section("New lot")
        await editor.get_by_label("Title").fill(title)
        await editor.get_by_label("Starting price (USD)").fill("100")
        await editor.get_by_label(re.compile(r"^Bid increment \(USD\)")).fill("10")
        await editor.get_by_label("Images").set_input_files(photo)
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.status).to_contain_text(f"“{title}” was created")
        await expect(seller.status).to_contain_text("1 image uploaded.")
        async with db.sessions() as session:
            lot_id = await session.scalar(select(Lot.id).where(Lot.title == title))
        item = seller.section("Your lots").locator(f"[data-lot-id='{lot_id}']")

        for name, viewport in (("Alice", DESKTOP), ("Bob", PHONE)):
            context = await browser.new_context(
                viewport=viewport, locale="en-US", timezone_id="UTC"
            )
            tab = await BidderPage.open(context, server.url, name.lower())
            bidders.append(tab)
            await tab.sign_in(name)
        alice, bob = bidders
        # The catalogue shows the seller's photo, as a thumbnail.
        tile = alice.page.locator("article.tile").filter(has_text=title)
        await expect(tile.locator("img")).to_have_attribute("src", re.compile(r"^/media/"))
        a = await open_lot(alice, server.url, lot_id)
        b = await open_lot(bob, server.url, lot_id)
        await a.bid("100.00")
        await expect(a.message).to_have_text("Your bid of $100.00 is the highest.")
        await b.bid("110.00")
        await expect(b.message).to_have_text("Your bid of $110.00 is the highest.")
        # The seller's desk follows without a refresh.
        await expect(item).to_contain_text(
            re.compile(r"2 bids, highest \$110\.00 by Bidder [0-9A-F]{6}\.")
        )
        await expect(item.get_by_role("button", name=re.compile("^Edit"))).to_have_count(0)

        # Time runs out (moved to now): the sweep brings the hammer down.
        async with db.engine.begin() as conn:
            await conn.execute(
                update(Lot)
                .where(Lot.id == lot_id)
                .values(ends_at=func.now() - text("interval '1 second'"))
            )
        await expect(bob.payment.get_by_role("heading")).to_have_text(
            f"Pay for “{title}”", timeout=90_000
        )
        results = seller.section("Results")
        await expect(results).to_contain_text(
            re.compile(r"Won by Bidder [0-9A-F]{6} at \$110\.00; awaiting their payment\.")
        )
        payments = seller.page.get_by_role("table", name="Payments for your lots")
        await expect(payments).to_contain_text("Awaiting the buyer")

        await bob.pay("4242 4242 4242 4242")
        await expect(bob.payment.locator(".message")).to_contain_text("Paid $121.00.")
        await expect(results).to_contain_text(
            re.compile(r"Sold to Bidder [0-9A-F]{6} for \$110\.00\.")
        )
        row = payments.get_by_role("row").filter(has_text=title)
        await expect(row).to_contain_text("Paid")
        await expect(row).to_contain_text("$121.00")
        await seller.shot("sale-01-seller-desk-after-the-sale")
        desk_text = (await seller.page.locator("main").inner_text()).lower()
        assert "alice" not in desk_text and "bob" not in desk_text
        assert seller.problems == [] and alice.problems == [] and bob.problems == []
    finally:
        for tab in bidders:
            await tab.context.close()
        await seller.context.close()
