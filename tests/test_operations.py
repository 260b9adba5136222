"""What operators configure and read: LOG_LEVEL, the access log, /metrics access, --version."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.__main__ import main
from server.settings import Settings, SettingsError
from tests.conftest import METRICS_AUTH, METRICS_TOKEN, WEBHOOK_SECRET
from tests.support.processes import ProcessGroup
from tests.support.services import free_port

REQUIRED = {
    "STRIPE_SECRET_KEY": "sk_test_" + "x" * 20,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "x" * 20,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "x" * 20,
    "JWT_SECRET": "j" * 32,
}


# --- settings -----------------------------------------------------------------------------


def test_operations_settings_are_read_and_default_to_private_metrics():
    defaults = Settings.from_env(REQUIRED)
    assert (defaults.log_level, defaults.metrics_token, defaults.metrics_port) == (
        "INFO",
        None,
        None,
    )
    s = Settings.from_env(
        {
            **REQUIRED,
            "LOG_LEVEL": "warning",
            "METRICS_TOKEN": "t" * 20,
            "METRICS_PORT": "9100",
            "METRICS_HOST": "10.0.0.5",
        }
    )
    assert (s.log_level, s.metrics_token, s.metrics_port, s.metrics_host) == (
        "WARNING",
        "t" * 20,
        9100,
        "10.0.0.5",
    )


@pytest.mark.parametrize(
    ("name", "value", "extra"),
    [
        ("LOG_LEVEL", "loud", {}),
        ("METRICS_TOKEN", "short", {}),
        ("METRICS_TOKEN", "changeme", {}),
        ("METRICS_PORT", "0", {}),
        ("METRICS_PORT", "nine", {}),
        ("METRICS_PORT", "8080", {"PORT": "8080"}),
        ("METRICS_PORT", "9100", {"WORKERS": "2", "REDIS_URL": "redis://127.0.0.1:6379/0"}),
    ],
)
def test_a_bad_operations_setting_names_itself(name, value, extra):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, **extra, name: value})
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_redis_url_without_the_redis_package_says_what_to_install(monkeypatch):
    Settings.from_env({**REQUIRED, "REDIS_URL": "redis://127.0.0.1:6379/0"})  # installed: fine
    monkeypatch.setitem(sys.modules, "redis", None)  # as if it were not installed
    assert Settings.from_env(REQUIRED).redis_url is None  # not needed without REDIS_URL
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**REQUIRED, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert str(info.value).startswith("REDIS_URL is set but the redis package is not installed")
    assert "auction-payment-server[redis]" in str(info.value)


def test_version_prints_the_installed_distribution(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    from importlib.metadata import version

    assert (
        capsys.readouterr().out.strip()
        == f"auction-payment-server {version('auction-payment-server')}"
    )


# --- /metrics -----------------------------------------------------------------------------


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.text()


async def test_metrics_are_not_public_by_default(start_server):
    server = await start_server(metrics_token=None)
    status, body = await _get(server.url + "/metrics")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"


async def test_metrics_want_the_bearer_token(start_server):
    server = await start_server()  # the suite's settings carry METRICS_TOKEN
    refused = (
        None,
        {"Authorization": "Bearer wrong-token-xxxxxxxxxxxx"},
        {"Authorization": METRICS_TOKEN},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
    )
    for headers in refused:
        status, body = await _get(server.url + "/metrics", headers)
        assert status == 401, headers
        assert json.loads(body)["error"]["code"] == "unauthorized"
        assert "auction_" not in body
    status, body = await _get(server.url + "/metrics", METRICS_AUTH)
    assert status == 200
    assert "auction_bids_accepted_total" in body


async def test_dev_mode_serves_metrics_without_a_token(start_server):
    server = await start_server(metrics_token=None, dev_mode=True)
    status, body = await _get(server.url + "/metrics")
    assert status == 200 and "auction_sockets_connected" in body


async def test_metrics_port_is_a_separate_listener(start_server):
    port = free_port()
    server = await start_server(metrics_token=None, metrics_port=port)
    status, _ = await _get(server.url + "/metrics")
    assert status == 404  # no longer on the public port
    status, body = await _get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and "auction_sockets_connected" in body
    for path in ("/", "/healthz", "/api/lots"):
        status, _ = await _get(f"http://127.0.0.1:{port}{path}")
        assert status == 404, path


async def test_metrics_port_with_a_token_wants_it_there(start_server):
    port = free_port()
    await start_server(metrics_port=port)
    assert (await _get(f"http://127.0.0.1:{port}/metrics"))[0] == 401
    assert (await _get(f"http://127.0.0.1:{port}/metrics", METRICS_AUTH))[0] == 200


# --- the access log -----------------------------------------------------------------------


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.bound: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        from server.core.logging import correlation

        self.records.append(record)
        self.bound.append(correlation())


@pytest.fixture
def access_log() -> Iterator[Capture]:
    capture = Capture()
    logger = logging.getLogger("server.access")
    previous = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(previous)


async def test_one_access_line_per_request_without_query_or_token(server, access_log):
    secret = "eyJsecret.query.token"
    async with aiohttp.ClientSession() as http:
        async with http.get(
            server.url + f"/api/lots?token={secret}&limit=5",
            headers={"X-Request-Id": "req-123", "Authorization": f"Bearer {secret}"},
        ) as response:
            assert response.status == 200
        async with http.get(server.url + "/no/such/page?x=1") as response:
            assert response.status == 404
            missing_id = response.headers["X-Request-Id"]
    lines = [(r.getMessage(), b) for r, b in zip(access_log.records, access_log.bound, strict=True)]
    assert len(lines) == 2, lines
    (first, first_ids), (second, second_ids) = lines
    assert first.startswith("GET /api/lots 200 ") and first.endswith(" req-123")
    assert {k: first_ids[k] for k in ("method", "path", "status", "request_id")} == {
        "method": "GET",
        "path": "/api/lots",
        "status": 200,
        "request_id": "req-123",
    }
    assert isinstance(first_ids["duration_ms"], float) and first_ids["duration_ms"] >= 0
    assert second.startswith("GET /no/such/page 404 ")
    assert second_ids["request_id"] == missing_id
    everything = repr(lines)
    assert secret not in everything and "token=" not in everything and "limit" not in everything


# --- LOG_LEVEL in a real process ----------------------------------------------------------


async def test_log_level_decides_whether_the_access_log_is_written(
    test_database, localstripe, settings, make_token, db, tmp_path: Path
):
    base = {
        "DATABASE_URL": test_database.url,
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        "STRIPE_PUBLISHABLE_KEY": settings.stripe_publishable_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "JWT_SECRET": settings.jwt_secret,
    }
    group = ProcessGroup(base, tmp_path, make_token)
    try:
        quiet, chatty = await group.start(1, LOG_LEVEL="WARNING") + await group.start(
            1, LOG_LEVEL="INFO"
        )
        for process in (quiet, chatty):
            status, _ = await _get(process.url + "/healthz?probe=1", {"X-Request-Id": "hc-1"})
            assert status == 200
        await group.stop_all()
        assert not [e for e in quiet.log_entries() if e["logger"] == "server.access"]
        assert not [e for e in quiet.log_entries() if e["level"] == "info"]
        access = [e for e in chatty.log_entries() if e.get("path") == "/healthz"]
        assert len(access) == 1, chatty.log()
        assert access[0]["request_id"] == "hc-1" and access[0]["status"] == 200
        assert access[0]["logger"] == "server.access" and "probe" not in json.dumps(access[0])
    finally:
        await group.stop_all()
