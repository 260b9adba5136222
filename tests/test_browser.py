"""The bidder's product in a real headless Chromium: a timed sale from the catalogue to the
receipt, reconnecting, 3-D Secure, and a second-chance offer declined.

People in separate browser contexts (separate storage, separate sockets) use the pages the
server serves (`/`, `/lots/{id}`, `/account`) against the real app, PostgreSQL and
localstripe. Screenshots of the key states land in test-artifacts/browser/.
"""

from __future__ import annotations

import re

import jwt
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import func, select, text, update

from server.auctions.models import Lot
from server.payments.models import Payment, PaymentAttempt
from server.realtime.hub import lot_room
from server.users.models import User
from tests.support.browser import (
    DESKTOP,
    EXPECT_TIMEOUT_MS,
    PHONE,
    BidderPage,
    no_horizontal_overflow,
    open_lot,
    until,
)
from tests.support.factories import bid, create_lot

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0341"
CARD_3DS = "4000 0000 0000 3220"


async def open_tab(browser: Browser, url: str, name: str, viewport=DESKTOP) -> BidderPage:
    context = await browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC")
    return await BidderPage.open(context, url, name)


async def test_a_timed_sale_two_bidders_from_the_catalogue_to_the_receipt(
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
    await create_lot(server, title="Pine blanket box", starting_price=2000)
    alice = await open_tab(browser, server.url, "alice")
    bob = await open_tab(browser, server.url, "bob", viewport=PHONE)
    try:
        # Both start at the catalogue and follow the lot's link.
        for tab, name in ((alice, "Alice"), (bob, "Bob")):
            await expect(tab.page.locator("#connection")).to_have_text("Live")
            await tab.sign_in(name)
            tile = tab.page.locator("article.tile").filter(has_text=title)
            await expect(tile.locator(".price")).to_have_text("Starting bid $50.00")
            await tile.get_by_role("link", name=title).click()
            await expect(tab.page.get_by_role("heading", level=1)).to_have_text(title)
        a, b = (
            await open_lot(alice, server.url, lot["id"]),
            await open_lot(bob, server.url, lot["id"]),
        )

        # The bid war. Each box starts at the minimum next bid.
        await expect(b.page.get_by_label("Your bid (USD)")).to_have_value("50.00")
        await b.bid("50.00")
        await expect(b.message).to_have_text("Your bid of $50.00 is the highest.")
        await expect(a.price).to_have_text("$50.00")
        await expect(a.page.locator("#announce-polite")).to_have_text(
            re.compile(r"^New bid \$50\.00 by Bidder [0-9A-F]{6}$")
        )
        await expect(a.page.get_by_label("Your bid (USD)")).to_have_value("55.00")
        await a.bid("55")
        await expect(a.page.locator("#lot-leader")).to_have_text("You are the highest bidder.")
        # Bob's success line is replaced by the outbid notice: one message, never both.
        outbid = "You were outbid: the bid is now $55.00 (yours was $50.00). Bid at least $60.00"
        await expect(b.message).to_contain_text(outbid)
        await expect(b.page.locator("#announce-urgent")).to_contain_text(outbid)
        await expect(b.page.get_by_text("is the highest")).to_have_count(0)
        await bob.shot("01-bob-outbid-phone")
        await b.bid("60.00")
        await expect(a.price).to_have_text("$60.00")
        await a.bid("60.00")  # too low now
        await expect(a.message).to_have_text("Your bid is too low: the minimum is now $65.00.")
        await a.bid("123.45")
        await expect(a.message).to_have_text("Your bid of $123.45 is the highest.")
        await expect(b.price).to_have_text("$123.45")
        await a.bid("150.00")  # already the highest: replaces the success line
        await expect(a.message).to_have_text("You already hold the highest bid.")
        rows = a.page.locator("#history-rows tr")
        await expect(rows).to_have_count(4)
        await expect(rows.first).to_contain_text("(you)")
        await expect(rows.first).to_contain_text("$123.45")
        await alice.shot("02-alice-leading")

        # The lot's time runs out (moved to now, however slow the set-up was): the scheduler's
        # sweep brings the hammer down, and Alice's payment appears.
        async with db.engine.begin() as conn:
            await conn.execute(
                update(Lot)
                .where(Lot.id == lot["id"])
                .values(ends_at=func.now() - text("interval '1 second'"))
            )
        panel = alice.payment
        await expect(panel.get_by_role("heading")).to_have_text(
            f"Pay for “{title}”", timeout=90_000
        )
        await expect(panel.locator(".lede")).to_contain_text("You won this lot.")
        await expect(alice.page.locator("#announce-urgent")).to_have_text(
            "You won a lot. Pay $141.97 before the time runs out."
        )
        await expect(panel.locator(".breakdown")).to_contain_text("Hammer price$123.45")
        await expect(panel.locator(".breakdown")).to_contain_text("Buyer's premium$18.52")
        await expect(panel.locator(".breakdown")).to_contain_text("Total to pay$141.97")
        await expect(panel.locator(".attempts")).to_have_text("3 attempts left of 3.")
        await expect(panel.get_by_role("button", name="Decline this offer")).to_be_hidden()
        await expect(b.page.locator("#lot-badge")).to_have_text("Awaiting payment")
        await expect(b.page.locator("#lot-leader")).to_contain_text(
            "waiting for the winner's payment"
        )
        await expect(bob.payment).to_have_count(0)
        await alice.shot("03-alice-payment-due")

        await alice.pay(CARD_DECLINED)
        await expect(panel.locator(".message")).to_have_text(
            "Your card was declined. 2 attempts left."
        )
        await expect(panel.locator(".attempts")).to_have_text("2 attempts left of 3.")
        await alice.pay(CARD_OK)
        # The success replaces the decline: one message line.
        await expect(panel.locator(".message")).to_contain_text("Paid $141.97. The lot is yours.")
        await expect(panel.locator(".message")).to_contain_text("Visa ending 4242")
        await expect(panel.get_by_text("declined")).to_have_count(0)
        await expect(panel.get_by_role("heading")).to_have_text(f"You bought “{title}”")
        await expect(a.page.locator("#lot-badge")).to_have_text("Sold")
        await expect(a.page.locator("#lot-leader")).to_have_text("Sold to you for $123.45.")
        await expect(b.page.locator("#lot-leader")).to_have_text("Sold for $123.45.")
        # No "Leave" or bid box on a sold lot.
        await expect(
            b.page.get_by_role("button", name=re.compile("Leave|Place bid"))
        ).to_have_count(0)
        await alice.shot("05-alice-sold")
        await bob.shot("06-bob-sold-phone")

        # A paid purchase stays after a reload, with a receipt link that works.
        await a.page.reload()
        await expect(a.page.locator("#purchase")).to_contain_text(
            "You bought this lot for $141.97."
        )
        status, mine = await server.request("GET", "/api/payments/my-payments", as_user="alice")
        payment_id = mine["items"][0]["id"]
        await alice.page.goto(f"{server.url}/account")
        purchase = alice.page.locator("#purchases li").filter(has_text=title)
        await expect(purchase.locator(".state")).to_have_text("Paid")
        await expect(purchase).to_contain_text("$141.97")
        won = alice.page.locator("#bids li").filter(has_text=title)
        await expect(won.locator(".state")).to_have_text("Won and paid")
        receipt_link = purchase.get_by_role("link", name=f"Receipt for {title}")
        await expect(receipt_link).to_have_attribute("href", re.compile(r"^/receipts/\d+\?"))
        async with alice.context.expect_page() as opened:
            await receipt_link.click()
        receipt = await opened.value
        await receipt.wait_for_load_state()
        await expect(receipt.locator("body")).to_contain_text(title)
        await expect(receipt.locator("body")).to_contain_text("141.97")
        # A partial refund reads in major units, in words.
        status, refunded = await server.request(
            "POST",
            f"/api/payments/{payment_id}/refund",
            as_user="ada",
            role="admin",
            json={"amount": 2000, "reason": "A scratch on the case"},
        )
        assert status in (201, 202), refunded
        await alice.page.reload()
        await expect(purchase.locator(".state")).to_have_text("Paid; $20.00 refunded")
        await alice.shot("07-alice-account")

        # A fresh visitor sees the result in the catalogue, not "no lots open".
        guest = await open_tab(browser, server.url, "guest")
        try:
            tile = guest.page.locator("article.tile").filter(has_text=title)
            await expect(tile.locator(".price")).to_have_text("Sold for $123.45")
            await guest.page.get_by_label("Results").check()
            await expect(guest.page.locator("article.tile")).to_have_count(1)
            await guest.page.get_by_label("Open", exact=True).check()
            await expect(guest.page.locator("article.tile")).to_have_count(1)
            await guest.page.get_by_label("Search by title").fill("chronometer")
            await expect(guest.page.locator("#empty")).to_contain_text("No lot title contains")
            await guest.page.get_by_label("All lots").check()
            await expect(guest.page.locator("article.tile")).to_have_count(1)
            await guest.shot("08-guest-catalogue-results")
        finally:
            await guest.context.close()

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
        assert (payment.buyer_id, payment.status, payment.amount) == (
            "alice",
            "PARTIALLY_REFUNDED",
            14_197,
        )
        assert outcomes == ["failed", "succeeded"]
        assert final.status == "SOLD"
        # The card went to the Stripe stand-in only; the secret to its buyer only.
        to_us = alice.sent_to(server.url)
        assert "4242424242424242" not in to_us and "4000000000000341" not in to_us
        assert "_secret_" not in await bob.page.content()
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()


async def test_the_lot_page_reconnects_catches_up_and_the_account_page_takes_the_payment(
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
    page = alice.page
    try:
        await alice.sign_in("Alice")
        # Zero- and three-decimal currencies, both ways: shown, and typed in.
        bowl_tab = await open_lot(alice, server.url, bowl_lot["id"])
        await expect(page.get_by_label("Your bid (JPY)")).to_have_value("3000")
        await bowl_tab.bid("3,500")
        await expect(bowl_tab.price).to_have_text("¥3,500")
        status, _ = await server.request(
            "POST", f"/api/lots/{bowl_lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
        await expect(alice.payment.locator(".total")).to_have_text("¥3,850")

        pot_tab = await open_lot(alice, server.url, pot_lot["id"])
        await expect(page.get_by_label("Your bid (KWD)")).to_have_value("15.000")
        bob = await server.socket("bob")
        assert (await bob.call("place_bid", bid(pot_lot["id"], 16_010)))["ok"]
        await expect(pot_tab.price).to_have_text(re.compile(r"KWD\s16\.010"))
        await expect(page.get_by_label("Your bid (KWD)")).to_have_value("17.010")

        # The connection drops: the tab goes offline and the server lets its socket go.
        await alice.context.set_offline(True)
        sio = server.context.hub.sio
        for sid, _ in list(sio.manager.get_participants("/", "user:alice")):
            await sio.disconnect(sid)
        await expect(page.locator("#connection")).to_have_text("Connection lost: reconnecting…")
        await expect(page.get_by_role("button", name="Place bid")).to_be_disabled()
        await alice.shot("09-alice-reconnecting-phone")
        carol = await server.socket("carol")
        assert (await carol.call("place_bid", bid(pot_lot["id"], 18_000)))["ok"]
        await alice.context.set_offline(False)
        await expect(page.locator("#connection")).to_have_text("Live", timeout=30_000)
        await expect(pot_tab.price).to_have_text(re.compile(r"KWD\s18\.000"))

        # A lost event (a gap in seq) makes the page join again and trust the snapshot.
        joins = alice.socket_frames_with('"join_lot"')
        await sio.emit(
            "bid_placed",
            {"lot_id": pot_lot["id"], "seq": 99, "amount": 99_999_000, "bidder": "Bidder FFFFFF"},
            room=lot_room(pot_lot["id"]),
        )
        await until(lambda: alice.socket_frames_with('"join_lot"') > joins, "the page to re-join")
        await expect(pot_tab.price).to_have_text(re.compile(r"KWD\s18\.000"))
        await expect(page.locator("#lot-page")).not_to_contain_text("Bidder FFFFFF")

        # The account page shows the payment due; 3-D Secure, confirmed by the buyer.
        await page.goto(f"{server.url}/account")
        panel = alice.payment
        await expect(panel.get_by_role("heading")).to_have_text(f"Pay for “{bowl}”")
        await expect(panel.locator(".total")).to_have_text("¥3,850")
        # A failed check speaks our words, never Stripe's raw text.
        await alice.pay(CARD_3DS)
        await page.get_by_role("button", name="Fail authentication").click()
        await expect(panel.locator(".message")).to_contain_text(
            "Your bank could not confirm the payment (the 3-D Secure check was not completed)."
        )
        await expect(panel).not_to_contain_text("unable to authenticate")
        await alice.pay(CARD_3DS)
        await page.get_by_role("button", name="Complete authentication").click()
        await expect(panel.locator(".message")).to_contain_text("Paid ¥3,850. The lot is yours.")
        purchase = page.locator("#purchases li").filter(has_text=bowl)
        await expect(purchase.locator(".state")).to_have_text("Paid")
        await alice.shot("10-alice-paid-after-3ds-phone")
        assert await no_horizontal_overflow(page) == []
        async with db.sessions() as session:
            payment = (
                await session.scalars(select(Payment).where(Payment.lot_id == bowl_lot["id"]))
            ).one()
        assert (payment.status, payment.amount, payment.currency) == ("SUCCEEDED", 3850, "jpy")
        assert alice.problems == []
    finally:
        await alice.context.close()


async def test_a_second_chance_offer_explains_itself_and_is_declined_without_a_strike(
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
            "token => localStorage.setItem('auction.session',"
            " JSON.stringify({user: {sub: 'bob', name: 'Bob'}, token}))",
            forged,
        )
        await bob.page.goto(f"{server.url}/lots/{lot['id']}")
        await expect(bob.page.locator("#session [role=alert]")).to_have_text(
            "Signed out: Token is not valid. Sign in again to continue."
        )
        await alice.sign_in("Alice")
        await bob.sign_in("Bob")
        a = await open_lot(alice, server.url, lot["id"])
        b = await open_lot(bob, server.url, lot["id"])
        for who, amount in (("bob", 2500), ("alice", 3000)):
            client = await server.socket(who)
            assert (await client.call("place_bid", bid(lot["id"], amount)))["ok"]
        await server.request("POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller")

        # Alice lets the window lapse; one message says what happened.
        await expect(alice.payment.get_by_role("heading")).to_have_text(f"No longer due: “{title}”")
        await expect(alice.payment.locator(".message")).to_have_text(
            "The time to pay ran out, so the purchase was cancelled."
        )
        await expect(alice.payment.get_by_label("Card number")).to_be_hidden()
        # Bob is offered the lot: the page says why, and that declining costs nothing.
        offer = bob.payment
        await expect(offer.get_by_role("heading")).to_have_text(
            f"Second-chance offer: Pay for “{title}”"
        )
        await expect(offer.locator(".lede")).to_have_text(
            "The winning bidder did not pay, so this lot is offered to you at your own highest "
            "bid of $25.00. You may buy it, or decline the offer at no cost."
        )
        await expect(offer.locator(".total")).to_have_text("$25.00")
        await expect(offer).not_to_contain_text("You won this lot")
        await expect(b.page.locator("#lot-leader")).to_have_text(
            "The winning bidder did not pay: the lot is offered to you at $25.00. "
            "Pay or decline below."
        )
        await bob.shot("11-bob-second-chance-phone")
        await offer.get_by_role("button", name="Decline this offer").click()
        await expect(offer.locator(".message")).to_have_text(
            "You declined the offer. No strike was recorded."
        )
        await expect(offer.get_by_label("Card number")).to_be_hidden()
        await expect(b.page.locator("#lot-badge")).to_have_text("Not sold")
        await expect(a.page.locator("#lot-badge")).to_have_text("Not sold")
        await bob.shot("12-bob-declined-phone")
        async with db.sessions() as session:
            strikes = {
                user.id: user.strikes
                for user in (
                    await session.scalars(select(User).where(User.id.in_(["alice", "bob"])))
                )
            }
        assert strikes == {"alice": 1, "bob": 0}
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()
