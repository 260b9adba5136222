"""`GET /api/me` (strikes explained), the watchlist, and the admins' list of suspended users."""

from __future__ import annotations

from sqlalchemy import update

from server.users.models import User
from tests.support.factories import create_lot


async def test_me_says_who_the_caller_is_and_what_strikes_mean(server, db):
    status, me = await server.request("GET", "/api/me", as_user="alice")
    assert status == 200, me
    assert (me["sub"], me["role"], me["strikes"], me["suspended"]) == ("alice", "bidder", 0, False)
    assert me["nonpayment_strikes"] == 2
    assert me["strikes_explained"].startswith("You have no strikes.")
    assert "time to pay" in me["strikes_explained"]

    async with db.engine.begin() as conn:
        await conn.execute(update(User).where(User.id == "alice").values(strikes=1))
    status, me = await server.request("GET", "/api/me", as_user="alice")
    assert (me["strikes"], me["suspended"]) == (1, False)
    assert me["strikes_explained"].startswith("You have 1 of 2 strikes: 1 more strike and bidding")

    async with db.engine.begin() as conn:
        await conn.execute(update(User).where(User.id == "alice").values(strikes=2))
    status, me = await server.request("GET", "/api/me", as_user="alice")
    assert (me["strikes"], me["suspended"]) == (2, True)
    assert me["strikes_explained"].startswith("You have 2 strikes, so you cannot bid for now.")

    status, error = await server.request("GET", "/api/me")
    assert (status, error["error"]["code"]) == (401, "unauthorized")


async def test_a_user_watches_lots_privately_and_idempotently(server):
    first = await create_lot(server, title="First")
    second = await create_lot(server, title="Second")
    for lot in (first, second, first):
        status, body = await server.request(
            "PUT", f"/api/me/watchlist/{lot['id']}", as_user="alice"
        )
        assert (status, body) == (200, {"lot_id": lot["id"], "watching": True})
    status, listing = await server.request("GET", "/api/me/watchlist", as_user="alice")
    assert status == 200
    assert [lot["id"] for lot in listing["items"]] == [second["id"], first["id"]]
    assert listing["items"][0]["title"] == "Second"
    assert "images" in listing["items"][0]

    status, others = await server.request("GET", "/api/me/watchlist", as_user="bob")
    assert (status, others["items"]) == (200, [])

    for _ in range(2):
        status, body = await server.request(
            "DELETE", f"/api/me/watchlist/{first['id']}", as_user="alice"
        )
        assert (status, body) == (200, {"lot_id": first["id"], "watching": False})
    status, listing = await server.request("GET", "/api/me/watchlist", as_user="alice")
    assert [lot["id"] for lot in listing["items"]] == [second["id"]]


async def test_watching_needs_a_user_and_a_lot_and_changes_nothing_otherwise(server):
    lot = await create_lot(server)
    status, error = await server.request("PUT", f"/api/me/watchlist/{lot['id']}")
    assert (status, error["error"]["code"]) == (401, "unauthorized")
    for path in ("/api/me/watchlist/999999", "/api/me/watchlist/abc", "/api/me/watchlist/0"):
        for method in ("PUT", "DELETE"):
            status, error = await server.request(method, path, as_user="alice")
            assert (status, error["error"]["code"]) == (404, "not_found"), (method, path)
    status, listing = await server.request("GET", "/api/me/watchlist", as_user="alice")
    assert listing["items"] == []


async def test_admins_list_suspended_users(server, db):
    for sub in ("alice", "bob", "carol"):
        status, _ = await server.request("GET", "/api/me", as_user=sub)
        assert status == 200
    async with db.engine.begin() as conn:
        await conn.execute(update(User).where(User.id == "bob").values(strikes=3))
        await conn.execute(update(User).where(User.id == "carol").values(strikes=1))
    status, page = await server.request(
        "GET", "/api/admin/users?suspended=true", as_user="root", role="admin"
    )
    assert status == 200, page
    assert [(user["sub"], user["suspended"]) for user in page["items"]] == [("bob", True)]
    status, page = await server.request(
        "GET", "/api/admin/users?suspended=false", as_user="root", role="admin"
    )
    assert [user["sub"] for user in page["items"]] == ["carol", "alice"]
    status, page = await server.request(
        "GET", "/api/admin/users?limit=1", as_user="root", role="admin"
    )
    assert [user["sub"] for user in page["items"]] == ["bob"]

    status, error = await server.request("GET", "/api/admin/users", as_user="bob")
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, error = await server.request(
        "GET", "/api/admin/users?suspended=maybe", as_user="root", role="admin"
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
