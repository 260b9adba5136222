"""`POST /api/auth/refresh`: a sign-in kept alive before its token lapses, for at most a day."""

from __future__ import annotations

import time
from typing import Any

import jwt

from server.core.auth import issue_token
from tests.conftest import JWT_SECRET


async def refresh(server: Any, token: str) -> tuple[int, Any]:
    return await server.request(
        "POST", "/api/auth/refresh", headers={"Authorization": f"Bearer {token}"}
    )


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, JWT_SECRET, algorithms=["HS256"])


def crafted(**claims: Any) -> str:
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def test_a_token_is_traded_for_a_fresh_one_for_the_same_sign_in(server):
    settings = server.context.settings
    old = issue_token(settings, sub="alice", role="seller", email="a@example.com", ttl_seconds=600)
    status, body = await refresh(server, old)
    assert status == 200, body
    new, before = claims_of(body["token"]), claims_of(old)
    assert (new["sub"], new["role"], new["email"]) == ("alice", "seller", "a@example.com")
    assert new["auth_time"] == before["iat"]
    assert new["exp"] - new["iat"] == body["expires_in"] == 600
    status, me = await server.request(
        "GET", "/api/me", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert (status, me["sub"], me["role"]) == (200, "alice", "seller")
    # Refreshing again keeps the start of the sign-in.
    status, again = await refresh(server, body["token"])
    assert status == 200
    assert claims_of(again["token"])["auth_time"] == before["iat"]


async def test_a_long_lived_token_is_refreshed_for_at_most_twelve_hours(server):
    old = issue_token(server.context.settings, sub="bob", ttl_seconds=48 * 3600)
    status, body = await refresh(server, old)
    assert (status, body["expires_in"]) == (200, 12 * 3600)


async def test_no_refresh_past_a_day_or_without_a_start_or_once_expired(server):
    now = int(time.time())
    for token, why in (
        (crafted(sub="alice", iat=now - 25 * 3600, exp=now + 600), "over a day ago"),
        (
            crafted(sub="alice", iat=now - 60, exp=now + 600, auth_time=now - 25 * 3600),
            "over a day ago",
        ),
        (crafted(sub="alice", exp=now + 600), "cannot be extended"),
        (crafted(sub="alice", iat=now - 60, exp=now + 600, auth_time="yesterday"), "cannot"),
        (crafted(sub="alice", iat=now - 700, exp=now - 100), "expired"),
        (crafted(sub="alice", iat=now, exp=now + 600, role="owner"), "role"),
        ("not-a-token", "not valid"),
    ):
        status, error = await refresh(server, token)
        assert (status, error["error"]["code"]) == (401, "unauthorized"), why
        assert why in error["error"]["message"], (why, error)
    status, error = await server.request("POST", "/api/auth/refresh")
    assert (status, error["error"]["code"]) == (401, "unauthorized")
