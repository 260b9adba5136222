"""Cards on file (SPEC section 14): a Stripe Customer per user, cards saved with a
SetupIntent the browser confirms at Stripe, listed, chosen and removed; only brand,
last four digits and expiry are kept. Against the real stand-in (localstripe through
our launcher, which attaches a confirmed SetupIntent's card and sends its webhooks)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from server.cards.models import Card
from server.cards.service import forget_card, store_card
from server.users.models import User
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.cards import save_card, wait_for_card


async def _customer(db, user):
    async with db.sessions() as session:
        return await session.scalar(select(User.stripe_customer_id).where(User.id == user))


async def test_a_saved_card_is_listed_as_the_default_with_its_face_only(server, db, localstripe):
    card = await save_card(server, localstripe.url, "alice", exp_month=11, exp_year=2033)
    assert card == {
        "id": card["id"],
        "brand": "visa",
        "last4": "4242",
        "exp_month": 11,
        "exp_year": 2033,
        "default": True,
    }
    status, listing = await server.request("GET", "/api/me/cards", as_user="alice")
    assert status == 200 and listing == {"items": [card]}
    customer = await _customer(db, "alice")
    assert customer is not None and customer.startswith("cus_")
    method = await fake_browser.stand_in(
        localstripe.url, "GET", f"/v1/payment_methods/{card['id']}"
    )
    assert method["customer"] == customer  # attached for charges without the buyer
    # A second setup reuses the Customer.
    await save_card(server, localstripe.url, "alice", "5555555555554444")
    assert await _customer(db, "alice") == customer


async def test_the_webhook_alone_saves_the_card_and_the_refetch_adds_nothing(
    server, db, localstripe
):
    confirmed = await save_card(server, localstripe.url, "bob", refetch=False)
    card = await wait_for_card(db, confirmed["payment_method"])
    assert (card.user_id, card.last4, card.is_default) == ("bob", "4242", True)
    status, again = await server.request(
        "POST", "/api/me/cards", as_user="bob", json={"setup_intent_id": confirmed["id"]}
    )
    assert status == 201 and again["id"] == card.id
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Card)) == 1


async def test_a_new_card_becomes_the_default_and_any_card_can_be_chosen(server, localstripe):
    first = await save_card(server, localstripe.url, "carol")
    second = await save_card(server, localstripe.url, "carol", "5555555555554444")
    status, listing = await server.request("GET", "/api/me/cards", as_user="carol")
    assert [(c["id"], c["default"]) for c in listing["items"]] == [
        (first["id"], False),
        (second["id"], True),
    ]
    status, chosen = await server.request(
        "POST", f"/api/me/cards/{first['id']}/default", as_user="carol"
    )
    assert status == 200 and chosen["default"] is True
    status, listing = await server.request("GET", "/api/me/cards", as_user="carol")
    assert [c["default"] for c in listing["items"]] == [True, False]


async def test_removing_a_card_detaches_it_at_stripe_and_the_other_becomes_default(
    server, db, localstripe
):
    first = await save_card(server, localstripe.url, "dave")
    second = await save_card(server, localstripe.url, "dave", "5555555555554444")
    status, _ = await server.request("DELETE", f"/api/me/cards/{second['id']}", as_user="dave")
    assert status == 204
    method = await fake_browser.stand_in(
        localstripe.url, "GET", f"/v1/payment_methods/{second['id']}"
    )
    assert method["customer"] is None
    status, listing = await server.request("GET", "/api/me/cards", as_user="dave")
    assert [(c["id"], c["default"]) for c in listing["items"]] == [(first["id"], True)]


async def test_another_users_card_is_not_found_and_nothing_changes(server, db, localstripe):
    card = await save_card(server, localstripe.url, "erin")
    for method, path in (
        ("DELETE", f"/api/me/cards/{card['id']}"),
        ("POST", f"/api/me/cards/{card['id']}/default"),
        ("DELETE", "/api/me/cards/pm_unknown"),
        ("DELETE", "/api/me/cards/not-a-card"),
    ):
        status, body = await server.request(method, path, as_user="mallory")
        assert status == 404 and body["error"]["code"] == "not_found", (method, path)
    setup_id = (await save_card(server, localstripe.url, "erin", refetch=False))["id"]
    mallorys = None
    for _ in range(2):  # without a Stripe Customer of her own, then with one
        status, body = await server.request(
            "POST", "/api/me/cards", as_user="mallory", json={"setup_intent_id": setup_id}
        )
        assert status == 404, body
        mallorys = mallorys or await save_card(server, localstripe.url, "mallory")
    status, _ = await server.request("DELETE", f"/api/me/cards/{mallorys['id']}", as_user="mallory")
    assert status == 204
    status, listing = await server.request("GET", "/api/me/cards", as_user="erin")
    assert card["id"] in [c["id"] for c in listing["items"]]
    method = await fake_browser.stand_in(
        localstripe.url, "GET", f"/v1/payment_methods/{card['id']}"
    )
    assert method["customer"] == await _customer(db, "erin")
    status, listing = await server.request("GET", "/api/me/cards", as_user="mallory")
    assert listing == {"items": []}


async def test_bad_input_is_refused_and_needs_a_token(server):
    status, body = await server.request(
        "POST", "/api/me/cards", as_user="frank", json={"setup_intent_id": "pi_123"}
    )
    assert status == 400 and body["error"]["code"] == "validation_error"
    status, body = await server.request("GET", "/api/me/cards")
    assert status == 401
    status, body = await server.request("POST", "/api/me/cards/setup")
    assert status == 401


async def test_a_card_detached_or_a_customer_deleted_at_stripe_is_forgotten(
    server, db, localstripe
):
    card = await save_card(server, localstripe.url, "gina")
    await fake_browser.stand_in(localstripe.url, "POST", f"/v1/payment_methods/{card['id']}/detach")
    await wait_for_card(db, card["id"], present=False)
    other = await save_card(server, localstripe.url, "gina", "5555555555554444")
    customer = await _customer(db, "gina")
    await fake_browser.stand_in(localstripe.url, "DELETE", f"/v1/customers/{customer}")
    await wait_for_card(db, other["id"], present=False)
    # The next setup makes the user another Customer.
    await save_card(server, localstripe.url, "gina")
    replaced = await _customer(db, "gina")
    assert replaced is not None and replaced != customer


async def test_a_delayed_setup_success_does_not_bring_a_removed_card_back(server, db, localstripe):
    """Stripe never attaches a detached PaymentMethod again: its late success is stale.

    The webhook fetches the setup's PaymentMethod before its transaction opens; if the
    bidder removes the card in between, the fetched copy still names their Customer.
    Here that copy is signed as Stripe would send it, after the removal.
    """
    confirmed = await save_card(server, localstripe.url, "gina", refetch=False)
    status, card = await server.request(
        "POST", "/api/me/cards", as_user="gina", json={"setup_intent_id": confirmed["id"]}
    )
    assert status == 201, card
    status, _ = await server.request("DELETE", f"/api/me/cards/{card['id']}", as_user="gina")
    assert status == 204

    stale = dict(confirmed)
    stale["payment_method"] = {
        "id": card["id"],
        "object": "payment_method",
        "type": "card",
        "customer": confirmed["customer"],  # as fetched before the removal
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
    }
    status, _ = await fake_browser.deliver(
        server, fake_browser.event("setup_intent.succeeded", stale), secret=WEBHOOK_SECRET
    )
    assert status == 200
    status, listing = await server.request("GET", "/api/me/cards", as_user="gina")
    assert listing["items"] == []
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Card)) == 0


async def test_a_success_stored_while_the_card_is_being_removed_does_not_bring_it_back(
    server, db, localstripe
):
    """A removal and a success event in flight at once: the card stays removed.

    The removal's transaction is held open; the event's store starts meanwhile. It
    must wait for the removal and then see the id removed, not check before the
    removal commits and insert the card again once the row lock is released.
    """
    card = await save_card(server, localstripe.url, "hank")
    method = {
        "id": card["id"],
        "type": "card",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
    }

    async def store() -> Any:
        async with db.unit_of_work() as uow:
            return await store_card(uow.session, "hank", method)

    async with db.unit_of_work() as removal:
        assert await forget_card(removal.session, card["id"]) == "hank"
        storing = asyncio.create_task(store())
        await asyncio.sleep(0.3)  # the store reaches its lock wait
        assert not storing.done()
    assert await storing is None
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Card)) == 0
