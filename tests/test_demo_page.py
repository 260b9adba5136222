"""The demo page's server side: the page, its files, its config and the dev login."""

from __future__ import annotations

import jwt
import pytest

from server.core.errors import NotFound
from server.settings import STRIPE_JS_DEFAULT as REAL_STRIPE_JS
from server.web.demo import demo_config
from server.web.pages import (
    STATIC_DIR,
    content_security_policy,
    static_file,
)
from tests.conftest import JWT_SECRET


async def test_the_page_is_served_with_a_policy_that_keeps_card_data_away(server, localstripe):
    async with server.http.get(server.url + "/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        body = await response.text()
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-cache"
    assert '<script type="module" src="/static/js/catalogue.js">' in body
    assert '<script defer src="/vendor/socket.io.min.js">' in body
    assert f"script-src 'self' {localstripe.url}" in policy
    assert f"connect-src 'self' {localstripe.url}" in policy
    assert "form-action 'none'" in policy


async def test_static_files_are_served_and_nothing_outside_them(server):
    async with server.http.get(server.url + "/static/js/money.js") as response:
        assert response.status == 200
        assert "javascript" in response.content_type
        assert "export function formatMoney" in await response.text()
    for path in ("/static/../settings.py", "/static/%2e%2e/settings.py", "/static/js/nope.js"):
        status, body = await server.request("GET", path)
        assert status == 404, path
        assert body["error"]["code"] == "not_found"


def test_static_paths_cannot_escape_or_reach_hidden_files(tmp_path):
    (tmp_path / "ok.js").write_text("1")
    (tmp_path / ".secret").write_text("2")
    assert static_file(tmp_path, "ok.js") == (tmp_path / "ok.js").resolve()
    for relative in ("../ok.js", ".secret", "", "sub/../../x", "/etc/passwd"):
        with pytest.raises(NotFound):
            static_file(tmp_path, relative)
    assert static_file(STATIC_DIR, "index.html").name == "index.html"


async def test_the_socketio_client_is_served_from_the_package(server):
    async with server.http.get(server.url + "/vendor/socket.io.min.js") as response:
        assert response.status == 200
        assert "javascript" in response.content_type
        assert "Socket.IO v4" in (await response.text())[:200]
    async with server.http.get(server.url + "/vendor/socket.io.min.js.map") as response:
        assert response.status == 200
    for name in ("package.json", "LICENSE", "..%2Fapp.css"):
        status, body = await server.request("GET", f"/vendor/{name}")
        assert (status, body["error"]["code"]) == (404, "not_found"), name


async def test_the_config_points_the_page_at_the_stripe_stand_in(server, localstripe):
    status, config = await server.request("GET", "/api/demo/config")
    assert status == 200
    assert config["stripe"] == {
        "publishable_key": server.context.settings.stripe_publishable_key,
        "js_url": f"{localstripe.url}/js.stripe.com/v3/",
        "stand_in": True,
        "api_base": localstripe.url,
    }
    assert "jpy" in config["currencies"]["zero_decimal"]
    assert "kwd" in config["currencies"]["three_decimal"]
    assert config["dev_mode"] is False and config["demo_users"] == []
    assert config["desk_users"] == []


def test_without_a_stand_in_the_page_uses_stripe_js_and_stripe_origins(settings):
    real = settings.with_overrides(
        stripe_api_base=None, stripe_js_url=REAL_STRIPE_JS, dev_mode=True
    )
    config = demo_config(real)
    assert config["stripe"]["js_url"] == REAL_STRIPE_JS == "https://js.stripe.com/v3/"
    assert config["stripe"]["stand_in"] is False and config["stripe"]["api_base"] is None
    assert [user["sub"] for user in config["demo_users"]] == ["alice", "bob", "carol"]
    assert [(user["sub"], user["role"]) for user in config["desk_users"]] == [
        ("sam", "seller"),
        ("root", "admin"),
    ]
    policy = content_security_policy(real)
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "connect-src 'self' https://api.stripe.com;" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com;" in policy


async def test_dev_login_does_not_exist_outside_dev_mode(server, db):
    status, body = await server.request("POST", "/api/dev/login", json={"sub": "alice"})
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_dev_login_mints_a_token_for_a_demo_user(start_server, db):
    server = await start_server(dev_mode=True)
    status, body = await server.request("POST", "/api/dev/login", json={"sub": "alice"})
    assert status == 200
    assert body["user"] == {"sub": "alice", "role": "bidder", "name": "Alice"}
    claims = jwt.decode(body["token"], JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"]) == ("alice", "bidder")
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    # The token is accepted like any other.
    headers = {"Authorization": f"Bearer {body['token']}"}
    status, payments = await server.request("GET", "/api/payments/my-payments", headers=headers)
    assert (status, payments["items"]) == (200, [])
    status, body = await server.request("POST", "/api/dev/login", json={"sub": "sam"})
    assert body["user"]["role"] == "seller"
    status, body = await server.request("POST", "/api/dev/login", json={"sub": "dora"})
    assert body["user"] == {"sub": "dora", "role": "bidder", "name": "dora"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "'sub' is required"),
        ({"sub": 7}, "'sub' must be a string"),
        ({"sub": "a" * 65}, "'sub' must be at most 64 characters"),
        ({"sub": "<script>"}, "'sub' must be letters, digits"),
        ({"sub": "alice", "role": "admin"}, "'role' is not a field of this request"),
    ],
)
async def test_dev_login_refuses_bad_names(start_server, db, payload, message):
    server = await start_server(dev_mode=True)
    status, body = await server.request("POST", "/api/dev/login", json=payload)
    assert (status, body["error"]["code"]) == (400, "validation_error")
    assert body["error"]["message"].startswith(message)


def test_the_page_loads_stripe_js_from_stripe_js_url_not_the_servers_api_base(settings):
    # Inside compose the server reaches the stand-in by its container name; browsers cannot.
    compose = settings.with_overrides(
        stripe_api_base="http://localstripe:8420",
        stripe_js_url="http://localhost:8420/js.stripe.com/v3/",
    )
    stripe = demo_config(compose)["stripe"]
    assert stripe["js_url"] == "http://localhost:8420/js.stripe.com/v3/"
    assert stripe["api_base"] == "http://localhost:8420" and stripe["stand_in"] is True
    policy = content_security_policy(compose)
    assert "script-src 'self' http://localhost:8420;" in policy
    assert "localstripe" not in policy


@pytest.mark.parametrize(
    ("path", "shell"),
    [
        ("/", "index.html"),
        ("/lots/7", "lot.html"),
        ("/account", "account.html"),
        ("/seller", "seller.html"),
        ("/admin", "admin.html"),
    ],
)
async def test_every_page_serves_its_shell_with_the_page_policy(server, path, shell):
    async with server.http.get(server.url + path) as response:
        assert response.status == 200, path
        assert response.content_type == "text/html"
        body = await response.text()
        assert response.headers["Cache-Control"] == "no-cache"
        assert "form-action 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert body == (STATIC_DIR / shell).read_text()


async def test_a_lot_page_needs_an_id_that_can_name_a_lot(server):
    for path in ("/lots/abc", "/lots/0", "/lots/99999999999999999999", "/lots/"):
        status, body = await server.request("GET", path)
        assert (status, body["error"]["code"]) == (404, "not_found"), path
