"""JWT identity: what is accepted and every way a token is refused."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import jwt
import pytest
import socketio

from server.core.auth import decode_token, issue_token
from server.core.errors import Unauthorized
from tests.conftest import JWT_SECRET


def _token(settings, **claims):
    base = {"sub": "alice", "exp": int(time.time()) + 60}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    return jwt.encode(base, settings.jwt_secret, algorithm="HS256")


def test_a_valid_token_names_the_user(settings):
    identity = decode_token(
        _token(settings, role="seller", email="a@example.com", name="Alice"), settings
    )
    assert (identity.sub, identity.role, identity.email, identity.name) == (
        "alice",
        "seller",
        "a@example.com",
        "Alice",
    )


def test_role_defaults_to_bidder(settings):
    assert decode_token(_token(settings), settings).role == "bidder"


def _unsigned(claims):
    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: _token(s, exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda s: _token(s, exp=None), id="no-exp"),
        pytest.param(lambda s: _token(s, sub=None), id="no-sub"),
        pytest.param(lambda s: _token(s, sub=42), id="sub-not-string"),
        pytest.param(lambda s: _token(s, role="root"), id="unknown-role"),
        pytest.param(
            lambda s: jwt.encode(
                {"sub": "a", "exp": int(time.time()) + 60},
                "another-secret-entirely-" + "z" * 20,
                algorithm="HS256",
            ),
            id="wrong-key",
        ),
        pytest.param(
            lambda s: _unsigned({"sub": "a", "exp": int(time.time()) + 60}), id="alg-none"
        ),
        pytest.param(
            lambda s: jwt.encode(
                {"sub": "a", "exp": int(time.time()) + 60}, s.jwt_secret * 2, algorithm="HS512"
            ),
            id="other-alg",
        ),
        pytest.param(lambda s: "not.a.token", id="garbage"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_bad_tokens_are_refused(settings, make):
    with pytest.raises(Unauthorized):
        decode_token(make(settings), settings)


def test_issuer_and_audience_are_checked_when_set(settings):
    strict = settings.with_overrides(jwt_issuer="https://idp", jwt_audience="auctions")
    good = issue_token(strict, sub="alice")
    assert decode_token(good, strict).sub == "alice"
    with pytest.raises(Unauthorized, match="issuer"):
        decode_token(_token(strict, iss="https://evil", aud="auctions"), strict)
    with pytest.raises(Unauthorized, match="audience"):
        decode_token(_token(strict, iss="https://idp", aud="other"), strict)
    with pytest.raises(Unauthorized):
        decode_token(_token(strict), strict)


def test_token_command_prints_a_token_the_server_accepts(settings, monkeypatch):
    env = {
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        "STRIPE_PUBLISHABLE_KEY": settings.stripe_publishable_key,
        "STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
        "JWT_SECRET": JWT_SECRET,
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "token",
            "--sub",
            "bob",
            "--role",
            "admin",
            "--email",
            "bob@example.com",
            "--ttl",
            "120",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    identity = decode_token(out, settings)
    assert (identity.sub, identity.role, identity.email) == ("bob", "admin", "bob@example.com")
    claims = jwt.decode(out, JWT_SECRET, algorithms=["HS256"])
    assert 110 <= claims["exp"] - time.time() <= 121


async def test_socket_connect_with_a_good_token_joins_the_user_room(server):
    client = await server.socket("alice")
    assert client.sio.connected


async def test_anonymous_watchers_may_connect(server):
    client = await server.socket(None)
    assert client.sio.connected


async def _refusal(server, auth):
    client = socketio.AsyncClient(reconnection=False)
    refusals = []
    client.on("connect_error", lambda data: refusals.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
    assert not client.connected
    assert len(refusals) == 1
    return refusals[0]


@pytest.mark.parametrize("auth", [{"token": "garbage"}, {"token": ""}, {"token": 5}, "token"])
async def test_socket_connect_with_a_bad_token_is_refused(server, auth):
    refusal = await _refusal(server, auth)
    assert refusal["code"] == "unauthorized"
    assert refusal["message"]


async def test_socket_connect_with_an_expired_token_is_refused(server, settings):
    refusal = await _refusal(server, {"token": _token(settings, exp=int(time.time()) - 60)})
    assert (refusal["code"], refusal["message"]) == ("unauthorized", "Token has expired")
    assert refusal["data"]["code"] == "unauthorized"
