"""The seller desk (/seller) in Chromium, against the real app, PostgreSQL and localstripe.

A seller creates lots (prices typed in their own locale), edits one before its first bid,
follows bids and results by alias only, and uploads images shown as thumbnails.
Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import expect
from sqlalchemy import select

from server.auctions.models import Lot
from tests.support.a11y import assert_accessible
from tests.support.browser import EXPECT_TIMEOUT_MS, PHONE
from tests.support.desk import open_desk, overflows
from tests.support.factories import bid, create_lot
from tests.support.sales import sold_lot, won_lot

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


async def _lot(db, title: str) -> Lot:
    async with db.sessions() as session:
        lot = await session.scalar(select(Lot).where(Lot.title == title))
        assert lot is not None, title
        return lot


async def test_a_seller_creates_a_lot_and_follows_it_to_its_result(browser, start_server, db):
    server = await start_server(dev_mode=True)
    seller = await open_desk(
        browser,
        f"{server.url}/seller",
        as_name="Sam the seller",
        locale="de-DE",
        timezone="Europe/Berlin",
    )
    page = seller.page
    try:
        editor = seller.section("New lot")
        await expect(editor.get_by_label("Starting price (USD)")).to_be_visible()
        await assert_accessible(page, "the seller desk, empty")

        # Problems are found before anything is sent, each beside its field.
        await editor.get_by_label("Starting price (USD)").fill("12.50.0")
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.alert).to_have_text("Give the lot a title.")
        await expect(editor.get_by_label("Title")).to_be_focused()
        await expect(editor.locator(".field").filter(has_text="Starting price")).to_contain_text(
            "Starting price:"
        )
        await editor.get_by_label("Title").fill("Marquetry sewing box")
        await editor.get_by_label("Description (optional)").fill("Walnut, with its key.")
        await editor.get_by_label("Starting price (USD)").fill("450,00")  # de-DE decimal comma
        await editor.get_by_label(re.compile(r"^Reserve price \(USD\)")).fill("600")
        await editor.get_by_label(re.compile(r"^Bid increment \(USD\)")).fill("25,00")
        await editor.get_by_label("Closes at").fill("2026-12-24T18:30")  # Berlin: 17:30 UTC
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.status).to_have_text(
            re.compile(r"^“Marquetry sewing box” was created; bidding closes ")
        )
        await expect(seller.alert).to_be_empty()
        created = await _lot(db, "Marquetry sewing box")
        assert (created.starting_price, created.reserve_price, created.bid_increment) == (
            45_000,
            60_000,
            2_500,
        )
        assert created.ends_at.isoformat() == "2026-12-24T17:30:00+00:00"
        lots = seller.section("Your lots")
        item = lots.locator(f"[data-lot-id='{created.id}']")
        await expect(item).to_contain_text("no bids yet; starts at 450,00\xa0$")

        # A bid: no more editing; the bidder is an alias, never their id.
        bob = await server.socket("bob")
        assert (await bob.call("place_bid", bid(created.id, 45_000)))["ok"]
        # Live: the desk follows its lots; no refresh needed.
        await expect(item).to_contain_text(re.compile(r"1 bid, highest 450,00\xa0\$ by Bidder \w+"))
        await expect(item).to_contain_text("Reserve not met yet.")
        await expect(item.get_by_role("button", name=re.compile("^Edit"))).to_have_count(0)
        await seller.shot("seller-01-lots")

        status, _ = await server.request(
            "POST", f"/api/lots/{created.id}/close", as_user="sam", role="seller"
        )
        assert status == 200
        results = seller.section("Results")
        await expect(results).to_contain_text("Unsold: the highest bid, 450,00\xa0$, did not meet")
        assert "bob" not in (await page.locator("main").inner_text()).lower()
        assert seller.problems == []
    finally:
        await seller.context.close()


async def test_the_seller_desk_fits_a_phone_and_withdraws_a_lot(browser, start_server, db):
    server = await start_server(dev_mode=True)
    seller = await open_desk(
        browser, f"{server.url}/seller", as_name="Sam the seller", viewport=PHONE
    )
    try:
        editor = seller.section("New lot")
        await editor.get_by_label("Title").fill(
            "An extraordinarily long title for a lot of Georgian silver flatware, " * 2
        )
        await editor.get_by_label("Starting price (USD)").fill("9999999.99")
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.alert).to_have_text(
            "The lot was not created: Starting price must be at most $999,999.99 "
            "(Stripe's maximum charge in USD)"
        )
        await expect(editor.get_by_label("Starting price (USD)")).to_be_focused()
        await editor.get_by_label("Starting price (USD)").fill("999999.99")
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.status).to_contain_text("was created")
        await expect(seller.alert).to_be_empty()
        await expect(editor.locator(".field .error:not(:empty)")).to_have_count(0)
        assert await overflows(seller) == []
        await assert_accessible(seller.page, "the seller desk on a phone")
        await seller.shot("seller-02-phone")
        lots = seller.section("Your lots")
        await lots.get_by_role("button", name=re.compile("^Withdraw")).click()
        await lots.get_by_role("button", name="Yes, withdraw it").click()
        await expect(seller.status).to_contain_text("was withdrawn.")
        await expect(seller.section("Results")).to_contain_text("Withdrawn.")
        assert seller.problems == []
    finally:
        await seller.context.close()


async def test_a_lot_is_created_with_the_keyboard_only(browser, start_server, db):
    """Skip link, Tab, typing and Enter: no mouse. It closes a day later by default."""
    server = await start_server(dev_mode=True)
    seller = await open_desk(
        browser, f"{server.url}/seller", as_name="Sam the seller", timezone="America/New_York"
    )
    page = seller.page
    try:
        await page.reload()  # still signed in; the keyboard starts from the top
        await expect(seller.section("New lot").get_by_label("Closes at")).to_be_visible()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to the desk")).to_be_focused()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Title")).to_be_focused()
        await page.keyboard.type("Tortoiseshell tea caddy")
        for _ in range(3):  # description, currency, starting price
            await page.keyboard.press("Tab")
        await expect(page.get_by_label("Starting price (USD)")).to_be_focused()
        await page.keyboard.type("75")
        await page.keyboard.press("Enter")
        await expect(seller.status).to_contain_text("“Tortoiseshell tea caddy” was created")
        lot = await _lot(db, "Tortoiseshell tea caddy")
        assert lot.starting_price == 7500
        assert timedelta(hours=23) < lot.ends_at - datetime.now(UTC) < timedelta(hours=25)
    finally:
        await seller.context.close()


def _png(path: Path, size: tuple[int, int], *, noise: bool = False) -> Path:
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (180, 120, 60))
    image.save(path, format="PNG")
    return path


async def test_a_lot_created_with_images_shows_its_thumbnails(browser, start_server, db, tmp_path):
    """The desk refuses a GIF and a too-large photo in the seller's words, uploads the rest,
    and the lot shows its thumbnail on the desk and in the catalogue."""
    server = await start_server(dev_mode=True, media_max_bytes=1024 * 1024)
    front = _png(tmp_path / "front.png", (1200, 900))
    back = _png(tmp_path / "back.png", (800, 600))
    huge = _png(tmp_path / "huge.png", (1000, 1000), noise=True)
    gif = tmp_path / "spinning.gif"
    Image.new("RGB", (40, 40)).save(gif, format="GIF")
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a photo at all")
    seller = await open_desk(browser, f"{server.url}/seller", as_name="Sam the seller")
    page = seller.page
    try:
        editor = seller.section("New lot")
        await editor.get_by_label("Title").fill("Carved jade belt hook")
        await editor.get_by_label("Starting price (USD)").fill("320")
        await editor.get_by_label("Images").set_input_files([front, gif, huge, fake, back])
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.alert).to_have_text(
            re.compile(
                r"^“Carved jade belt hook” was created; bidding closes .+\. 2 images uploaded\. "
                r"“spinning\.gif” is not a JPEG, PNG or WebP image, so it cannot be uploaded\. "
                r"“huge\.png” is 2\.9 MB; an image can be at most 1 MB\. "
                r"“notes\.jpg” was not uploaded: .+\.$"
            )
        )
        await expect(seller.status).to_be_empty()
        lot = await _lot(db, "Carved jade belt hook")
        status, body = await server.request("GET", f"/api/lots/{lot.id}")
        assert status == 200 and len(body["images"]) == 2
        assert all(image["thumb_url"].startswith("/media/") for image in body["images"])

        item = seller.section("Your lots").locator(f"[data-lot-id='{lot.id}']")
        thumb = item.locator("img")
        await expect(thumb).to_have_attribute("src", body["images"][0]["thumb_url"])
        assert await thumb.evaluate("img => img.complete && img.naturalWidth > 0")
        await seller.shot("seller-03-lot-with-image")

        # Edit: the thumbnails, each removable; the cover goes, the other stays.
        await item.get_by_role("button", name="Edit “Carved jade belt hook”").click()
        form = seller.section("Edit “Carved jade belt hook”")
        gallery = form.get_by_role("list", name="Images of “Carved jade belt hook”")
        await expect(gallery.get_by_role("img")).to_have_count(2)
        first, second = (image["id"] for image in body["images"])
        await gallery.get_by_role("button", name="Make image 2 the cover").click()
        await expect(seller.status).to_have_text(
            "Image 2 is now the cover of “Carved jade belt hook”."
        )
        status, body = await server.request("GET", f"/api/lots/{lot.id}")
        assert [image["id"] for image in body["images"]] == [second, first]
        await expect(item.locator("img")).to_have_attribute("src", body["images"][0]["thumb_url"])
        await gallery.get_by_role("button", name="Remove image 1").click()
        await expect(seller.status).to_have_text("Image 1 of “Carved jade belt hook” was removed.")
        await expect(gallery.get_by_role("img")).to_have_count(1)
        status, body = await server.request("GET", f"/api/lots/{lot.id}")
        assert [image["id"] for image in body["images"]] == [first]

        # The catalogue shows the lot with its thumbnail.
        await page.goto(server.url)
        tile = page.locator("article.tile").filter(has_text="Carved jade belt hook")
        await expect(tile.locator("img")).to_have_attribute("src", body["images"][0]["thumb_url"])
        assert seller.problems == []
    finally:
        await seller.context.close()


async def test_a_lot_joins_one_of_the_sellers_sales(browser, start_server, db):
    """In a sale the lot takes the sale's currency and schedule, and is numbered."""
    server = await start_server(dev_mode=True)
    closes = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    status, sale = await server.request(
        "POST",
        "/api/sales",
        as_user="sam",
        role="seller",
        json={
            "title": "Winter sale of clocks",
            "currency": "eur",
            "settlement": "per_lot",
            "lots_close_from": closes.isoformat(),
            "lot_interval_seconds": 60,
        },
    )
    assert status == 201, sale
    seller = await open_desk(browser, f"{server.url}/seller", as_name="Sam the seller")
    try:
        editor = seller.section("New lot")
        await editor.get_by_label("Sale").select_option(value=str(sale["id"]))
        await expect(editor.get_by_label("Currency")).to_have_value("eur")
        await expect(editor.get_by_label("Currency")).to_be_disabled()
        await expect(editor.get_by_label("Closes at")).to_be_hidden()
        await editor.get_by_label("Title").fill("Vienna regulator")
        await editor.get_by_label("Starting price (EUR)").fill("800")
        await editor.get_by_role("button", name="Create lot").click()
        await expect(seller.status).to_have_text(
            re.compile(r"^“Vienna regulator” was created as lot 1 of “Winter sale of clocks”; ")
        )
        lot = await _lot(db, "Vienna regulator")
        assert (lot.sale_id, lot.lot_number, lot.currency, lot.starting_price) == (
            sale["id"],
            1,
            "eur",
            80_000,
        )
        assert lot.ends_at == closes
        item = seller.section("Your lots").locator(f"[data-lot-id='{lot.id}']")
        await expect(item).to_contain_text("Lot 1 of “Winter sale of clocks”.")
        await expect(seller.section("Results")).to_contain_text(
            "“Winter sale of clocks” (open): 1 lot; 1 still open or to come."
        )
        # The form is for a lot on its own again.
        await expect(editor.get_by_label("Sale")).to_have_value("")
        await expect(editor.get_by_label("Closes at")).to_be_visible()
        assert seller.problems == []
    finally:
        await seller.context.close()


async def test_a_lot_is_edited_until_its_first_bid(browser, start_server, db):
    server = await start_server(dev_mode=True)
    lot = await create_lot(
        server, title="Marquetry sewing box", starting_price=45_000, reserve_price=60_000
    )
    seller = await open_desk(
        browser, f"{server.url}/seller", as_name="Sam the seller", locale="de-DE"
    )
    try:
        item = seller.section("Your lots").locator(f"[data-lot-id='{lot['id']}']")
        await item.get_by_role("button", name="Edit “Marquetry sewing box”").click()
        form = seller.section("Edit “Marquetry sewing box”")
        await expect(form.get_by_role("heading")).to_be_focused()
        await expect(form.get_by_label("Starting price (USD)")).to_have_value("450,00")
        await expect(form.get_by_label(re.compile(r"^Reserve price"))).to_have_value("")
        await form.get_by_label("Title").fill("Marquetry sewing box, c. 1860")
        await form.get_by_label("Starting price (USD)").fill("400")
        await form.get_by_role("button", name="Save changes").click()
        await expect(seller.status).to_have_text(
            "Your changes to “Marquetry sewing box, c. 1860” were saved."
        )
        await expect(seller.section("New lot")).to_be_visible()  # the form is new again
        edited = await _lot(db, "Marquetry sewing box, c. 1860")
        # The secret reserve was left alone: the desk only sends what changed.
        assert (edited.id, edited.starting_price, edited.reserve_price) == (
            lot["id"],
            40_000,
            60_000,
        )

        # A bid lands while the seller is editing: the save is refused in words.
        await item.get_by_role("button", name="Edit “Marquetry sewing box, c. 1860”").click()
        form = seller.section("Edit “Marquetry sewing box, c. 1860”")
        await form.get_by_label("Starting price (USD)").fill("380")
        bob = await server.socket("bob")
        assert (await bob.call("place_bid", bid(lot["id"], 40_000)))["ok"]
        await form.get_by_role("button", name="Save changes").click()
        await expect(seller.alert).to_have_text(
            "“Marquetry sewing box, c. 1860” was not changed: "
            "This lot has bids now, so it can no longer be edited."
        )
        assert (await _lot(db, "Marquetry sewing box, c. 1860")).starting_price == 40_000
        await seller.page.get_by_role("button", name="Stop editing").click()
        await seller.page.get_by_role("button", name="Refresh the desk").click()
        await expect(item).to_contain_text("1 bid, highest 400,00")
        await expect(item.get_by_role("button", name=re.compile("^Edit"))).to_have_count(0)
        assert seller.problems == []
    finally:
        await seller.context.close()


async def test_the_payments_for_the_sellers_lots_name_buyers_by_alias_only(
    browser, start_server, db, localstripe
):
    server = await start_server(dev_mode=True, buyer_premium_bps=2000)
    _sold, paid, _alice = await sold_lot(
        server, localstripe.url, buyer="alice", title="Bronze stag", amount=50_000
    )
    await won_lot(server, buyer="bob", title="Silver vesta case", amount=12_000)
    await won_lot(server, buyer="carol", title="Someone else's lot", amount=9_000, seller="sue")
    status, _ = await server.request(
        "POST",
        f"/api/payments/{paid['payment_id']}/refund",
        as_user="root",
        role="admin",
        json={"amount": 5_000},
    )
    assert status == 201
    seller = await open_desk(
        browser, f"{server.url}/seller", as_name="Sam the seller", viewport=PHONE
    )
    try:
        payments = seller.page.get_by_role("table", name="Payments for your lots")
        await expect(payments.get_by_role("row")).to_have_count(3)  # the header and two
        bronze = payments.get_by_role("row").filter(has_text="Bronze stag")
        await expect(bronze).to_contain_text("Partly refunded")
        await expect(bronze).to_contain_text("$500.00")  # hammer
        await expect(bronze).to_contain_text("$100.00")  # premium
        await expect(bronze).to_contain_text("$600.00")  # total
        await expect(bronze).to_contain_text("$50.00")  # refunded
        await expect(bronze).to_contain_text(re.compile(r"Bidder [0-9A-F]{6}"))
        vesta = payments.get_by_role("row").filter(has_text="Silver vesta case")
        await expect(vesta).to_contain_text("Awaiting the buyer")
        await expect(seller.page.locator("main")).not_to_contain_text("Someone else's lot")
        text = (await seller.page.locator("main").inner_text()).lower()
        assert "alice" not in text and "bob" not in text and "carol" not in text
        results = seller.section("Results")
        await expect(results).to_contain_text(
            re.compile(r"Sold to Bidder [0-9A-F]{6} for \$500\.00")
        )
        assert await overflows(seller) == []
        await assert_accessible(seller.page, "the seller desk with payments, phone")
        await seller.shot("seller-04-payments-phone")
        assert seller.problems == []
    finally:
        await seller.context.close()


async def test_the_seller_desk_is_for_sellers(browser, start_server):
    server = await start_server(dev_mode=True)
    tab = await open_desk(browser, f"{server.url}/seller", as_name=None)
    try:
        await expect(tab.page.locator("#gate")).to_have_text(
            "Sign in as a seller to use this desk."
        )
        await expect(tab.page.get_by_role("button", name="Sign in as Root")).to_have_count(0)
        await assert_accessible(tab.page, "the seller desk signed out")
    finally:
        await tab.context.close()
