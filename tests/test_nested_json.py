"""JSON nested too deeply is a `validation_error`, wherever it comes in (issue 18 item 4).

The standard library's parser recurses per bracket; fifty thousand of them
used to raise RecursionError: a 500 on HTTP, a webhook Stripe would redeliver
for days, a Socket.IO event never answered. `server.core.safejson` measures
the nesting first. Each test checks the answer and that nothing changed.
"""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from server.auctions.models import Lot
from server.core.safejson import MAX_DEPTH, nesting_exceeds
from tests.conftest import WEBHOOK_SECRET
from tests.support import stripe as fake_stripe
from tests.support.factories import bid, create_lot
from tests.support.raw_socketio import RawSocket

DEEP_ARRAYS = "[" * 50_000 + "]" * 50_000
DEEP_OBJECTS = '{"a":' * 20_000 + "1" + "}" * 20_000
#: Under the 64 KB Socket.IO buffer: still far too deep for the parser's recursion.
DEEP_FOR_SOCKETS = "[" * 30_000 + "]" * 30_000
DEEP_OBJECTS_FOR_SOCKETS = '{"a":' * 10_000 + "1" + "}" * 10_000


def _lot_body(deep: str) -> str:
    return '{"title": "x", "currency": "usd", "starting_price": 100, "extra": ' + deep + "}"


@pytest.mark.parametrize("deep", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize(
    ("path", "role", "wrap"),
    [
        ("/api/lots", "seller", _lot_body),
        ("/api/payments/create-intent", "bidder", lambda deep: deep),
        ("/api/payments/1/refund", "admin", lambda deep: '{"amount": ' + deep + "}"),
    ],
)
async def test_a_deep_http_body_is_a_validation_error(server, db, caplog, deep, path, role, wrap):
    caplog.set_level(logging.WARNING)
    status, body = await server.request(
        "POST",
        path,
        as_user="pat",
        role=role,
        data=wrap(deep),
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["error"]["code"]) == (400, "validation_error"), body
    assert "nested too deeply" in body["error"]["message"]
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Lot)) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("deep", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
async def test_a_signed_webhook_nested_too_deeply_is_refused(server, caplog, deep):
    caplog.set_level(logging.WARNING)
    event = fake_stripe.event("payment_intent.succeeded", {"id": "pi_x", "object": "x"})
    payload = json.dumps(event)[:-1] + ', "extra": ' + deep + "}"
    status, body = await fake_stripe.deliver(server, payload.encode(), secret=WEBHOOK_SECRET)
    assert (status, body["error"]["code"]) == (400, "validation_error"), body
    assert "nested too deeply" in body["error"]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    metrics = server.context.metrics.render().decode()
    assert 'auction_webhook_events_total{outcome="rejected",type="unknown"} 1.0' in metrics


@pytest.mark.parametrize(
    "deep", [DEEP_FOR_SOCKETS, DEEP_OBJECTS_FOR_SOCKETS], ids=["arrays", "objects"]
)
async def test_a_deep_socket_event_gets_an_error_ack(server, caplog, deep):
    caplog.set_level(logging.WARNING)
    lot = await create_lot(server)
    raw, connected = await RawSocket.connect(server.url)
    try:
        assert connected.startswith("40{"), connected
        for event in ("place_bid", "join_lot", "no_such_event"):
            ack = await raw.call_raw(event, deep)
            assert ack["ok"] is False, ack
            assert ack["error"]["code"] == "validation_error"
            assert "nested too deeply" in ack["error"]["message"]
        # The connection is still good for ordinary events.
        joined = await raw.call_raw("join_lot", json.dumps({"lot_id": lot["id"]}))
        assert joined["ok"] is True, joined
    finally:
        await raw.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_deep_bid_changes_nothing(server, db):
    lot = await create_lot(server)
    raw, _ = await RawSocket.connect(server.url, json.dumps({"token": server.make_token("ann")}))
    try:
        payload = json.dumps(bid(lot["id"], 1000))[:-1] + ', "x": ' + DEEP_FOR_SOCKETS + "}"
        ack = await raw.call_raw("place_bid", payload)
        assert ack["error"]["code"] == "validation_error"
    finally:
        await raw.close()
    status, current = await server.request("GET", f"/api/lots/{lot['id']}")
    assert (status, current["bid_count"]) == (200, 0)


async def test_a_connect_with_deep_auth_is_refused(server):
    raw, answer = await RawSocket.connect(server.url, DEEP_FOR_SOCKETS)
    try:
        assert answer.startswith("44"), answer  # CONNECT_ERROR
        assert json.loads(answer[2:])["code"] == "unauthorized"
    finally:
        await raw.close()


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, False),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), True),
        ("[1," * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1), True),
        ('{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), True),
        ('["' + "[{" * 5000 + '"]', False),  # brackets inside a string do not count
        ('["\\"' + "[" * 5000 + '"]', False),  # nor after an escaped quote
        ("[" + ",".join(["[]"] * 5000) + "]", False),  # wide, not deep
        ("[" * 5000, True),  # never closed
        (("[" * 50 + "]" * 50 + ",") * 200, False),
    ],
)
def test_nesting_is_measured_outside_strings(text, too_deep):
    assert nesting_exceeds(text) is too_deep
    assert nesting_exceeds(text.encode()) is too_deep
