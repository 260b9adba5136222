"""The admin desk (/admin) in Chromium, against the real app, PostgreSQL and localstripe.

Stripe's refusals come from the fault-injecting proxy, as in tests/test_stripe_refusals.py;
everything else is the real thing. Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import time

import jwt
import pytest
from playwright.async_api import expect
from sqlalchemy import select

from server.auctions.models import Lot
from server.payments.models import Payment, Refund
from server.users.models import User
from tests.support.a11y import assert_accessible
from tests.support.browser import DESKTOP, EXPECT_TIMEOUT_MS, PHONE
from tests.support.desk import DeskPage, open_desk, overflows
from tests.support.factories import bid, create_lot
from tests.support.sales import sold_lot
from tests.support.services import wait_for
from tests.test_checkout_desk import issued_invoice

pytestmark = pytest.mark.browser
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
CREATE = "/v1/payment_intents"


async def _flagged_payment(db, lot_id: int) -> Payment:
    async def flagged():
        async with db.sessions() as session:
            payment = await session.scalar(select(Payment).where(Payment.lot_id == lot_id))
            return payment if payment is not None and payment.attention else None

    return await wait_for(flagged, timeout=15)


async def _payment(db, payment_id: int) -> Payment:
    async with db.sessions() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        return payment


async def test_the_admin_retries_one_stuck_payment_and_releases_another(
    browser, start_server, db, proxy
):
    server = await start_server(dev_mode=True, stripe_api_base=proxy.url)
    refusal = proxy.refuse("POST", CREATE, 400, "amount_too_large")
    clock = await create_lot(server, title="Regulator wall clock", starting_price=5000)
    globe = await create_lot(server, title="Library globe", starting_price=5000)
    alice, bob = await server.socket("alice"), await server.socket("bob")
    assert (await alice.call("place_bid", bid(clock["id"], 5000)))["ok"]
    assert (await bob.call("place_bid", bid(globe["id"], 5000)))["ok"]
    assert (await alice.call("place_bid", bid(globe["id"], 6000)))["ok"]
    for lot in (clock, globe):
        status, _ = await server.request(
            "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
        )
        assert status == 200
    stuck_clock = await _flagged_payment(db, clock["id"])
    stuck_globe = await _flagged_payment(db, globe["id"])

    admin = await open_desk(browser, f"{server.url}/admin", as_name="Root")
    page = admin.page
    try:
        attention = admin.section("Payments needing attention")
        await expect(attention.get_by_role("row")).to_have_count(3)  # the header and two
        await expect(attention).to_contain_text("Regulator wall clock")
        await expect(attention).to_contain_text("injected amount_too_large")
        await assert_accessible(page, "the admin desk with payments needing attention")
        await admin.shot("admin-01-attention")
        await page.set_viewport_size(PHONE)
        assert await overflows(admin) == []
        await assert_accessible(page, "the admin desk with payments needing attention, phone")
        await admin.shot("admin-01-attention-phone")
        await page.set_viewport_size(DESKTOP)

        # Stripe still refuses: the desk says so, and the payment stays listed.
        await attention.get_by_role("button", name=f"Retry payment {stuck_clock.id}").click()
        await expect(admin.status).to_have_text(
            re.compile(
                rf"^Stripe refused payment {stuck_clock.id} \(“Regulator wall clock”\) again"
            )
        )
        await expect(attention.get_by_role("row")).to_have_count(3)

        proxy.refusals.remove(refusal)
        await attention.get_by_role("button", name=f"Retry payment {stuck_clock.id}").click()
        await expect(admin.status).to_have_text(
            f"Payment {stuck_clock.id} (“Regulator wall clock”) is on its way again: "
            "awaiting the buyer."
        )
        await expect(attention.get_by_role("row")).to_have_count(2)
        await expect(admin.alert).to_be_empty()
        info = await alice.wait_for("payment_required", lambda e: e["lot_id"] == clock["id"])
        assert info["payment_id"] == stuck_clock.id
        assert (await _payment(db, stuck_clock.id)).status == "REQUIRES_PAYMENT"

        # Release, by keyboard only: the button, then the confirmation's "yes".
        release = attention.get_by_role("button", name=f"Release payment {stuck_globe.id}")
        await release.focus()
        await page.keyboard.press("Enter")
        keep = attention.get_by_role("button", name="Keep it")
        await expect(keep).to_be_focused()  # the safe choice has the focus
        await page.keyboard.press("Shift+Tab")
        await expect(attention.get_by_role("button", name="Yes, release it")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(admin.status).to_have_text(
            f"Payment {stuck_globe.id} (“Library globe”) was released; the buyer gets no strike."
        )
        await expect(attention).to_contain_text("No payment needs attention.")
        await expect(page.get_by_role("heading", name="Payments needing attention")).to_be_focused()
        released = await _payment(db, stuck_globe.id)
        assert (released.status, released.end_reason) == ("CANCELED", "released_by_admin")
        offer = await bob.wait_for("payment_required", lambda e: e["lot_id"] == globe["id"])
        assert offer["offer_number"] == 2
        async with db.sessions() as session:
            assert (await session.get(User, "alice")).strikes == 0
        assert admin.problems == []
    finally:
        await admin.context.close()


async def test_a_refund_in_major_units_in_the_admins_locale(browser, start_server, db, localstripe):
    """A de-DE admin types 20,00 and refunds $20.00; too much is refused in major units."""
    server = await start_server(dev_mode=True)
    _lot, info, _buyer = await sold_lot(
        server, localstripe.url, title="Enamel snuff box", amount=14_197
    )
    admin = await open_desk(browser, f"{server.url}/admin", as_name="Root", locale="de-DE")
    try:
        refunds = admin.section("Refunds")
        item = refunds.locator(f"[data-payment-id='{info['payment_id']}']")
        amount = item.get_by_label("Amount to refund (USD)")
        await expect(amount).to_have_value("141,97")
        await amount.fill("20,00")
        await item.get_by_label("Reason (optional)").fill("Frame scratched in transit")
        await item.get_by_role("button", name="Refund").click()
        await expect(admin.status).to_have_text(
            f"Refunded 20,00\xa0$ on payment {info['payment_id']} (“Enamel snuff box”)."
        )
        item = refunds.locator(f"[data-payment-id='{info['payment_id']}']")
        await expect(item).to_contain_text("Refunded so far: 20,00\xa0$.")
        await expect(item.get_by_label("Amount to refund (USD)")).to_have_value("121,97")
        await admin.page.set_viewport_size(PHONE)
        assert await overflows(admin) == []
        await admin.shot("admin-02-refunds-phone")
        await admin.page.set_viewport_size(DESKTOP)

        # More than is left: the server's limit, in major units, replaces the success.
        await item.get_by_label("Amount to refund (USD)").fill("500,00")
        await item.get_by_role("button", name="Refund").click()
        refused = f"Payment {info['payment_id']}: At most 121,97\xa0$ can be refunded."
        await expect(admin.alert).to_have_text(refused)
        await expect(admin.status).to_be_empty()
        await expect(item.get_by_label("Amount to refund (USD)")).to_be_focused()
        await expect(item.get_by_label("Amount to refund (USD)")).to_have_attribute(
            "aria-invalid", "true"
        )
        # Not a number at all: the desk refuses it before asking the server.
        await item.get_by_label("Amount to refund (USD)").fill("zwanzig")
        await item.get_by_role("button", name="Refund").click()
        await expect(admin.alert).to_contain_text(f"Payment {info['payment_id']}: Enter")
        await admin.shot("admin-02-refund-refused")
        async with db.sessions() as session:
            amounts = (
                await session.scalars(
                    select(Refund.amount).where(Refund.payment_id == info["payment_id"])
                )
            ).all()
        assert amounts == [2000]
        assert admin.problems == []
    finally:
        await admin.context.close()


async def test_a_refund_stripe_refuses_is_retried_from_the_attention_list(
    browser, start_server, db, localstripe, proxy
):
    server = await start_server(dev_mode=True, stripe_api_base=proxy.url)
    _lot, info, _buyer = await sold_lot(
        server, localstripe.url, title="Pietra dura table top", amount=5000
    )
    refusal = proxy.refuse("POST", "/v1/refunds", 400, "charge_disputed")
    admin = await open_desk(browser, f"{server.url}/admin", as_name="Root")
    try:
        item = admin.section("Refunds").locator(f"[data-payment-id='{info['payment_id']}']")
        await item.get_by_label("Amount to refund (USD)").fill("20")
        await item.get_by_role("button", name="Refund").click()
        await expect(admin.alert).to_have_text(
            re.compile(
                rf"^Payment {info['payment_id']}: Stripe refused the refund "
                r"\(\w* ?charge_disputed\)\. "
                r"The payment is listed under “Payments needing attention”, where the refund "
                r"can be retried\.$"
            )
        )
        attention = admin.section("Payments needing attention")
        await expect(attention).to_contain_text("Pietra dura table top")
        await expect(attention.get_by_role("button", name=re.compile("^Release"))).to_have_count(0)
        proxy.refusals.remove(refusal)
        await attention.get_by_role("button", name=f"Retry payment {info['payment_id']}").click()
        await expect(admin.status).to_have_text(
            f"Payment {info['payment_id']} (“Pietra dura table top”) is on its way again: "
            "partly refunded."
        )
        await expect(attention).to_contain_text("No payment needs attention.")
        await expect(admin.section("Refunds")).to_contain_text("Refunded so far: $20.00.")
        payment = await _payment(db, info["payment_id"])
        assert (payment.status, payment.refunded_amount) == ("PARTIALLY_REFUNDED", 2000)
        assert admin.problems == []
    finally:
        await admin.context.close()


async def test_an_invoice_paid_by_bank_transfer_is_marked_paid(browser, start_server, db):
    server = await start_server(dev_mode=True)
    invoice_id, lots = await issued_invoice(server, db, [10_000, 20_000])
    admin = await open_desk(browser, f"{server.url}/admin", as_name="Root", viewport=PHONE)
    try:
        item = admin.section("Invoices").locator(f"[data-invoice-id='{invoice_id}']")
        await expect(item).to_contain_text("Buyer alice, 2 lots, total $330.00: Awaiting payment.")
        await item.get_by_label("Paid by").select_option("bank_transfer")
        await item.get_by_label("Reference (optional)").fill("BT-2026-0042")
        await assert_accessible(admin.page, "the admin desk with an invoice, phone")
        assert await overflows(admin) == []
        await item.get_by_role("button", name="Mark paid").click()
        await expect(admin.status).to_have_text(
            re.compile(rf"^Invoice {invoice_id} \(“.+”\) is marked paid: \$330\.00; receipt \S+\.$")
        )
        item = admin.section("Invoices").locator(f"[data-invoice-id='{invoice_id}']")
        await expect(item).to_contain_text("Paid (by bank transfer on")
        await expect(item).to_contain_text("reference BT-2026-0042")
        await expect(item.get_by_role("button", name="Mark paid")).to_have_count(0)
        await admin.shot("admin-04-invoice-paid-phone")

        # Refunds: one lot returned (its whole line), then an amount, then too much.
        lines = item.get_by_role("list", name=f"Lots of invoice {invoice_id}")
        await lines.get_by_role("button", name="Refund lot 1").click()
        await lines.get_by_role("button", name="Yes, refund it").click()
        await expect(admin.status).to_have_text(
            re.compile(rf"^Refunded \$110\.00 on Invoice {invoice_id} \(“.+”\)\.$")
        )
        item = admin.section("Invoices").locator(f"[data-invoice-id='{invoice_id}']")
        await expect(item).to_contain_text("Partly refunded")
        await item.get_by_label("Amount to refund (USD)").fill("25")
        await item.get_by_role("button", name="Refund amount").click()
        await expect(admin.status).to_have_text(
            re.compile(rf"^Refunded \$25\.00 on Invoice {invoice_id} ")
        )
        item = admin.section("Invoices").locator(f"[data-invoice-id='{invoice_id}']")
        await item.get_by_label("Amount to refund (USD)").fill("1000")
        await item.get_by_role("button", name="Refund amount").click()
        await expect(admin.alert).to_have_text(
            f"Invoice {invoice_id}: At most $195.00 can be refunded."
        )
        await expect(admin.status).to_be_empty()
        await expect(item.get_by_label("Amount to refund (USD)")).to_be_focused()
        async with db.sessions() as session:
            for lot in lots:
                assert (await session.get(Lot, lot["id"])).status == "SOLD"
        assert admin.problems == []
    finally:
        await admin.context.close()


async def test_suspensions_are_lifted_and_lots_closed_or_cancelled(browser, start_server, db):
    server = await start_server(dev_mode=True)
    async with db.sessions() as session:
        session.add(User(id="carol", role="bidder", name="Carol", strikes=2))
        session.add(User(id="dave", role="bidder", name="Dave", strikes=3))
        session.add(User(id="erin", role="bidder", name="Erin", strikes=1))
        await session.commit()
    open_lot = await create_lot(server, title="Oak blanket chest", starting_price=5000)
    doomed = await create_lot(server, title="Cracked decanter", starting_price=5000)
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(open_lot["id"], 7500)))["ok"]

    admin = await open_desk(browser, f"{server.url}/admin", as_name="Root", viewport=PHONE)
    try:
        people = admin.section("Suspended bidders")
        await people.get_by_label("User id").fill("nobody-here")
        await people.get_by_role("button", name="Look up").click()
        await expect(admin.alert).to_have_text("No user has the id “nobody-here”.")
        await people.get_by_label("User id").fill("carol")
        await people.get_by_role("button", name="Look up").click()
        await expect(admin.status).to_have_text("carol is suspended (2 strikes).")
        await expect(admin.alert).to_be_empty()
        lift = people.locator(".found").get_by_role("button", name="Lift the suspension of carol")
        await lift.click()
        await people.locator(".found").get_by_role("button", name="Yes, lift it").click()
        await expect(admin.status).to_have_text(
            "The suspension of carol was lifted; they may bid again."
        )
        # The list of suspended bidders: dave (carol's lift re-drew it); erin may bid.
        listed = people.get_by_role("table", name="Suspended bidders")
        await expect(listed.get_by_role("row")).to_have_count(2)
        await expect(listed).to_contain_text("dave")
        await listed.get_by_role("button", name="Lift the suspension of dave").click()
        await listed.get_by_role("button", name="Yes, lift it").click()
        await expect(admin.status).to_have_text(
            "The suspension of dave was lifted; they may bid again."
        )
        await expect(people).to_contain_text("No bidder is suspended.")
        async with db.sessions() as session:
            assert (await session.get(User, "carol")).strikes == 0
            assert (await session.get(User, "dave")).strikes == 0
            assert (await session.get(User, "erin")).strikes == 1

        lots = admin.section("Lots not yet closed")
        await expect(lots).to_contain_text("$75.00")
        assert await overflows(admin) == []
        await admin.shot("admin-03-lots-phone")
        await lots.get_by_role("button", name="Cancel “Cracked decanter”").click()
        await lots.get_by_role("button", name="Yes, cancel the lot").click()
        await expect(admin.status).to_have_text("“Cracked decanter” was cancelled.")
        await lots.get_by_role("button", name="Close “Oak blanket chest” now").click()
        await lots.get_by_role("button", name="Yes, close it").click()
        await expect(admin.status).to_have_text(
            "“Oak blanket chest” closed at $75.00; the winner is asked to pay."
        )
        await expect(lots).to_contain_text("Every lot has closed.")
        async with db.sessions() as session:
            assert (await session.get(Lot, doomed["id"])).status == "CANCELED"
            assert (await session.get(Lot, open_lot["id"])).status == "PENDING_PAYMENT"
        await assert_accessible(admin.page, "the admin desk on a phone")
        assert admin.problems == []
    finally:
        await admin.context.close()


async def test_the_admin_desk_is_for_admins(browser, start_server):
    server = await start_server(dev_mode=True)
    tab = await open_desk(browser, f"{server.url}/admin", as_name=None)
    try:
        await expect(tab.page.locator("#gate")).to_have_text(
            "Sign in as an admin to use this desk."
        )
        await expect(tab.page.locator("#desk")).to_be_hidden()
        await expect(tab.page.get_by_role("button", name="Sign in as Alice")).to_have_count(0)
        await assert_accessible(tab.page, "the admin desk signed out")
    finally:
        await tab.context.close()


async def test_a_token_the_server_refuses_signs_the_desk_out_and_says_so(browser, start_server):
    """A saved sign-in whose token the server does not accept (another secret) is not kept
    silently: the desk says so and offers the sign-in again."""
    server = await start_server(dev_mode=True)
    forged = jwt.encode(
        {"sub": "root", "role": "admin", "exp": int(time.time()) + 3600},
        "another-secret-of-at-least-thirty-two-bytes",
    )
    saved = json.dumps({"user": {"sub": "root", "role": "admin", "name": "Root"}, "token": forged})
    context = await browser.new_context(locale="en-US", timezone_id="UTC")
    await context.add_init_script(
        f"if (!sessionStorage.getItem('seeded')) {{ sessionStorage.setItem('seeded', '1'); "
        f"localStorage.setItem('auction.session', {json.dumps(saved)}); }}"
    )
    tab = await DeskPage.open(context, f"{server.url}/admin", "root")
    try:
        session = tab.page.get_by_role("region", name="Who is signed in")
        await expect(session.get_by_role("alert")).to_have_text(
            re.compile(r"^Signed out: .+\. Sign in again to continue\.$")
        )
        await expect(tab.page.locator("#gate")).to_have_text(
            "Sign in as an admin to use this desk."
        )
        await expect(tab.page.locator("#desk")).to_be_hidden()
        await expect(tab.alert).to_be_empty()  # no stale "could not be brought up to date"
        await session.get_by_role("button", name="Sign in as Root").click()
        await expect(tab.page.locator("#desk")).to_be_visible()
        await expect(admin_heading(tab)).to_be_visible()
        assert tab.problems == []
    finally:
        await context.close()


def admin_heading(tab: DeskPage):
    return tab.page.get_by_role("heading", name="Payments needing attention")
