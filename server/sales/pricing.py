"""What a per_sale invoice charges: each line's premium and tax, and the totals. Pure.

The premium is the sale's `buyer_premium_bps` of the hammer; the tax is
`TAX_RATE_BPS` of the premium, the hammer or both (`TAX_ON`). Each is rounded
half-up to the currency's chargeable step (`server.core.money`) on its own
line, so a line's amounts are each chargeable, and the invoice's totals are
the sums of its lines: lines and totals always agree, to the minor unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.core.money import buyer_premium, chargeable_step, round_half_up

TAX_BASES = ("premium", "hammer", "both")


@dataclass(frozen=True, slots=True)
class Rates:
    """The rates an invoice prices its lines with (fixed when it is opened)."""

    currency: str
    premium_bps: int
    tax_rate_bps: int
    tax_on: str


@dataclass(frozen=True, slots=True)
class LinePrice:
    hammer: int
    premium: int
    tax: int

    @property
    def total(self) -> int:
        return self.hammer + self.premium + self.tax


@dataclass(frozen=True, slots=True)
class Totals:
    hammer: int
    premium: int
    tax: int
    total: int

    def as_dict(self) -> dict[str, int]:
        return {
            "hammer": self.hammer,
            "premium": self.premium,
            "tax": self.tax,
            "total": self.total,
        }


def tax_on(hammer: int, premium: int, rates: Rates) -> int:
    """The tax on one line: `tax_rate_bps` of its taxed base, rounded half-up to the step."""
    if rates.tax_on not in TAX_BASES:
        raise ValueError(f"tax_on must be one of {TAX_BASES}, not {rates.tax_on!r}")
    base = {"premium": premium, "hammer": hammer, "both": hammer + premium}[rates.tax_on]
    return round_half_up(base * rates.tax_rate_bps, 10_000, chargeable_step(rates.currency))


def price_line(hammer: int, rates: Rates) -> LinePrice:
    """A won lot's line: its hammer, the premium on it, and the tax."""
    if hammer <= 0:
        raise ValueError("a hammer price is positive")
    premium = buyer_premium(hammer, rates.premium_bps, rates.currency)
    return LinePrice(hammer=hammer, premium=premium, tax=tax_on(hammer, premium, rates))


def totals(lines: Iterable[LinePrice]) -> Totals:
    """The invoice's totals: the sums of its lines."""
    hammer = premium = tax = 0
    for line in lines:
        hammer += line.hammer
        premium += line.premium
        tax += line.tax
    return Totals(hammer=hammer, premium=premium, tax=tax, total=hammer + premium + tax)


def allocate_newest_first(amount: int, rooms: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spread `amount` over lines `(line_id, room)`, the newest line (highest id) first.

    Each line takes what room it has left before the next older one takes any.
    Returns `(line_id, part)` for the lines that take something; raises when the
    lines have too little room for all of it.
    """
    if amount < 0:
        raise ValueError("a refund is never negative")
    parts: list[tuple[int, int]] = []
    left = amount
    for line_id, room in sorted(rooms, key=lambda item: item[0], reverse=True):
        if left == 0:
            break
        part = min(left, max(room, 0))
        if part:
            parts.append((line_id, part))
            left -= part
    if left:
        raise ValueError(f"{left} of the refund does not fit on the invoice's lines")
    return parts
