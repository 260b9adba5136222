"""Admins see non-paying bidders' strikes and can lift a suspension."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest
from sqlalchemy import update

from server.users.models import User
from tests.support.factories import bid, create_lot
from tests.support.sales import connect

ADMIN = {"as_user": "root", "role": "admin"}


async def _strike(db, sub, strikes):
    async with db.unit_of_work() as uow:
        await uow.session.execute(update(User).where(User.id == sub).values(strikes=strikes))


async def test_a_suspended_bidder_is_refused_until_an_admin_lifts_it(start_server, db):
    server = await start_server(nonpayment_strikes=2)
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(lot["id"], 2000)))["ok"]
    await _strike(db, "alice", 2)

    ack = await alice.call("place_bid", bid(lot["id"], 5000))
    assert ack["ok"] is False and ack["error"]["code"] == "bidder_suspended"
    status, user = await server.request("GET", "/api/admin/users/alice", **ADMIN)
    assert status == 200
    assert (user["sub"], user["role"], user["strikes"], user["suspended"]) == (
        "alice",
        "bidder",
        2,
        True,
    )
    assert user["suspension_lifted_at"] is None

    status, lifted = await server.request("POST", "/api/admin/users/alice/lift-suspension", **ADMIN)
    assert status == 200
    assert (lifted["strikes"], lifted["suspended"]) == (0, False)
    assert datetime.fromisoformat(lifted["suspension_lifted_at"]).tzinfo is not None
    ack = await alice.call("place_bid", bid(lot["id"], 5000))
    assert ack["ok"] is True, ack
    status, user = await server.request("GET", "/api/admin/users/alice", **ADMIN)
    assert (user["strikes"], user["suspension_lifted_at"]) == (0, lifted["suspension_lifted_at"])


async def test_admins_see_strikes_and_email_of_a_user_in_good_standing(server, db):
    lot = await create_lot(server)
    client = await connect(server, "bob", email="bob@example.com")
    assert (await client.call("place_bid", bid(lot["id"], lot["starting_price"])))["ok"]
    await _strike(db, "bob", 1)
    status, user = await server.request("GET", "/api/admin/users/bob", **ADMIN)
    assert status == 200
    assert (user["email"], user["strikes"], user["suspended"]) == ("bob@example.com", 1, False)
    status, body = await server.request("POST", "/api/admin/users/bob/lift-suspension", **ADMIN)
    assert (status, body["error"]["code"], body["error"]["strikes"]) == (409, "not_suspended", 1)


async def test_subjects_with_slashes_are_addressable(server, db):
    sub = "https://id.example.com/users/42"
    lot = await create_lot(server)
    client = await server.socket(sub)
    assert (await client.call("place_bid", bid(lot["id"], lot["starting_price"])))["ok"]
    await _strike(db, sub, 5)
    status, user = await server.request("GET", f"/api/admin/users/{quote(sub, safe='/')}", **ADMIN)
    assert (status, user["sub"], user["suspended"]) == (200, sub, True)
    status, lifted = await server.request(
        "POST", f"/api/admin/users/{quote(sub, safe='/')}/lift-suspension", **ADMIN
    )
    assert (status, lifted["sub"], lifted["strikes"]) == (200, sub, 0)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/admin/users/alice"), ("POST", "/api/admin/users/alice/lift-suspension")],
)
async def test_only_admins_see_or_lift(server, db, method, path):
    await server.socket("alice")
    assert (await server.request(method, path))[0] == 401
    for role in ("bidder", "seller"):
        status, body = await server.request(method, path, as_user="alice", role=role)
        assert (status, body["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unknown_user_is_not_found(server, method):
    suffix = "/lift-suspension" if method == "POST" else ""
    status, body = await server.request(method, f"/api/admin/users/nobody{suffix}", **ADMIN)
    assert (status, body["error"]["code"]) == (404, "not_found")
