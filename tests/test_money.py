"""Money is integers in minor units: premium rounding and totals, per currency (hypothesis)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auctions.rules import standard_increment
from server.core.currencies import CURRENCIES as SUPPORTED
from server.core.money import (
    THREE_DECIMAL,
    ZERO_DECIMAL,
    chargeable_step,
    decimals,
    format_amount,
    payment_breakdown,
    round_half_up,
)

CURRENCIES = sorted(SUPPORTED)
amounts = st.integers(min_value=1, max_value=10**13)
bps = st.integers(min_value=0, max_value=100_000)
currencies = st.sampled_from(CURRENCIES)


def _chargeable(hammer: int, currency: str) -> int:
    step = chargeable_step(currency)
    return hammer - hammer % step or step


@given(hammer=amounts, premium_bps=bps, currency=currencies)
def test_the_premium_is_the_exact_share_rounded_half_up_to_the_step(hammer, premium_bps, currency):
    hammer = _chargeable(hammer, currency)
    breakdown = payment_breakdown(hammer, premium_bps, currency)
    step = chargeable_step(currency)
    exact = Fraction(hammer * premium_bps, 10_000)
    assert isinstance(breakdown.premium, int) and isinstance(breakdown.total, int)
    assert breakdown.premium % step == 0
    assert abs(Fraction(breakdown.premium) - exact) <= Fraction(step, 2)
    # Half-up: a tie goes up, anything below half goes down.
    below = breakdown.premium - step
    assert Fraction(below) + Fraction(step, 2) <= exact or below < 0
    assert breakdown.total == hammer + breakdown.premium
    assert breakdown.total >= hammer > 0
    assert breakdown.total % step == 0


@given(
    numerator=st.integers(min_value=0, max_value=10**18),
    denominator=st.integers(min_value=1, max_value=10**6),
    step=st.sampled_from([1, 10]),
)
def test_round_half_up_matches_exact_arithmetic(numerator, denominator, step):
    result = round_half_up(numerator, denominator, step)
    exact = Fraction(numerator, denominator * step)
    floor = exact.numerator // exact.denominator
    expected = floor + (1 if exact - floor >= Fraction(1, 2) else 0)
    assert result == expected * step


@pytest.mark.parametrize(
    ("hammer", "bps", "currency", "premium"),
    [
        (12345, 1500, "usd", 1852),  # 1851.75 -> 1852
        (10, 500, "usd", 1),  # 0.5 -> 1 (half up)
        (9, 500, "usd", 0),  # 0.45 -> 0
        (500, 1250, "jpy", 63),  # 62.5 -> 63 yen
        (1000, 1250, "kwd", 130),  # 125 fils -> 130 (multiples of 10)
        (1000, 1240, "kwd", 120),  # 124 -> 120
        (0 + 10, 0, "kwd", 0),
    ],
)
def test_known_premiums(hammer, bps, currency, premium):
    assert payment_breakdown(hammer, bps, currency).premium == premium


def test_minor_units_per_currency():
    assert decimals("usd") == 2 and decimals("jpy") == 0 and decimals("kwd") == 3
    assert all(decimals(c) == 0 for c in ZERO_DECIMAL)
    assert all(chargeable_step(c) == 10 for c in THREE_DECIMAL)
    assert format_amount(12345, "usd") == "123.45 USD"
    assert format_amount(500, "jpy") == "500 JPY"
    assert format_amount(1230, "kwd") == "1.230 KWD"
    assert format_amount(123456789, "usd") == "1,234,567.89 USD"


@given(current=amounts, currency=currencies)
def test_standard_increments_are_positive_and_chargeable(current, currency):
    increment = standard_increment(current, currency)
    assert increment > 0
    assert increment % chargeable_step(currency) == 0


def test_negative_amounts_are_refused():
    with pytest.raises(ValueError):
        round_half_up(-1, 100)
