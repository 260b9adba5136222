"""Saving a card on the account page in a real headless Chromium (SPEC section 14).

The page asks our server for a SetupIntent, confirms it with the stand-in's Stripe.js
(`confirmCardSetup`, with its 3-D Secure dialog for a card that asks for one), and asks
our server to store what Stripe saved. Every request the page sends to our origin is
inspected: no card number, expiry or CVC ever reaches this server.
"""

from __future__ import annotations

import json

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from server.cards.models import Card
from server.payments.models import Payment
from tests.support.browser import DESKTOP, EXPECT_TIMEOUT_MS, BidderPage
from tests.support.factories import bid, create_lot

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


async def _save(tab: BidderPage, number: str, expiry: str, cvc: str = "123") -> None:
    form = tab.page.locator("form.add-card")
    await form.get_by_label("Card number").fill(number)
    await form.get_by_label("Expiry (MM/YY)").fill(expiry)
    await form.get_by_label("CVC").fill(cvc)
    await form.get_by_role("button", name="Save card").click()


async def test_a_bidder_saves_chooses_and_removes_cards_and_no_card_data_reaches_us(
    browser, start_server, db, localstripe
):
    server = await start_server(dev_mode=True)
    context = await browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    tab = await BidderPage.open(context, f"{server.url}/account", "alice")
    page = tab.page
    try:
        panel = page.locator("#cards-panel")
        await expect(panel).to_be_hidden()  # a guest has no cards
        await tab.sign_in("Alice")
        await expect(panel.get_by_role("heading", name="Saved cards")).to_be_visible()
        section = page.locator("#cards")
        await expect(section).to_contain_text("No card saved yet.")

        await _save(tab, "4242 4242 4242 4242", "11/33", "321")
        saved = section.locator(".cards-status")
        await expect(saved).to_have_text("Saved: Visa ending in 4242, expires 11/2033")
        cards = section.locator("ul.saved-cards li")
        await expect(cards).to_have_count(1)
        await expect(cards.first).to_contain_text("Default")

        # A card whose bank asks for 3-D Secure: the stand-in's Stripe.js dialog.
        await _save(tab, "4000 0025 0000 3155", "10/32", "456")
        await page.get_by_role("button", name="Complete authentication").click()
        await expect(saved).to_have_text("Saved: Visa ending in 3155, expires 10/2032")
        await expect(cards).to_have_count(2)
        await expect(cards.nth(1)).to_contain_text("Default")
        await tab.shot("cards-01-two-saved")

        # The first one becomes the default again, then the other is removed.
        await page.get_by_role(
            "button", name="Make Visa ending in 4242, expires 11/2033 the default"
        ).click()
        await expect(cards.first).to_contain_text("Default")
        await page.get_by_role("button", name="Remove Visa ending in 3155, expires 10/2032").click()
        await expect(cards).to_have_count(1)
        await expect(section.locator(".cards-status")).to_have_text("Card removed")

        # A typo is caught on the page, before anything is sent anywhere.
        await _save(tab, "4242", "11/33")
        await expect(section.get_by_role("alert")).to_have_text(
            "Enter the card number (12 to 19 digits)"
        )

        async with db.sessions() as session:
            stored = (await session.scalars(select(Card))).all()
        assert [(c.user_id, c.last4, c.exp_month, c.exp_year, c.is_default) for c in stored] == [
            ("alice", "4242", 11, 2033, True)
        ]

        # What the page sent to our server: no number, no CVC, no expiry, ever.
        to_us = tab.sent_to(server.url)
        for secret in ("4242424242424242", "4000002500003155", "4242 4242", "321", "456", "11/33"):
            assert secret not in to_us, secret
        bodies = [json.loads(body) for body in tab.posted_to(server.url) if body]
        assert {key for body in bodies for key in body} <= {"sub", "setup_intent_id"}, bodies
        assert sum("setup_intent_id" in body for body in bodies) == 2
        # The card itself went to the stand-in, confirmed with the SetupIntent's secret.
        confirms = tab.posted_to(f"{localstripe.url}/v1/setup_intents/")
        assert any('"number":"4242424242424242"' in body for body in confirms)
        assert tab.problems == []
    finally:
        await context.close()


async def test_a_card_saved_on_the_page_pays_at_the_hammer_and_the_page_shows_it_paid(
    browser, start_server, db, localstripe
):
    """AUTO_CHARGE: no payment form ever appears; the purchase shows as paid, live."""
    server = await start_server(dev_mode=True)
    lot = await create_lot(server, title="Carriage clock", starting_price=1000)
    context = await browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    tab = await BidderPage.open(context, f"{server.url}/account", "alice")
    page = tab.page
    try:
        await tab.sign_in("Alice")
        await _save(tab, "4242 4242 4242 4242", "12/34")
        await expect(page.locator("#cards .cards-status")).to_have_text(
            "Saved: Visa ending in 4242, expires 12/2034"
        )
        alice = await server.socket("alice")
        assert (await alice.call("place_bid", bid(lot["id"], 2500)))["ok"]
        status, _ = await server.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        purchase = page.locator("#purchases li").filter(has_text="Carriage clock")
        await expect(purchase).to_contain_text("Paid")
        await expect(purchase).to_contain_text("$25.00")
        await expect(page.locator("article.payment")).to_have_count(0)
        await tab.shot("cards-02-charged-at-the-hammer")
        async with db.sessions() as session:
            payment = await session.scalar(select(Payment).where(Payment.lot_id == lot["id"]))
        assert payment.status == "SUCCEEDED" and payment.auto_charge_reason is None
        assert tab.problems == []
    finally:
        await context.close()
