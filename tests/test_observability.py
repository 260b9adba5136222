"""What operators see: structured logs with correlation ids and no secrets, and /metrics."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from server.core.logging import JsonFormatter
from tests.conftest import JWT_SECRET, METRICS_AUTH, WEBHOOK_SECRET
from tests.support import stripe as fake_browser
from tests.support.factories import bid, create_lot
from tests.support.sales import connect, sold_lot, won_lot
from tests.support.services import wait_for

JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class Capture(logging.Handler):
    """Every record, raw and as our JsonFormatter writes it (at emit time, in its context)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.raw: list[str] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.raw.append(record.getMessage())
        self.lines.append(self.format(record))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def logs() -> Iterator[Capture]:
    root = logging.getLogger()
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


async def test_a_bid_logs_with_its_sid_and_lot_id(server, logs):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    assert (await alice.call("place_bid", bid(lot["id"], 5)))["error"]["code"] == "bid_too_low"
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]

    lines = [e for e in logs.entries() if e["msg"].startswith("socket event place_bid")]
    assert [e["msg"] for e in lines] == [
        "socket event place_bid: refused with bid_too_low",
        "socket event place_bid: ok",
    ]
    for entry in lines:
        assert entry["sid"] == alice.sio.get_sid("/")
        assert entry["lot_id"] == lot["id"]
        assert entry["level"] == "debug" and entry["logger"] == "server.realtime.namespace"
        assert isinstance(entry["pid"], int) and entry["ts"].endswith("+00:00")


async def test_webhooks_log_their_event_and_payment(server, localstripe, logs):
    _lot, info, _alice = await sold_lot(server, localstripe.url)
    applied = [
        e for e in logs.entries() if e["msg"] == "stripe event payment_intent.succeeded: applied"
    ]
    assert len(applied) == 1
    assert applied[0]["stripe_event_id"].startswith("evt_")
    assert str(applied[0]["payment_id"]) == str(info["payment_id"])


async def test_no_secret_reaches_the_logs_during_a_whole_sale(start_server, localstripe, logs):
    server = await start_server(payment_window_seconds=3)
    # One sale paid (after a decline), one left to expire to the next bidder.
    alice = await connect(server, "alice", email="alice@example.com")
    _lot, info, _ = await won_lot(server, buyer=alice)
    status, _ = await fake_browser.confirm_card(localstripe.url, info, fake_browser.CARD_DECLINED)
    assert status == 402
    await alice.wait_for("payment_failed", timeout=10)
    await fake_browser.confirm_card(localstripe.url, info)
    await alice.wait_for("payment_succeeded", timeout=10)
    headers = server.headers("alice")
    for path in (
        f"/api/payments/{info['payment_id']}",
        f"/api/payments/{info['payment_id']}/receipt",
    ):
        status, _ = await server.request("GET", path, headers=headers)
        assert status == 200
    status, _ = await server.request(
        "GET", "/api/payments/my-payments", headers={"Authorization": "Bearer eyJbad.eyJbad.bad"}
    )
    assert status == 401
    bob = await connect(server, "bob")
    _second, second_info, _ = await won_lot(server, buyer=bob, title="Second")
    await bob.wait_for("payment_expired", timeout=8)

    secrets = {
        "client secret": info["client_secret"],
        "second client secret": second_info["client_secret"],
        "Stripe secret key": server.context.settings.stripe_secret_key,
        "webhook secret": WEBHOOK_SECRET,
        "JWT secret": JWT_SECRET,
        "bearer token": headers["Authorization"].removeprefix("Bearer "),
    }
    written = "\n".join(logs.lines)
    assert len(logs.lines) > 50, "the flow logged almost nothing; the capture is broken"
    for name, value in secrets.items():
        assert value not in written, f"the {name} reached the logs"
    assert not JWT_SHAPE.search(written)
    # Stripe's own debug lines did carry the client secret: the formatter is what stopped it.
    assert any(info["client_secret"] in line for line in logs.raw)
    # Our own code never puts one in a message in the first place.
    ours = [e for e in logs.entries() if e["logger"].startswith("server")]
    assert ours and not any("[redacted]" in e["msg"] for e in ours)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_after_a_small_flow(start_server, localstripe, db):
    server = await start_server(anti_sniping_window_seconds=0)
    watcher = await server.socket(None)
    _lot, _info, alice = await sold_lot(server, localstripe.url)  # one accepted bid, paid
    closing = await create_lot(server, starting_price=1000, ends_in=600, title="Closing")
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(closing["id"], 1000)))["ok"]
    assert (await alice.call("place_bid", bid(closing["id"], 1001)))["error"][
        "code"
    ] == "bid_too_low"
    malformed = await alice.call("place_bid", {"lot_id": closing["id"], "amount": 2000})
    assert malformed["error"]["code"] == "validation_error"  # no request_id
    async with db.engine.begin() as conn:  # due now: the scheduler's sweep closes it
        await conn.execute(
            text(
                "UPDATE lots SET starts_at = now() - interval '1 hour', "
                "ends_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": closing["id"]},
        )
    await bob.wait_for("payment_required", timeout=10)  # closed by the scheduler
    status, _ = await fake_browser.deliver(server, b"{}", secret="whsec_wrong_secret")
    assert status == 400

    async def scrape() -> dict[Any, float]:
        status, text = await server.request("GET", "/metrics", headers=METRICS_AUTH)
        assert status == 200
        return samples(text)

    metrics = await scrape()
    assert metrics[("auction_bids_accepted_total", ())] == 2
    assert metrics[("auction_bids_refused_total", (("code", "bid_too_low"),))] == 1
    assert metrics[("auction_bids_refused_total", (("code", "validation_error"),))] == 1
    assert metrics[("auction_bid_latency_seconds_count", ())] == 4
    assert 0 < metrics[("auction_bid_latency_seconds_sum", ())] < 10
    assert metrics[("auction_sockets_connected", ())] == 3  # watcher, alice, bob
    assert metrics[("auction_payments", (("status", "SUCCEEDED"),))] == 1
    assert metrics[("auction_payments", (("status", "REQUIRES_PAYMENT"),))] == 1
    assert metrics[("auction_payments", (("status", "EXPIRED"),))] == 0
    succeeded = (("outcome", "applied"), ("type", "payment_intent.succeeded"))
    assert metrics[("auction_webhook_events_total", succeeded)] == 1
    rejected = (("outcome", "rejected"), ("type", "unknown"))
    assert metrics[("auction_webhook_events_total", rejected)] == 1
    close_lag = metrics[("auction_scheduler_lag_seconds_count", (("job", "close"),))]
    assert close_lag == 1
    assert 0 <= metrics[("auction_scheduler_lag_seconds_sum", (("job", "close"),))] < 5

    await watcher.disconnect()
    await wait_for(lambda: _connected(server) == 2)
    assert (await scrape())[("auction_sockets_connected", ())] == 2


def _connected(server: Any) -> float:
    return server.context.metrics.sockets_connected._value.get()


async def test_websockets_decline_per_message_deflate(server):
    """Browsers offer deflate; it costs ~100 KiB per idle socket (docs/OPERATIONS.md)."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            f"{server.url}/socket.io/?EIO=4&transport=websocket", compress=15
        )
        try:
            assert "Sec-WebSocket-Extensions" not in ws._response.headers
            assert ws.compress == 0
            assert (await ws.receive_str()).startswith("0{")
        finally:
            await ws.close()
