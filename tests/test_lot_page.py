"""The lot page (/lots/{id}) in Chromium: entering amounts, confirming, maxima, buy-now.

Each test drives real pages served by the real app against PostgreSQL and localstripe;
what the bidder sees is checked on the page, what was placed is checked in the API.
Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import io
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import jwt
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import JWT_SECRET
from tests.support.a11y import assert_accessible
from tests.support.browser import (
    DESKTOP,
    EXPECT_TIMEOUT_MS,
    PHONE,
    BidderPage,
    no_horizontal_overflow,
    open_lot,
)
from tests.support.factories import bid, create_lot

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


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
        # The page really reads numbers as a German browser writes them.
        assert await page.evaluate("navigator.languages[0]") == "de-DE"
        # The box starts at the minimum, written the German way; the end time in Berlin time.
        await expect(page.get_by_label("Your bid (EUR)")).to_have_value("200,00")
        await expect(page.locator("#bid-hint")).to_contain_text("Type it like 200,00.")
        berlin = datetime.fromisoformat(lot["ends_at"]).astimezone(ZoneInfo("Europe/Berlin"))
        await expect(page.locator("#lot-ends-at")).to_contain_text(f"um {berlin:%H:%M:%S} MEZ")
        # "1.000" could be a thousand (German) or one (English): refused, nothing placed. The
        # example in the refusal comes from the locale the parser was given: "450,00" here.
        # ("450,00" below is 450.00 in every locale -- a mark before two digits cannot group
        # thousands -- so this message is what proves the page parses with the German locale;
        # tests/js/money.test.mjs covers the parser's rules locale by locale.)
        await lot_tab.bid("1.000")
        await expect(lot_tab.message).to_contain_text(
            "\u201c1.000\u201d could be read two ways. Type the amount without thousands"
            " separators, like 450,00"
        )
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


async def sign_in_with(tab: BidderPage, token: str, name: str, sub: str) -> None:
    """Put a token in the browser's storage as the page itself keeps it."""
    await tab.page.evaluate(
        "([token, name, sub]) => localStorage.setItem('auction.session',"
        " JSON.stringify({user: {sub, name}, token}))",
        [token, name, sub],
    )


async def test_a_large_bid_asks_for_confirmation_and_bidding_works_by_keyboard_alone(
    browser, start_server
):
    server = await start_server(dev_mode=True)
    lot = await create_lot(server, title="Georgian silver teapot", starting_price=10_000)
    tab = await open_tab(browser, server.url, "alice")
    try:
        await tab.sign_in("Alice")
        lot_tab = await open_lot(tab, server.url, lot["id"])
        page, box = lot_tab.page, lot_tab.page.get_by_label("Your bid (USD)")
        # Keyboard only: the skip link, then the bid box.
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to bidding")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#bid-heading")).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(box).to_be_focused()
        await page.keyboard.press("ControlOrMeta+a")
        await page.keyboard.type("9999999999999")
        await page.keyboard.press("Enter")
        # A bid far above the minimum stops for a confirmation, focused, with the amount in it.
        confirm = page.get_by_role("button", name="Confirm bid of $9,999,999,999,999.00")
        await expect(confirm).to_be_focused()
        await expect(page.locator("#confirm-text")).to_have_text(
            "Do you want to bid $9,999,999,999,999.00? "
            "That is 99999999999 times the minimum bid of $100.00."
        )
        await tab.shot("lot-confirm-huge-bid")
        await page.keyboard.press("Escape")
        await expect(page.locator("#confirm")).to_be_hidden()
        await expect(box).to_be_focused()
        assert await bids_of(server, lot["id"]) == []
        # Three times the minimum: confirmed with Enter, placed exactly.
        await page.keyboard.press("ControlOrMeta+a")
        await page.keyboard.type("300")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("button", name="Confirm bid of $300.00")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(lot_tab.message).to_have_text("Your bid of $300.00 is the highest.")
        assert await bids_of(server, lot["id"]) == [(30_000, False)]
        # Just under three times the next minimum: no confirmation.
        await lot_tab.bid("320")
        await expect(lot_tab.message).to_have_text("You already hold the highest bid.")
        await expect(page.locator("#confirm")).to_be_hidden()
        # "Change the amount" also leaves without bidding.
        bob = await server.socket("bob")
        assert (await bob.call("place_bid", bid(lot["id"], 31_000)))["ok"]
        await expect(lot_tab.message).to_contain_text("You were outbid")
        await lot_tab.bid("5000")
        await page.get_by_role("button", name="Change the amount").click()
        await expect(box).to_be_focused()
        await expect(lot_tab.message).to_be_empty()
        assert [amount for amount, _ in await bids_of(server, lot["id"])] == [31_000, 30_000]
        assert tab.problems == []
    finally:
        await tab.context.close()


async def test_maximum_bids_fight_and_the_history_marks_the_automatic_ones(browser, start_server):
    server = await start_server(dev_mode=True)
    lot = await create_lot(
        server, title="Victorian writing box", starting_price=4000, bid_increment=500
    )
    alice = await open_tab(browser, server.url, "alice")
    bob = await open_tab(browser, server.url, "bob", viewport=PHONE)
    try:
        await alice.sign_in("Alice")
        await bob.sign_in("Bob")
        a = await open_lot(alice, server.url, lot["id"])
        b = await open_lot(bob, server.url, lot["id"])
        await a.set_max("100.50")
        await expect(a.message).to_have_text(
            "Your maximum of $100.50 is set, and you are the highest bidder. "
            "We bid for you up to it."
        )
        await expect(b.price).to_have_text("$40.00")
        await b.set_max("80")
        await expect(b.message).to_have_text(
            "Your maximum of $80.00 is set, but another bidder's maximum is higher."
        )
        await expect(a.price).to_have_text("$85.00")
        await expect(a.page.locator("#lot-leader")).to_have_text("You are the highest bidder.")
        # Bob bids past his maximum by hand; Alice's maximum answers again.
        await b.bid("90")
        await expect(b.message).to_contain_text("You were outbid")
        await expect(b.price).to_have_text("$95.00")
        rows = a.page.locator("#history-rows tr")
        await expect(rows.first).to_contain_text("auto")
        await expect(rows.first).to_contain_text("(you)")
        await expect(rows.first).to_contain_text("$95.00")
        history = await bids_of(server, lot["id"])
        assert history[0] == (9500, True) and (9000, False) in history
        # Alice's maximum is hers to see: on her page after a reload, never on Bob's.
        await a.page.reload()
        await expect(a.page.locator("#max-hint")).to_have_text(
            "Your maximum: $100.50 (only you see it). You can raise it."
        )
        assert "100.50" not in await b.page.locator("#lot-page").inner_text()
        # A maximum only goes up; the refusal names amounts in dollars, not cents.
        await a.set_max("100.25")
        await expect(a.message).to_have_text(
            "Your maximum is already $100.50; a maximum can only be raised."
        )
        await alice.shot("lot-maxima-alice")
        await bob.shot("lot-maxima-bob-phone")
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()


async def test_buy_now_after_a_confirmation_closes_the_lot_and_asks_for_payment(
    browser, start_server
):
    server = await start_server(dev_mode=True)
    lot = await create_lot(
        server, title="Lalique glass vase", starting_price=5000, buy_now_price=30_000
    )
    bob = await open_tab(browser, server.url, "bob")
    alice = await open_tab(browser, server.url, "alice", viewport=PHONE)
    try:
        await bob.sign_in("Bob")
        await alice.sign_in("Alice")
        b = await open_lot(bob, server.url, lot["id"])
        a = await open_lot(alice, server.url, lot["id"])
        await b.page.get_by_role("button", name="Buy now for $300.00").click()
        await expect(b.page.locator("#confirm-text")).to_contain_text(
            "Do you want to buy this lot now for $300.00?"
        )
        await b.page.get_by_role("button", name="Confirm: buy for $300.00").click()
        await expect(b.page.locator("#lot-badge")).to_have_text("Awaiting payment")
        await expect(bob.payment.get_by_role("heading")).to_have_text(
            "Pay for “Lalique glass vase”"
        )
        await expect(bob.payment.locator(".total")).to_have_text("$300.00")
        await expect(a.page.locator("#lot-badge")).to_have_text("Awaiting payment")
        await expect(a.page.get_by_role("button", name=re.compile("Buy now"))).to_have_count(0)
        await expect(a.page.locator("#bid-closed")).to_have_text("Bidding on this lot has ended.")
        await bob.shot("lot-buy-now")
        assert bob.problems == [] and alice.problems == []
    finally:
        await bob.context.close()
        await alice.context.close()


async def test_trust_reserve_tabs_expired_sign_in_and_a_phone_with_large_amounts(
    browser, start_server, make_token
):
    server = await start_server(dev_mode=True)
    lot = await create_lot(
        server, title="Regency mahogany bracket clock", starting_price=5000, reserve_price=10_000
    )
    big = await create_lot(
        server, title="Imperial jade seal", starting_price=30_000_000, currency="usd"
    )
    alice = await open_tab(browser, server.url, "alice", viewport=PHONE)
    try:
        await alice.sign_in("Alice")
        a = await open_lot(alice, server.url, lot["id"])
        await expect(a.page.locator("#lot-reserve")).to_have_text("Reserve not met yet.")
        await a.bid("60")
        await expect(a.page.locator("#lot-reserve")).to_have_text("Reserve not met yet.")
        bob = await server.socket("bob")
        assert (await bob.call("place_bid", bid(lot["id"], 7000)))["ok"]
        # Her own bid meets the reserve: the line changes at once.
        await a.bid("100")
        await expect(a.message).to_have_text("Your bid of $100.00 is the highest.")
        await expect(a.page.locator("#lot-reserve")).to_have_text("Reserve met.")

        # A second tab of the same browser starts signed in.
        second = await alice.context.new_page()
        await second.goto(f"{server.url}/lots/{lot['id']}")
        await expect(second.get_by_text("Bidding as Alice")).to_be_visible()
        await expect(second.locator("#lot-leader")).to_have_text("You are the highest bidder.")
        await second.close()

        # Large amounts on a phone: nothing sticks out, not even the confirmation.
        g = await open_lot(alice, server.url, big["id"])
        await g.bid("999999.99")
        await expect(g.page.locator("#confirm")).to_be_visible()
        assert await no_horizontal_overflow(g.page) == []
        await g.page.get_by_role("button", name="Confirm bid of $999,999.99").click()
        await expect(g.price).to_have_text("$999,999.99")
        assert await no_horizontal_overflow(g.page) == []
        await alice.shot("lot-large-amount-phone")
        await g.page.goto(server.url)
        await expect(g.page.locator("article.tile")).to_have_count(2)
        assert await no_horizontal_overflow(g.page) == []
        await alice.shot("catalogue-phone")
        assert alice.problems == []
    finally:
        await alice.context.close()

    # A sign-in that runs out while the page is open says so; so does one found expired.
    # (A token without `iat` cannot be renewed -- tests/test_sign_in_renewal.py renews one.)
    tab = await open_tab(browser, server.url, "carol")
    try:
        unrenewable = jwt.encode(
            {"sub": "carol", "name": "Carol", "exp": int(time.time()) + 15}, JWT_SECRET, "HS256"
        )
        await sign_in_with(tab, unrenewable, "Carol", "carol")
        await tab.page.goto(f"{server.url}/lots/{lot['id']}")
        await expect(tab.page.get_by_text("Bidding as Carol")).to_be_visible()
        await expect(tab.page.locator("#session [role=alert]")).to_have_text(
            "Your sign-in expired. Sign in again to bid.", timeout=60_000
        )
        await expect(tab.page.get_by_role("button", name="Sign in as Alice")).to_be_visible()
        await sign_in_with(
            tab, make_token("carol", name="Carol", ttl_seconds=-60), "Carol", "carol"
        )
        await tab.page.reload()
        await expect(tab.page.locator("#session [role=alert]")).to_have_text(
            "Your sign-in as Carol expired. Sign in again to bid."
        )
        assert tab.problems == []
    finally:
        await tab.context.close()


def picture(size: tuple[int, int], hue: int) -> bytes:
    """A small JPEG with some shape to it (a sky, a horizon and a sun), for the gallery."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (30 + hue % 60, 90, 160))
    draw = ImageDraw.Draw(image)
    width, height = size
    for y in range(height // 2, height):
        shade = int(120 * (y - height / 2) / (height / 2))
        draw.line([(0, y), (width, y)], fill=(140 - shade // 2, 110 + hue % 40, 70))
    draw.ellipse(
        [width * 0.6, height * 0.15, width * 0.8, height * 0.15 + width * 0.2], fill=(250, 210, 90)
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


async def upload_picture(server, lot_id: int, data: bytes) -> dict:
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename="photo.jpg", content_type="image/jpeg")
    status, image = await server.request(
        "POST", f"/api/lots/{lot_id}/images", as_user="sam", role="seller", data=form
    )
    assert status == 201, image
    return image


async def test_photos_in_the_catalogue_and_gallery_and_no_serious_accessibility_problems(
    browser, start_server
):
    server = await start_server(dev_mode=True, buyer_premium_bps=1500)
    title = "Brass ship's chronometer"
    lot = await create_lot(
        server,
        title=title,
        starting_price=50_000,
        bid_increment=2_500,
        reserve_price=70_000,
        description="Two-day marine chronometer by Thomas Mercer, St Albans, circa 1910, in a "
        "three-tier brass-bound mahogany box. Running, with its original key.",
    )
    first = await upload_picture(server, lot["id"], picture((800, 600), 10))
    second = await upload_picture(server, lot["id"], picture((800, 600), 50))
    for who, amount in (("bob", 50_000), ("carol", 52_500), ("bob", 55_000)):
        client = await server.socket(who)
        assert (await client.call("place_bid", bid(lot["id"], amount)))["ok"]
    for viewport, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
        tab = await open_tab(browser, server.url, "alice", viewport=viewport)
        try:
            page = tab.page
            tile = page.locator("article.tile").filter(has_text=title)
            await expect(tile.locator("img")).to_have_attribute("src", first["thumb_url"])
            await expect(tile.locator(".lot-number")).to_have_text(f"Lot #{lot['id']}")
            await assert_accessible(page, f"the catalogue with photos, {width}")
            await tab.sign_in("Alice")
            lot_tab = await open_lot(tab, server.url, lot["id"])
            gallery = page.locator("#gallery")
            await expect(gallery.locator(".gallery-main")).to_have_attribute("src", first["url"])
            await page.get_by_role("button", name="Show photo 2 of 2").click()
            await expect(gallery.locator(".gallery-main")).to_have_attribute("src", second["url"])
            await expect(page.get_by_role("button", name="Show photo 2 of 2")).to_have_attribute(
                "aria-pressed", "true"
            )
            await page.get_by_role("button", name="Show photo 1 of 2").click()
            # Three bids, and on the phone Alice's own from the desktop round.
            rows = page.locator("#history-rows tr")
            await expect(rows).to_have_count(3 if width == "desktop" else 4)
            await assert_accessible(page, f"the lot page, signed in, {width}")
            if width == "desktop":
                await lot_tab.bid("600")
                await expect(lot_tab.message).to_have_text("Your bid of $600.00 is the highest.")
                await expect(page.locator("#lot-reserve")).to_have_text("Reserve not met yet.")
                # Watching: the button says so, and the account page lists the lot.
                await page.get_by_role("button", name="Watch this lot").click()
                await expect(lot_tab.message).to_have_text("Added to your watchlist.")
                watch = page.locator("#watch")
                await expect(watch).to_have_attribute("aria-pressed", "true")
                # The README's picture of the lot page.
                await tab.shot("lot-page-readme", full_page=False)
            await lot_tab.bid("1,000")
            await expect(lot_tab.message).to_contain_text("could be read two ways")
            await assert_accessible(page, f"the lot page with an error, {width}")
            await page.goto(f"{server.url}/account")
            await expect(page.locator("#bids li").filter(has_text=title)).to_contain_text(
                "You lead" if width == "desktop" else "Your bid $600.00"
            )
            await expect(page.locator("#watchlist li").filter(has_text=title)).to_be_visible()
            await expect(page.locator("#strikes")).to_contain_text("You have no strikes.")
            if width == "desktop":
                # A card saved from the account page (the cards module), straight to Stripe.
                cards = page.locator("#cards")
                await cards.get_by_label("Card number").fill("4242 4242 4242 4242")
                await cards.get_by_label("Expiry (MM/YY)").fill("12/34")
                await cards.get_by_label("CVC").fill("123")
                await cards.get_by_role("button", name="Save card").click()
                await expect(cards.locator(".saved-cards")).to_contain_text(
                    "Visa ending in 4242, expires 12/2034"
                )
            await assert_accessible(page, f"the account page, {width}")
            assert await no_horizontal_overflow(page) == []
            await tab.shot(f"account-{width}")
            assert tab.problems == []
        finally:
            await tab.context.close()


async def test_the_account_page_lists_an_issued_invoice_whose_link_opens_it(browser, start_server):
    from server.auctions.models import Bid, Lot
    from server.sales import invoices
    from server.sales.models import Invoice, Sale
    from tests.support.factories import add_lot, create_sale

    server = await start_server(dev_mode=True, buyer_premium_bps=2000)
    sale = await create_sale(server, title="Autumn sale")
    lot = await add_lot(server, sale, title="Walnut canterbury", starting_price=12_000)
    client = await server.socket("alice")
    assert (await client.call("place_bid", bid(lot["id"], 12_000)))["ok"]
    async with server.context.db.unit_of_work() as uow:
        row = await uow.session.get(Lot, lot["id"])
        won = await uow.session.get(Bid, row.high_bid_id)
        sale_row = await uow.session.get(Sale, sale["id"])
        line = await invoices.add_line(
            uow, server.context.settings, sale=sale_row, lot=row, bid=won
        )
        invoice = await uow.session.get(Invoice, line.invoice_id, with_for_update=True)
        await invoices.issue(uow, invoice)
    tab = await open_tab(browser, server.url, "alice", viewport=PHONE)
    try:
        await tab.sign_in("Alice")
        await tab.page.goto(f"{server.url}/account")
        item = tab.page.locator("#invoices li")
        await expect(item).to_contain_text(f"Invoice {line.invoice_id} for Autumn sale")
        await expect(item).to_contain_text("$144.00")
        await expect(item.locator(".state")).to_have_text("Awaiting your payment")
        link = item.get_by_role("link", name=f"Invoice {line.invoice_id} to print")
        await expect(link).to_have_attribute("href", re.compile(r"^/invoices/\d+/print\?"))
        async with tab.context.expect_page() as opened:
            await link.click()
        printed = await opened.value
        await expect(printed.locator("body")).to_contain_text("Walnut canterbury")
        assert await no_horizontal_overflow(tab.page) == []
        await tab.shot("account-invoice-phone")
        assert tab.problems == []
    finally:
        await tab.context.close()


async def test_a_saved_card_charged_at_the_hammer_and_one_that_was_declined(
    browser, start_server, localstripe
):
    from tests.support.cards import save_card

    server = await start_server(dev_mode=True)
    paid = await create_lot(server, title="Pair of Chelsea porcelain birds", starting_price=8000)
    refused = await create_lot(server, title="Blue John urn", starting_price=6000)
    await save_card(server, localstripe.url, "alice")
    await save_card(server, localstripe.url, "bob", "4000000000000341")
    for who, lot in (("alice", paid), ("bob", refused)):
        client = await server.socket(who)
        assert (await client.call("place_bid", bid(lot["id"], lot["starting_price"])))["ok"]
    alice = await open_tab(browser, server.url, "alice")
    bob = await open_tab(browser, server.url, "bob", viewport=PHONE)
    try:
        await alice.sign_in("Alice")
        await bob.sign_in("Bob")
        a = await open_lot(alice, server.url, paid["id"])
        await open_lot(bob, server.url, refused["id"])
        for lot in (paid, refused):
            status, _ = await server.request(
                "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
            )
            assert status == 200
        # Alice's saved card paid at once: the page says she bought it, with the receipt.
        await expect(a.page.locator("#lot-badge")).to_have_text("Sold", timeout=30_000)
        await expect(a.page.locator("#purchase")).to_contain_text("You bought this lot for $80.00.")
        await expect(a.page.locator("#purchase").get_by_role("link")).to_have_attribute(
            "href", re.compile(r"^/receipts/")
        )
        await expect(alice.payment).to_have_count(0)
        # Bob's was declined: the panel says so before asking for a card.
        await expect(bob.payment.locator(".lede")).to_have_text(
            "Your saved card was declined, so nothing was charged: pay with a card below. "
            "You won this lot. Pay before the time runs out to complete the purchase; "
            "a win left unpaid counts as a strike.",
            timeout=30_000,
        )
        await alice.shot("lot-auto-charged")
        await bob.shot("lot-saved-card-declined-phone")
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()


async def test_a_per_sale_invoice_is_paid_from_the_account_page(browser, start_server):
    from tests.support.factories import add_lot, create_sale

    server = await start_server(dev_mode=True, buyer_premium_bps=1000)
    sale = await create_sale(server, title="Winter sale", settlement="per_sale")
    lamp = await add_lot(server, sale, title="Tiffany-style lamp", starting_price=20_000)
    mirror = await add_lot(server, sale, title="Gilt pier mirror", starting_price=30_000)
    client = await server.socket("alice")
    for lot in (lamp, mirror):
        assert (await client.call("place_bid", bid(lot["id"], lot["starting_price"])))["ok"]
    tab = await open_tab(browser, server.url, "alice")
    try:
        await tab.sign_in("Alice")
        lamp_tab = await open_lot(tab, server.url, lamp["id"])
        await expect(lamp_tab.page.locator("#lot-sale")).to_have_text("· Winter sale")
        status, _ = await server.request(
            "POST", f"/api/lots/{lamp['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        await expect(lamp_tab.page.locator("#lot-badge")).not_to_have_text("Open")
        await tab.page.goto(f"{server.url}/account")
        status, _ = await server.request(
            "POST", f"/api/lots/{mirror['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        # The sale's last lot closed: one invoice, one payment for both lots.
        panel = tab.payment
        await expect(panel.get_by_role("heading")).to_contain_text("Pay for your invoice")
        await expect(panel.locator(".invoice-lines li")).to_have_text(
            ["Lot 1: Tiffany-style lamp $200.00", "Lot 2: Gilt pier mirror $300.00"]
        )
        await expect(panel.locator(".total")).to_have_text("$550.00")
        # The bids list follows: neither lot is open any more.
        await expect(tab.page.locator("#bids")).not_to_contain_text("You lead")
        await tab.shot("account-invoice-due")
        await tab.pay("4242 4242 4242 4242")
        await expect(panel.locator(".message")).to_contain_text("Paid $550.00.")
        invoice = tab.page.locator("#invoices li").filter(has_text="Winter sale")
        await expect(invoice.locator(".state")).to_have_text("Paid")
        purchase = tab.page.locator("#purchases li").filter(has_text="Winter sale")
        await expect(purchase.locator(".state")).to_have_text("Paid")
        # Its receipt is the paid invoice, opened from a plain link.
        link = purchase.get_by_role("link", name=re.compile(r"^Invoice \d+ \(receipt\)$"))
        await expect(link).to_have_attribute("href", re.compile(r"^/invoices/\d+/print\?"))
        async with tab.context.expect_page() as opened:
            await link.click()
        printed = await opened.value
        await expect(printed.locator("body")).to_contain_text("Gilt pier mirror")
        await expect(panel.get_by_role("link", name="Open the paid invoice")).to_be_visible()
        await tab.shot("account-invoice-paid")
        assert tab.problems == []
    finally:
        await tab.context.close()
