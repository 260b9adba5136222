"""Money as integers in the currency's minor unit, the way Stripe counts it.

`usd` 12345 is $123.45, `jpy` 500 is ¥500, `kwd` 1230 is 1.230 KD. No floats.
"""

from __future__ import annotations

from dataclasses import dataclass

ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def is_currency_code(code: object) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 3
        and code.isascii()
        and code.isalpha()
        and (code == code.lower())
    )


def decimals(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def chargeable_step(currency: str) -> int:
    """The smallest amount, in minor units, that Stripe will charge in steps of.

    Three-decimal currencies must be charged in multiples of 10 minor units.
    """
    return 10 if currency in THREE_DECIMAL else 1


def round_half_up(numerator: int, denominator: int, step: int = 1) -> int:
    """`numerator / denominator` rounded half-up to a multiple of `step`; exact integers."""
    if denominator <= 0 or step <= 0:
        raise ValueError("denominator and step must be positive")
    if numerator < 0:
        raise ValueError("amounts are never negative")
    unit = denominator * step
    return ((2 * numerator + unit) // (2 * unit)) * step


@dataclass(frozen=True, slots=True)
class Breakdown:
    hammer: int
    premium: int
    total: int

    def as_dict(self) -> dict[str, int]:
        return {"hammer": self.hammer, "premium": self.premium, "total": self.total}


def buyer_premium(hammer: int, premium_bps: int, currency: str) -> int:
    return round_half_up(hammer * premium_bps, 10_000, chargeable_step(currency))


def payment_breakdown(hammer: int, premium_bps: int, currency: str) -> Breakdown:
    premium = buyer_premium(hammer, premium_bps, currency)
    return Breakdown(hammer=hammer, premium=premium, total=hammer + premium)


def format_amount(amount: int, currency: str) -> str:
    """Human text for an amount: `format_amount(12345, "usd") == "123.45 USD"`."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if places == 0:
        text = f"{amount:,}"
    else:
        whole, frac = divmod(amount, 10**places)
        text = f"{whole:,}.{frac:0{places}d}"
    return f"{sign}{text} {currency.upper()}"


def is_chargeable(amount: int, currency: str) -> bool:
    return amount > 0 and amount % chargeable_step(currency) == 0
