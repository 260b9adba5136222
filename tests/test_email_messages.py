"""What the outbox e-mails say: amounts per currency, the breakdown, and no secrets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.core.logging import redact
from server.notifications import messages

AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
# A JPY amount must never show decimals, e.g. "1,500.00 JPY".
JPY_WITH_DECIMALS = re.compile(r"\d\.\d+ JPY")


def no_secrets(content: messages.EmailContent) -> bool:
    text = content.subject + content.body
    return redact(text) == text and "secret" not in text.lower() and "pi_" not in text


def test_payment_required_in_usd_shows_the_breakdown_and_deadline():
    content = messages.payment_required(
        lot_title="Brass telescope",
        currency="usd",
        hammer=12345,
        premium=1235,
        total=13580,
        expires_at=AT,
    )
    assert content.subject == 'Payment due for "Brass telescope": 135.80 USD'
    assert "Hammer price:    123.45 USD" in content.body
    assert "Buyer's premium:  12.35 USD" in content.body
    assert "Total due:       135.80 USD" in content.body
    assert "by 2030-01-02 03:04:05 UTC" in content.body
    assert no_secrets(content)


def test_payment_required_in_jpy_has_no_decimals():
    content = messages.payment_required(
        lot_title="Tea bowl",
        currency="jpy",
        hammer=150000,
        premium=15000,
        total=165000,
        expires_at=AT.astimezone(timezone(timedelta(hours=9))),
    )
    assert "150,000 JPY" in content.body
    assert "15,000 JPY" in content.body
    assert content.subject.endswith(": 165,000 JPY")
    assert not JPY_WITH_DECIMALS.search(content.subject + content.body)
    assert "2030-01-02 03:04:05 UTC" in content.body  # shown in UTC whatever the zone
    assert no_secrets(content)


@pytest.mark.parametrize(
    ("currency", "hammer", "premium", "total", "shown"),
    [
        ("usd", 100000, 10000, 110000, ["1,000.00 USD", "100.00 USD", "1,100.00 USD"]),
        ("jpy", 500, 50, 550, ["500 JPY", "50 JPY", "550 JPY"]),
    ],
)
def test_receipt_shows_amounts_card_and_date(currency, hammer, premium, total, shown):
    content = messages.receipt(
        receipt_number="R-000042",
        lot_title="Tea bowl",
        currency=currency,
        hammer=hammer,
        premium=premium,
        total=total,
        card_brand="visa",
        card_last4="4242",
        paid_at=AT,
    )
    assert content.subject == 'Receipt R-000042 for "Tea bowl"'
    for amount in shown:
        assert amount in content.body
    assert f"Currency:  {currency.upper()}" in content.body
    assert "Paid with Visa ending in 4242." in content.body
    assert "Date:      2030-01-02 03:04:05 UTC" in content.body
    assert not JPY_WITH_DECIMALS.search(content.body)
    assert no_secrets(content)


def test_receipt_shows_only_the_last_four_digits_of_a_card():
    content = messages.receipt(
        receipt_number="R-1",
        lot_title="Lamp",
        currency="usd",
        hammer=100,
        premium=0,
        total=100,
        card_brand="mastercard",
        card_last4="5555555555554444",
        paid_at=AT,
    )
    assert "5555" not in content.body
    assert "Paid with Mastercard." in content.body
    unknown = messages.receipt(
        receipt_number="R-2",
        lot_title="Lamp",
        currency="usd",
        hammer=100,
        premium=0,
        total=100,
        card_brand=None,
        card_last4=None,
        paid_at=AT,
    )
    assert "Paid with" not in unknown.body


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        ("window_elapsed", "The time allowed to pay for it has run out."),
        ("attempts_exhausted", "The payment was declined too many times."),
    ],
)
def test_payment_expired_names_the_reason(reason, sentence):
    content = messages.payment_expired(lot_title="Tea bowl", reason=reason)
    assert content.subject == 'Payment window closed for "Tea bowl"'
    assert sentence in content.body
    assert "not been charged" in content.body
    assert no_secrets(content)


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("usd", ["12.00 USD", "10.50 USD", "13.00 USD"]),
        ("jpy", ["1,200 JPY", "1,050 JPY", "1,300 JPY"]),
    ],
)
def test_outbid_shows_new_amount_your_amount_and_minimum(currency, expected):
    # The same minor-unit integers read as cents in usd and as whole yen in jpy.
    content = messages.outbid(
        lot_title="Tea bowl",
        currency=currency,
        new_amount=1200,
        your_amount=1050,
        min_next_bid=1300,
    )
    assert content.subject == 'You have been outbid on "Tea bowl"'
    new, yours, minimum = expected
    assert f"Highest bid now:  {new}" in content.body
    assert f"Your bid:         {yours}" in content.body
    assert f"Minimum next bid: {minimum}" in content.body
    assert not JPY_WITH_DECIMALS.search(content.body)
    assert no_secrets(content)


def test_a_seller_title_cannot_break_the_subject_line():
    content = messages.outbid(
        lot_title="Clock\r\nBcc: everyone@example.org\n" + "x" * 200,
        currency="usd",
        new_amount=200,
        your_amount=100,
        min_next_bid=300,
    )
    assert "\n" not in content.subject and "\r" not in content.subject
    assert 'outbid on "Clock Bcc: everyone@example.org x' in content.subject
    assert len(content.subject) < 120


def test_builders_refuse_an_inconsistent_breakdown_or_a_naive_time():
    with pytest.raises(ValueError, match="hammer \\+ premium"):
        messages.payment_required(
            lot_title="x", currency="usd", hammer=100, premium=10, total=100, expires_at=AT
        )
    with pytest.raises(ValueError, match="timezone"):
        messages.payment_required(
            lot_title="x",
            currency="usd",
            hammer=100,
            premium=10,
            total=110,
            expires_at=AT.replace(tzinfo=None),
        )


def test_three_decimal_currencies_show_three_places():
    content = messages.payment_required(
        lot_title="Dallah", currency="kwd", hammer=12340, premium=1230, total=13570, expires_at=AT
    )
    assert "12.340 KWD" in content.body and "13.570 KWD" in content.body


def test_a_receipt_for_an_automatic_charge_says_the_card_on_file_was_charged():
    subject, body = messages.receipt(
        receipt_number="R2026-00000007",
        lot_title="Clock",
        currency="usd",
        hammer=5000,
        premium=500,
        total=5500,
        card_brand="visa",
        card_last4="4242",
        paid_at=datetime(2026, 12, 6, 8, 0, tzinfo=UTC),
        charged_automatically=True,
    )
    assert subject == 'We charged your card for "Clock": 55.00 USD'
    assert body.startswith(
        'You won "Clock", and we charged your card on file (Visa ending in 4242): '
        "there is nothing more to do."
    )
    assert "Receipt R2026-00000007" in body and "55.00 USD" in body


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        ("authentication_required", "Your bank asks you to confirm this payment yourself"),
        ("card_declined", "Your card on file could not be charged."),
    ],
)
def test_action_needed_says_why_and_links_to_the_payment(reason, sentence):
    subject, body = messages.payment_action_needed(
        lot_title="Clock",
        currency="usd",
        hammer=5000,
        premium=500,
        total=5500,
        expires_at=datetime(2026, 12, 6, 8, 10, tzinfo=UTC),
        reason=reason,
        pay_url="https://auction.example/lots/7",
    )
    assert subject == 'Action needed: pay for "Clock" (55.00 USD)'
    assert sentence in body
    assert "https://auction.example/lots/7" in body
    assert "2026-12-06 08:10:00 UTC" in body and "55.00 USD" in body
