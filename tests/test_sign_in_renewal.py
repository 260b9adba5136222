"""Renewing a sign-in on the pages (js/session.js + POST /api/auth/refresh), in Chromium.

A token is traded for a fresh one shortly before it runs out (a third of its life for a
short-lived one), so a bidder is not signed out in the middle of a sale; when the server
refuses to renew it (the sign-in began over a day ago) the page signs out and says so.
The tokens here live 30 s: the page renews at ~20 s. Nothing asserts timing: the test
waits for the page to act, with generous limits.
"""

from __future__ import annotations

import time

import jwt
import pytest
from playwright.async_api import Browser, expect

from server.core.auth import issue_token
from tests.conftest import JWT_SECRET
from tests.support.browser import DESKTOP, EXPECT_TIMEOUT_MS, BidderPage, open_lot
from tests.support.factories import create_lot

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

SAVED_TOKEN = "() => (JSON.parse(localStorage.getItem('auction.session') || 'null') || {}).token"


async def signed_in_tab(
    browser: Browser, url: str, lot_id: int, token: str, name: str
) -> BidderPage:
    context = await browser.new_context(viewport=DESKTOP, locale="en-US")
    tab = await BidderPage.open(context, url, name.lower())
    await tab.page.evaluate(
        "([token, name, sub]) => localStorage.setItem('auction.session',"
        " JSON.stringify({user: {sub, name, role: 'bidder'}, token}))",
        [token, name, name.lower()],
    )
    await open_lot(tab, url, lot_id)
    await expect(tab.page.get_by_text(f"Bidding as {name}")).to_be_visible()
    return tab


def claims(token: str) -> dict:
    return jwt.decode(token, JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False})


async def test_a_short_lived_token_is_renewed_and_a_refused_renewal_signs_out_visibly(
    browser, start_server
):
    server = await start_server(dev_mode=True)
    lot = await create_lot(server, title="Carriage clock", starting_price=10_000, ends_in=3600)
    settings = server.context.settings
    first = issue_token(settings, sub="alice", name="Alice", ttl_seconds=30)
    # Bob signed in 25 hours ago: his token is valid, but the server renews no sign-in that old.
    stale = issue_token(
        settings, sub="bob", name="Bob", ttl_seconds=30, auth_time=int(time.time()) - 25 * 3600
    )
    alice = await signed_in_tab(browser, server.url, lot["id"], first, "Alice")
    bob = await signed_in_tab(browser, server.url, lot["id"], stale, "Bob")
    try:
        page = alice.page
        # Alice's page swaps in a fresh token for the same sign-in, kept for her other tabs.
        await page.wait_for_function(
            f"(old) => [old, undefined].indexOf(({SAVED_TOKEN})()) < 0", arg=first, timeout=90_000
        )
        fresh = await page.evaluate(SAVED_TOKEN)
        old_claims, new_claims = claims(first), claims(fresh)
        assert new_claims["sub"] == "alice" and new_claims["name"] == "Alice"
        assert new_claims["auth_time"] == old_claims["iat"]
        assert new_claims["exp"] > old_claims["exp"]
        # Past the first token's end (and the server's 5 s of clock leeway) she is still
        # signed in, with nothing to read about it ...
        await page.wait_for_function(
            "(exp) => Date.now() > exp * 1000 + 7000", arg=old_claims["exp"], timeout=90_000
        )
        await expect(page.get_by_text("Bidding as Alice")).to_be_visible()
        await expect(page.locator("#session [role=alert]")).to_have_count(0)
        # ... her REST calls carry the fresh token (the first one would be refused now) ...
        await page.get_by_role("button", name="Watch this lot").click()
        await expect(page.locator("#lot-message")).to_have_text("Added to your watchlist.")
        status, _ = await server.request(
            "GET", "/api/me/watchlist", headers={"Authorization": f"Bearer {first}"}
        )
        assert status == 401
        # ... and so does the live connection, which she bids on.
        await alice.page.get_by_label("Your bid (USD)").fill("100.00")
        await alice.page.get_by_role("button", name="Place bid").click()
        await expect(page.locator("#lot-message")).to_have_text(
            "Your bid of $100.00 is the highest."
        )
        # A reload finds the renewed sign-in.
        await page.reload()
        await expect(page.get_by_text("Bidding as Alice")).to_be_visible()

        # Bob's renewal is refused: the page signs him out and says why, in plain words.
        await expect(bob.page.locator("#session [role=alert]")).to_have_text(
            "Signed out: You signed in over a day ago. Sign in again to continue.", timeout=90_000
        )
        await expect(bob.page.get_by_role("button", name="Sign in as Alice")).to_be_visible()
        assert await bob.page.evaluate(SAVED_TOKEN) is None
        assert alice.problems == [] and bob.problems == []
    finally:
        await alice.context.close()
        await bob.context.close()
