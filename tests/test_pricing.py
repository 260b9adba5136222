"""Invoice pricing (server.sales.pricing): premium and tax per line, totals, rounding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.core.money import CURRENCIES, chargeable_step
from server.sales.pricing import LinePrice, Rates, allocate_newest_first, price_line, totals


def rates(currency="usd", premium_bps=0, tax_rate_bps=0, tax_on="premium") -> Rates:
    return Rates(currency, premium_bps, tax_rate_bps, tax_on)


def test_premium_and_tax_on_the_premium():
    # $1,000.00 at 25 % premium = $250.00; 20 % tax on the premium = $50.00.
    line = price_line(100_000, rates(premium_bps=2500, tax_rate_bps=2000))
    assert (line.hammer, line.premium, line.tax, line.total) == (100_000, 25_000, 5_000, 130_000)


@pytest.mark.parametrize(
    ("tax_on", "tax"),
    [("premium", 5_000), ("hammer", 20_000), ("both", 25_000)],
)
def test_the_house_chooses_what_is_taxed(tax_on, tax):
    line = price_line(100_000, rates(premium_bps=2500, tax_rate_bps=2000, tax_on=tax_on))
    assert line.tax == tax


def test_no_tax_by_default():
    assert price_line(12_345, rates(premium_bps=1000)).tax == 0


def test_halves_round_up_in_cents():
    # 1.25 % of $10.00 is 12.5 cents: 13. 10 % tax on 13 cents is 1.3: 1.
    line = price_line(1_000, rates(premium_bps=125, tax_rate_bps=1000))
    assert (line.premium, line.tax) == (13, 1)


def test_zero_decimal_currency_rounds_to_whole_yen():
    # ¥1,234 at 12.5 %: 154.25 → ¥154; 10 % tax on that: 15.4 → ¥15; on both: 138.8 → ¥139.
    line = price_line(1_234, rates("jpy", premium_bps=1250, tax_rate_bps=1000))
    assert (line.premium, line.tax) == (154, 15)
    both = price_line(1_234, rates("jpy", premium_bps=1250, tax_rate_bps=1000, tax_on="both"))
    assert both.tax == 139


def test_three_decimal_currency_rounds_to_tens_of_fils():
    # 12.340 KD at 15 %: 1.851 → 1.850 (Stripe charges kwd in steps of 10);
    # 5 % tax on hammer and premium (14.190): 0.7095 → 0.710.
    line = price_line(12_340, rates("kwd", premium_bps=1500, tax_rate_bps=500, tax_on="both"))
    assert (line.premium, line.tax, line.total) == (1_850, 710, 14_900)
    # Exactly half a step goes up: 0.005 KD of premium becomes 0.010.
    assert price_line(1_000, rates("kwd", premium_bps=50)).premium == 10


def test_totals_are_the_sums_of_the_lines():
    lines = [LinePrice(1000, 250, 50), LinePrice(2000, 500, 100), LinePrice(7, 2, 0)]
    summed = totals(lines)
    assert summed.as_dict() == {"hammer": 3007, "premium": 752, "tax": 150, "total": 3909}
    assert totals([]).as_dict() == {"hammer": 0, "premium": 0, "tax": 0, "total": 0}


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="tax_on"):
        price_line(1000, rates(tax_on="everything"))
    with pytest.raises(ValueError, match="positive"):
        price_line(0, rates())


@given(
    currency=st.sampled_from(sorted(CURRENCIES)),
    hammers=st.lists(st.integers(1, 10**9), min_size=1, max_size=12),
    premium_bps=st.integers(0, 100_000),
    tax_rate_bps=st.integers(0, 100_000),
    tax_on=st.sampled_from(["premium", "hammer", "both"]),
)
def test_every_line_is_chargeable_and_the_totals_agree(
    currency, hammers, premium_bps, tax_rate_bps, tax_on
):
    step = chargeable_step(currency)
    terms = rates(currency, premium_bps, tax_rate_bps, tax_on)
    lines = [price_line(hammer * step, terms) for hammer in hammers]
    for line in lines:
        assert line.premium % step == 0 and line.tax % step == 0
        assert line.premium >= 0 and line.tax >= 0
        # Rounded half-up: within half a step of the exact amount.
        exact_premium = line.hammer * premium_bps / 10_000
        assert abs(line.premium - exact_premium) <= step / 2
    summed = totals(lines)
    assert summed.total == sum(line.total for line in lines)
    assert summed.total == summed.hammer + summed.premium + summed.tax


def test_a_refund_goes_to_the_newest_lines_first():
    rooms = [(1, 1_000), (2, 500), (3, 300)]
    assert allocate_newest_first(200, rooms) == [(3, 200)]
    assert allocate_newest_first(700, rooms) == [(3, 300), (2, 400)]
    assert allocate_newest_first(1_800, rooms) == [(3, 300), (2, 500), (1, 1_000)]
    # A line with no room left (returned, or refunded already) is passed over.
    assert allocate_newest_first(400, [(1, 1_000), (2, 0), (3, 100)]) == [(3, 100), (1, 300)]
    assert allocate_newest_first(0, rooms) == []
    with pytest.raises(ValueError, match="does not fit"):
        allocate_newest_first(1_801, rooms)


@given(
    rooms=st.lists(st.integers(0, 10_000), min_size=1, max_size=10),
    share=st.floats(0, 1),
)
def test_an_allocation_fills_lines_in_order_and_adds_up(rooms, share):
    lines = list(enumerate(rooms, start=1))
    amount = int(sum(rooms) * share)
    parts = allocate_newest_first(amount, lines)
    assert sum(part for _, part in parts) == amount
    room = dict(lines)
    assert all(0 < part <= room[line_id] for line_id, part in parts)
    # Every line but the oldest one touched is filled to the brim.
    for line_id, part in parts[:-1]:
        assert part == room[line_id]
    touched = [line_id for line_id, _ in parts]
    assert touched == sorted(touched, reverse=True)
