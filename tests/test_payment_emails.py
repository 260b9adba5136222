"""E-mails about payments and bids, delivered end to end to a real SMTP server.

The whole path runs: the state change writes the outbox row in its own
transaction, the outbox job sends it over SMTP to aiosmtpd, and we read what
arrived.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from server.notifications.models import OutboxMessage
from tests.support.factories import bid, create_lot
from tests.support.sales import connect, pay, won_lot
from tests.support.services import wait_for
from tests.support.smtp import Received, SmtpSink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


async def _mail(sink: SmtpSink, to: str, subject_start: str, timeout: float = 10) -> Received:
    def arrived() -> list[Received]:
        return [
            message
            for message in sink.messages()
            if to in message.rcpt_tos and message.subject.startswith(subject_start)
        ]

    [message] = await wait_for(arrived, timeout=timeout)
    return message


def _deadline(info: dict) -> str:
    return datetime.fromisoformat(info["expires_at"]).strftime("%Y-%m-%d %H:%M:%S UTC")


def _assert_no_secrets(sink: SmtpSink) -> None:
    everything = json.dumps([[m.subject, m.body] for m in sink.messages()])
    assert "_secret_" not in everything and "sk_test" not in everything
    assert "4242424242424242" not in everything


@pytest.mark.parametrize(
    ("currency", "hammer", "shown"),
    [
        ("usd", 10_000, {"hammer": "100.00 USD", "premium": "10.00 USD", "total": "110.00 USD"}),
        ("jpy", 50_000, {"hammer": "50,000 JPY", "premium": "5,000 JPY", "total": "55,000 JPY"}),
    ],
)
async def test_the_winner_is_mailed_the_amount_due_then_the_receipt(
    start_server, localstripe, smtp, currency, hammer, shown
):
    server = await start_server(smtp_url=smtp.url, buyer_premium_bps=1000)
    alice = await connect(server, "alice", email="alice@example.com")
    _lot, info, _ = await won_lot(
        server, buyer=alice, amount=hammer, currency=currency, title="Brass telescope"
    )

    due = await _mail(smtp, "alice@example.com", "Payment due")
    assert due.subject == f'Payment due for "Brass telescope": {shown["total"]}'
    for amount in shown.values():
        assert amount in due.body
    assert f"Please pay by {_deadline(info)}" in due.body
    if currency == "jpy":
        assert ".00 JPY" not in due.body

    await pay(localstripe.url, info, alice)
    _, receipt = await server.request(
        "GET", f"/api/payments/{info['payment_id']}/receipt", as_user="alice"
    )
    mailed = await _mail(smtp, "alice@example.com", "Receipt")
    assert mailed.subject == f'Receipt {receipt["receipt_number"]} for "Brass telescope"'
    for amount in shown.values():
        assert amount in mailed.body
    assert "Visa ending in 4242" in mailed.body
    assert [m.rcpt_tos for m in smtp.messages()] == [["alice@example.com"]] * 2
    _assert_no_secrets(smtp)


async def test_a_lapsed_window_is_mailed_to_the_buyer(start_server, smtp):
    server = await start_server(smtp_url=smtp.url, payment_window_seconds=1, expiry_policy="unsold")
    alice = await connect(server, "alice", email="alice@example.com")
    _lot, _info, _ = await won_lot(server, buyer=alice, title="Oak bureau")
    expired = await _mail(smtp, "alice@example.com", "Payment window closed")
    assert expired.subject == 'Payment window closed for "Oak bureau"'
    assert "The time allowed to pay for it has run out." in expired.body
    assert "You have not been charged." in expired.body


async def test_the_outbid_bidder_is_mailed_once_per_outbid(start_server, db, smtp):
    server = await start_server(smtp_url=smtp.url)
    lot = await create_lot(server, title="Ship in a bottle", starting_price=1000, bid_increment=100)
    alice = await connect(server, "alice", email="alice@example.com")
    bob = await connect(server, "bob", email="bob@example.com")
    carol = await server.socket("carol")  # no address: never mailed
    assert (await alice.call("place_bid", bid(lot["id"], 1000)))["ok"]
    assert (await bob.call("place_bid", bid(lot["id"], 1500)))["ok"]
    assert (await carol.call("place_bid", bid(lot["id"], 2000)))["ok"]
    assert (await alice.call("place_bid", bid(lot["id"], 2500)))["ok"]

    to_alice = await _mail(smtp, "alice@example.com", "You have been outbid")
    assert to_alice.subject == 'You have been outbid on "Ship in a bottle"'
    assert "Highest bid now:  15.00 USD" in to_alice.body
    assert "Your bid:         10.00 USD" in to_alice.body
    assert "Minimum next bid: 16.00 USD" in to_alice.body
    to_bob = await _mail(smtp, "bob@example.com", "You have been outbid")
    assert "Highest bid now:  20.00 USD" in to_bob.body
    # Carol was outbid too but has no address: the bids queued exactly two e-mails.
    async with db.sessions() as session:
        queued = (
            await session.execute(
                select(OutboxMessage.topic, OutboxMessage.recipient_id).order_by(OutboxMessage.id)
            )
        ).all()
    assert queued == [("outbid", "alice"), ("outbid", "bob")]
