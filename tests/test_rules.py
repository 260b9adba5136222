"""The bidding rules (server/auctions/rules.py) and the currency table, called directly.

Pure functions of a lot's state: every branch of `refuse_bid`, the anti-sniping
rule (it only ever moves the end later), the standard increments, the lot
price checks, and property tests of the chargeable limits over the whole table.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auctions.rules import (
    LotState,
    extended_end,
    min_next_bid,
    refuse_bid,
    standard_increment,
)
from server.core.currencies import CURRENCIES, DOCUMENTED_MINIMUMS, THREE_DECIMAL, ZERO_DECIMAL
from server.core.money import (
    buyer_premium,
    display_amount,
    lot_price_problems,
    max_hammer,
    min_hammer,
    price_problem,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
OPEN = LotState(
    status="OPEN",
    seller_id="sam",
    currency="usd",
    starting_price=1000,
    bid_increment=None,
    current_bid=None,
    high_bidder_id=None,
    ends_at=NOW + timedelta(hours=1),
)


def _refusal(state: LotState = OPEN, **overrides: object) -> str | None:
    arguments: dict[str, object] = {
        "bidder_id": "alice",
        "amount": 1000,
        "strikes": 0,
        "strike_limit": 2,
        "premium_bps": 0,
        "now": NOW,
    } | overrides
    error = refuse_bid(state, **arguments)  # type: ignore[arg-type]
    return None if error is None else error.code


# --- min_next_bid and refuse_bid --------------------------------------------------------------


def test_the_first_bid_may_be_the_starting_price_and_not_a_unit_less():
    assert min_next_bid(OPEN) == 1000
    assert _refusal(amount=1000) is None
    assert _refusal(amount=999) == "bid_too_low"


def test_later_bids_need_the_lot_increment_or_the_standard_one():
    held = replace(OPEN, current_bid=1000, high_bidder_id="bob")
    assert min_next_bid(held) == 1000 + standard_increment(1000, "usd") == 1100
    assert _refusal(held, amount=1099) == "bid_too_low"
    assert _refusal(held, amount=1100) is None
    own = replace(held, bid_increment=250)
    assert min_next_bid(own) == 1250
    assert _refusal(own, amount=1249) == "bid_too_low"
    assert _refusal(own, amount=1250) is None


def test_bid_too_low_names_the_minimum():
    error = refuse_bid(
        replace(OPEN, current_bid=1000, high_bidder_id="bob"),
        bidder_id="alice",
        amount=1000,
        strikes=0,
        strike_limit=2,
        premium_bps=0,
        now=NOW,
    )
    assert error is not None and error.details == {"min_next_bid": 1100}


@pytest.mark.parametrize(
    ("state", "overrides", "code"),
    [
        (replace(OPEN, status="SCHEDULED"), {}, "lot_not_open"),
        (replace(OPEN, status="PENDING_PAYMENT"), {}, "lot_locked"),
        (replace(OPEN, status="SOLD"), {}, "auction_ended"),
        (OPEN, {"now": OPEN.ends_at}, "auction_ended"),
        (OPEN, {"bidder_id": "sam"}, "own_lot"),
        (OPEN, {"strikes": 2}, "bidder_suspended"),
        (
            replace(OPEN, current_bid=1000, high_bidder_id="alice"),
            {"amount": 5000},
            "already_highest",
        ),
        (replace(OPEN, currency="kwd", starting_price=1000), {"amount": 1005}, "validation_error"),
        (OPEN, {"amount": 100_000_000}, "amount_too_large"),
    ],
)
def test_each_refusal_has_its_code(state, overrides, code):
    assert _refusal(state, **overrides) == code


def test_the_largest_chargeable_bid_counts_the_premium():
    assert _refusal(amount=99_999_999) is None
    limit = max_hammer("usd", 1500)
    assert _refusal(amount=limit, premium_bps=1500) is None
    assert _refusal(amount=limit + 1, premium_bps=1500) == "amount_too_large"
    error = refuse_bid(
        OPEN,
        bidder_id="alice",
        amount=100_000_000,
        strikes=0,
        strike_limit=2,
        premium_bps=0,
        now=NOW,
    )
    assert error is not None and "$999,999.99" in error.message


def test_a_lot_in_a_currency_outside_the_table_is_left_to_stripe():
    legacy = replace(OPEN, currency="xyz")
    assert _refusal(legacy, amount=10**12) is None


# --- anti-sniping -------------------------------------------------------------------------------


def test_a_bid_inside_the_window_pushes_the_end_to_now_plus_the_extension():
    ends = NOW + timedelta(seconds=30)
    assert extended_end(ends, NOW, window_seconds=60, extension_seconds=60) == NOW + timedelta(
        seconds=60
    )


def test_the_rule_never_moves_the_end_earlier():
    ends = NOW + timedelta(seconds=50)
    assert extended_end(ends, NOW, window_seconds=60, extension_seconds=10) is None
    assert extended_end(ends, NOW, window_seconds=60, extension_seconds=50) is None


@given(
    remaining=st.integers(min_value=0, max_value=10_000),
    window=st.integers(min_value=0, max_value=10_000),
    extension=st.integers(min_value=0, max_value=10_000),
)
def test_an_extension_is_later_than_the_end_and_only_inside_the_window(
    remaining, window, extension
):
    ends = NOW + timedelta(seconds=remaining)
    new_end = extended_end(ends, NOW, window_seconds=window, extension_seconds=extension)
    if new_end is not None:
        assert new_end > ends
        assert new_end == NOW + timedelta(seconds=extension)
        assert remaining <= window


def test_outside_the_window_or_disabled_nothing_moves():
    ends = NOW + timedelta(seconds=61)
    assert extended_end(ends, NOW, window_seconds=60, extension_seconds=60) is None
    near = NOW + timedelta(seconds=5)
    assert extended_end(near, NOW, window_seconds=0, extension_seconds=60) is None
    assert extended_end(near, NOW, window_seconds=60, extension_seconds=0) is None


# --- increments and lot prices ------------------------------------------------------------------


def test_standard_increments_grow_with_the_price_and_respect_the_step():
    assert standard_increment(50, "usd") == 5
    assert standard_increment(1000, "usd") == 100
    assert standard_increment(2_000_000, "usd") == 50_000
    assert standard_increment(1000, "jpy") == 50
    assert standard_increment(500, "kwd") % 10 == 0
    assert standard_increment(500, "isk") % 100 == 0


def test_lot_prices_are_checked_against_the_table_by_field():
    problems = dict(
        lot_price_problems(
            currency="usd",
            starting_price=49,
            reserve_price=100_000_000,
            bid_increment=None,
            premium_bps=0,
        )
    )
    assert problems["starting_price"].startswith("'starting_price' must be at least $0.50")
    assert "at most $999,999.99" in problems["reserve_price"]
    assert (
        lot_price_problems(
            currency="usd",
            starting_price=50,
            reserve_price=99_999_999,
            bid_increment=1,
            premium_bps=0,
        )
        == []
    )


def test_a_reserve_below_the_start_is_refused():
    problems = lot_price_problems(
        currency="jpy", starting_price=5000, reserve_price=4999, bid_increment=None, premium_bps=0
    )
    assert problems == [
        ("reserve_price", "'reserve_price' must be at least the starting price (¥5,000)")
    ]


def test_a_currency_stripe_does_not_support_is_refused():
    problems = dict(
        lot_price_problems(
            currency="xyz",
            starting_price=100,
            reserve_price=None,
            bid_increment=None,
            premium_bps=0,
        )
    )
    assert set(problems) == {"currency"} and "'xyz'" in problems["currency"]


def test_three_decimal_and_special_steps():
    kwd = dict(
        lot_price_problems(
            currency="kwd", starting_price=1005, reserve_price=None, bid_increment=15, premium_bps=0
        )
    )
    assert set(kwd) == {"starting_price", "bid_increment"}
    assert price_problem(150, "isk") is not None and price_problem(200, "isk") is None
    assert price_problem(99_999_990, "kwd") is None
    assert price_problem(99_999_999, "kwd") is not None


# --- the table, and property tests of the limits ------------------------------------------------


def test_the_table_holds_stripes_facts():
    assert (CURRENCIES["usd"].minimum, CURRENCIES["usd"].maximum) == (50, 99_999_999)
    assert (CURRENCIES["jpy"].decimals, CURRENCIES["jpy"].minimum) == (0, 50)
    assert (CURRENCIES["kwd"].decimals, CURRENCIES["kwd"].step) == (3, 10)
    assert CURRENCIES["kwd"].maximum == 99_999_990
    assert (CURRENCIES["isk"].decimals, CURRENCIES["isk"].step) == (2, 100)
    assert (CURRENCIES["huf"].step, CURRENCIES["twd"].step, CURRENCIES["ugx"].step) == (1, 1, 1)
    assert CURRENCIES["idr"].maximum == 999_999_999_999
    assert CURRENCIES["gbp"].minimum == 30
    assert set(CURRENCIES) >= ZERO_DECIMAL | THREE_DECIMAL
    assert set(DOCUMENTED_MINIMUMS) <= set(CURRENCIES)
    assert "xyz" not in CURRENCIES


def test_messages_show_major_units_per_currency():
    assert display_amount(99_999_999, "usd") == "$999,999.99"
    assert display_amount(50, "jpy") == "¥50"
    assert display_amount(99_999_990, "kwd") == "99,999.990 KWD"


@pytest.mark.parametrize("code", sorted(CURRENCIES))
def test_every_entry_is_consistent(code):
    info = CURRENCIES[code]
    assert info.decimals in (0, 2, 3)
    assert info.minimum % info.step == 0 and info.maximum % info.step == 0
    assert 0 < info.minimum <= info.maximum


currencies = st.sampled_from(sorted(CURRENCIES))
premiums = st.integers(min_value=0, max_value=100_000)


@given(currency=currencies, premium_bps=premiums)
def test_max_and_min_hammer_are_the_exact_chargeable_edges(currency, premium_bps):
    info = CURRENCIES[currency]
    step = info.step

    def total(hammer: int) -> int:
        return hammer + buyer_premium(hammer, premium_bps, currency)

    highest = max_hammer(currency, premium_bps)
    assert highest % step == 0
    assert total(highest) <= info.maximum < total(highest + step)
    lowest = min_hammer(currency, premium_bps)
    assert lowest % step == 0 and lowest >= step
    assert total(lowest) >= info.minimum
    assert lowest == step or total(lowest - step) < info.minimum


@given(currency=currencies, premium_bps=premiums, amount=st.integers(min_value=1, max_value=10**13))
def test_an_accepted_price_is_always_chargeable_with_its_premium(currency, premium_bps, amount):
    info = CURRENCIES[currency]
    problem = price_problem(amount, currency, premium_bps=premium_bps)
    total = amount + buyer_premium(amount, premium_bps, currency)
    chargeable = (
        amount % info.step == 0 and info.minimum <= total <= info.maximum and total % info.step == 0
    )
    assert (problem is None) == chargeable, (problem, total)
