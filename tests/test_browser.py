"""The demo page in a real headless Chromium: bidding, winning, paying, reconnecting.

Two people in two browser contexts (separate storage, separate sockets) use the
page the server serves at `/`, against the real app, PostgreSQL and localstripe.
Screenshots of the key states land in test-artifacts/browser/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import jwt
import pytest
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from server.auctions.models import Lot
from server.payments.models import Payment, PaymentAttempt
from server.realtime.hub import lot_room
from tests.support.browser import CHROMIUM, DESKTOP, LAUNCH_ARGS, PHONE, BidderPage, until
from tests.support.factories import bid, create_lot

if not CHROMIUM.exists():
    pytest.skip("Chromium not installed: apt-get install chromium", allow_module_level=True)

pytestmark = pytest.mark.browser
expect.set_options(timeout=10_000)

CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0341"
CARD_3DS = "4000 0000 0000 3220"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


async def open_tab(browser: Browser, url: str, name: str, viewport=DESKTOP) -> BidderPage:
    context = await browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC")
    return await BidderPage.open(context, url, name)


async def test_a_bid_war_a_close_a_declined_card_and_a_paid_lot(
    browser, start_server, db, localstripe
):
    server = await start_server(
        dev_mode=True,
        buyer_premium_bps=1500,
        anti_sniping_window_seconds=2,
        anti_sniping_extension_seconds=5,
    )
    title = "Brass ship's chronometer"
    lot = await create_lot(
        server, title=title, currency="usd", starting_price=5000, bid_increment=500
    )
    alice = await open_tab(browser, server.url, "alice")
    bob = await open_tab(browser, server.url, "bob", viewport=PHONE)
    try:
        for tab, name in ((alice, "Alice"), (bob, "Bob")):
            await expect(tab.page.locator("#connection")).to_have_text("Live")
            await tab.sign_in(name)
            await tab.join(title)

        # The bid war. Each form starts at the minimum next bid.
        bob_card, alice_card = bob.lot(title), alice.lot(title)
        await expect(bob_card.get_by_label("Your bid (USD)")).to_have_value("50.00")
        await bob.bid(title, "50.00")
        await expect(alice_card.locator(".price")).to_have_text("$50.00")
        # Screen readers hear the price; the text is a live region's, not a visible one's.
        await expect(alice.page.locator("#announce-polite")).to_have_text(
            re.compile(r"^Brass ship's chronometer: new bid \$50\.00 by Bidder [0-9A-F]{6}$")
        )
        await expect(alice_card.get_by_label("Your bid (USD)")).to_have_value("55.00")
        await alice.bid(title, "55")
        await expect(alice_card).to_contain_text("You are the highest bidder.")
        outbid = "You were outbid on Brass ship's chronometer: the bid is now $55.00"
        await expect(bob.page.locator(".notice")).to_contain_text(outbid)
        await expect(bob.page.locator(".notice")).to_contain_text("Bid at least $60.00")
        await expect(bob.page.locator("#announce-urgent")).to_contain_text(outbid)
        await expect(bob_card).not_to_contain_text("is the highest")
        await bob.shot("01-bob-outbid-phone")
        await bob.bid(title, "60.00")
        await expect(alice_card.locator(".price")).to_have_text("$60.00")
        await alice.bid(title, "60.00")  # too low now: the ack's refusal is shown
        await expect(alice_card.get_by_role("alert")).to_have_text(
            "Your bid is too low: the minimum is now $65.00."
        )
        await alice.bid(title, "123.45")
        await expect(bob_card.locator(".price")).to_have_text("$123.45")
        await alice.bid(title, "200.00")  # already the highest: the server's own words
        await expect(alice_card.get_by_role("alert")).to_have_text(
            "You already hold the highest bid"
        )
        await alice.shot("02-alice-leading")

        # The seller brings the hammer down.
        status, closed = await server.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert (status, closed["status"]) == (200, "PENDING_PAYMENT")
        panel = alice.payment
        await expect(panel.get_by_role("heading")).to_have_text(f"Pay for “{title}”")
        # Her focus was on the lot she bid on: it moves to what she must do now.
        await expect(panel.get_by_role("heading")).to_be_focused()
        await expect(panel.locator(".breakdown")).to_contain_text("Hammer price$123.45")
        await expect(panel.locator(".breakdown")).to_contain_text("Buyer's premium$18.52")
        await expect(panel.locator(".breakdown")).to_contain_text("Total to pay$141.97")
        await expect(panel.locator(".attempts")).to_have_text("3 attempts left of 3.")
        await expect(panel.get_by_role("timer")).to_have_text(re.compile(r"^(10m 00s|9m \d\ds)$"))
        await expect(bob_card.locator(".badge")).to_have_text("Awaiting payment")
        await expect(bob_card).to_contain_text("waiting for the winner's payment")
        await expect(bob.payment).to_have_count(0)
        await alice.shot("03-alice-payment-due")

        # A declined card: the stand-in's message, then the server's count of attempts.
        await alice.pay(CARD_DECLINED)
        await expect(panel.get_by_role("alert")).to_have_text(
            "Your card was declined. 2 attempts left."
        )
        await expect(panel.locator(".attempts")).to_have_text("2 attempts left of 3.")
        await alice.shot("04-alice-declined")

        await alice.pay(CARD_OK)
        await expect(panel.locator(".done")).to_contain_text("Paid $141.97. The lot is yours.")
        await expect(panel.locator(".done")).to_contain_text("Visa ending 4242")
        await expect(panel.get_by_role("heading")).to_have_text(f"You bought “{title}”")
        await expect(alice_card.locator(".badge")).to_have_text("Sold")
        await expect(alice_card).to_contain_text("Sold to you for $123.45.")
        await expect(bob_card.locator(".badge")).to_have_text("Sold")
        await expect(bob_card).to_contain_text("Sold for $123.45.")
        await alice.shot("05-alice-sold")
        await bob.shot("06-bob-sold-phone")

        async with db.sessions() as session:
            payment = (
                await session.scalars(select(Payment).where(Payment.lot_id == lot["id"]))
            ).one()
            outcomes = (
                await session.scalars(
                    select(PaymentAttempt.outcome)
                    .where(PaymentAttempt.payment_id == payment.id)
                    .order_by(PaymentAttempt.id)
                )
            ).all()
            final = await session.get(Lot, lot["id"])
        assert (payment.buyer_id, payment.status, payment.amount) == ("alice", "SUCCEEDED", 14_197)
        assert outcomes == ["failed", "succeeded"]
        assert final.status == "SOLD"

        # The card went to the Stripe stand-in only; the secret to its buyer only.
        to_us = alice.sent_to(server.url)
        assert "4242424242424242" not in to_us and "4000000000000341" not in to_us
        confirms = alice.posted_to(f"{localstripe.url}/v1/payment_intents/")
        assert len(confirms) == 2 and '"number":"4242424242424242"' in confirms[1]
        assert "_secret_" not in await bob.page.content()
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()


async def test_the_page_reconnects_catches_up_and_shows_the_pending_payment_again(
    browser, start_server, db, localstripe
):
    server = await start_server(dev_mode=True, buyer_premium_bps=1000)
    bowl, pot = "Edo-period tea bowl", "Silver dallah coffee pot"
    bowl_lot = await create_lot(
        server, title=bowl, currency="jpy", starting_price=3000, bid_increment=500
    )
    pot_lot = await create_lot(
        server, title=pot, currency="kwd", starting_price=15_000, bid_increment=1000
    )
    alice = await open_tab(browser, server.url, "alice", viewport=PHONE)
    bob = await server.socket("bob")
    page = alice.page
    try:
        await alice.sign_in("Alice")
        await alice.join(bowl)
        await alice.join(pot)
        # Zero- and three-decimal currencies, both ways: shown, and typed in.
        await expect(alice.lot(bowl).get_by_label("Your bid (JPY)")).to_have_value("3000")
        await expect(alice.lot(pot).get_by_label("Your bid (KWD)")).to_have_value("15.000")
        await alice.bid(bowl, "3,500")
        await expect(alice.lot(bowl).locator(".price")).to_have_text("¥3,500")
        assert (await bob.call("place_bid", bid(pot_lot["id"], 16_010)))["ok"]
        await expect(alice.lot(pot).locator(".price")).to_have_text(re.compile(r"KWD\s16\.010"))
        await expect(alice.lot(pot).get_by_label("Your bid (KWD)")).to_have_value("17.010")

        status, _ = await server.request(
            "POST", f"/api/lots/{bowl_lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        panel = alice.payment
        await expect(panel.locator(".total")).to_have_text("¥3,850")
        await expect(panel.locator(".breakdown")).to_contain_text("Buyer's premium¥350")

        # The connection drops: the tab goes offline and the server lets its socket go.
        await alice.context.set_offline(True)
        sio = server.context.hub.sio
        for sid, _ in list(sio.manager.get_participants("/", "user:alice")):
            await sio.disconnect(sid)
        await expect(page.locator("#connection")).to_have_text("Connection lost: reconnecting…")
        await expect(alice.lot(pot).get_by_role("button", name="Place bid")).to_be_disabled()
        await alice.shot("07-alice-reconnecting-phone")
        # A bid it cannot see happens meanwhile.
        carol = await server.socket("carol")
        assert (await carol.call("place_bid", bid(pot_lot["id"], 18_000)))["ok"]
        await alice.context.set_offline(False)
        await expect(page.locator("#connection")).to_have_text("Live", timeout=20_000)
        await expect(alice.lot(pot).locator(".price")).to_have_text(re.compile(r"KWD\s18\.000"))
        await expect(panel.locator(".total")).to_have_text("¥3,850")

        # A lost event (a gap in seq) makes the page join again and trust the snapshot.
        joins = alice.socket_frames_with('"join_lot"')
        await sio.emit(
            "bid_placed",
            {"lot_id": pot_lot["id"], "seq": 99, "amount": 99_999_000, "bidder": "Bidder FFFFFF"},
            room=lot_room(pot_lot["id"]),
        )
        await until(lambda: alice.socket_frames_with('"join_lot"') > joins, "the page to re-join")
        await expect(alice.lot(pot).locator(".price")).to_have_text(re.compile(r"KWD\s18\.000"))
        await expect(alice.lot(pot)).not_to_contain_text("Bidder FFFFFF")

        # A reload: lots joined again, the pending payment shown again from the server.
        await page.reload()
        await alice.page.get_by_text("Bidding as Alice").wait_for()
        await expect(panel.get_by_role("heading")).to_have_text(f"Pay for “{bowl}”")
        await expect(panel.locator(".total")).to_have_text("¥3,850")
        await expect(page.get_by_role("button", name=f"Leave {pot}")).to_be_visible()
        await expect(alice.lot(pot).locator(".price")).to_have_text(re.compile(r"KWD\s18\.000"))
        await alice.shot("08-alice-after-reload-phone")

        # 3-D Secure: the stand-in's Stripe.js asks, the buyer confirms.
        await alice.pay(CARD_3DS)
        await page.get_by_role("button", name="Complete authentication").click()
        await expect(panel.locator(".done")).to_contain_text("Paid ¥3,850. The lot is yours.")
        await expect(alice.lot(bowl).locator(".badge")).to_have_text("Sold")
        await alice.shot("09-alice-paid-after-3ds-phone")
        async with db.sessions() as session:
            payment = (
                await session.scalars(select(Payment).where(Payment.lot_id == bowl_lot["id"]))
            ).one()
        assert (payment.status, payment.amount, payment.currency) == ("SUCCEEDED", 3850, "jpy")
        assert alice.problems == []
    finally:
        await alice.context.close()


async def test_an_unpaid_window_moves_the_lot_to_the_next_bidder_on_their_page(
    browser, start_server, db
):
    server = await start_server(dev_mode=True, payment_window_seconds=3)
    title = "Art deco table lamp"
    lot = await create_lot(server, title=title, starting_price=2500, bid_increment=100)
    alice = await open_tab(browser, server.url, "alice")
    bob = await open_tab(browser, server.url, "bob", viewport=PHONE)
    try:
        # A token the server did not sign is refused, and the page says so.
        forged = jwt.encode({"sub": "bob", "exp": 4_000_000_000}, "not-the-secret" * 3)
        await bob.page.evaluate(
            "token => sessionStorage.setItem('auction.session',"
            " JSON.stringify({user: {sub: 'bob', name: 'Bob'}, token}))",
            forged,
        )
        await bob.page.reload()
        await expect(bob.page.locator("#session [role=alert]")).to_have_text(
            "Signed out: Token is not valid"
        )
        await alice.sign_in("Alice")
        await bob.sign_in("Bob")
        for who, amount in (("bob", 2500), ("alice", 3000)):
            client = await server.socket(who)
            assert (await client.call("place_bid", bid(lot["id"], amount)))["ok"]
        await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")

        await expect(alice.payment.locator(".total")).to_have_text("$30.00")
        await expect(alice.payment.get_by_role("heading")).to_have_text(f"No longer due: “{title}”")
        await expect(alice.payment.locator(".done")).to_have_text(
            "The time to pay ran out, so the purchase was cancelled."
        )
        await expect(alice.payment.get_by_label("Card number")).to_be_hidden()
        await expect(bob.payment.get_by_role("heading")).to_have_text(f"Pay for “{title}”")
        await expect(bob.payment.locator(".total")).to_have_text("$25.00")
        await alice.shot("10-alice-window-lapsed")
        await bob.shot("11-bob-offered-the-lot-phone")
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()
