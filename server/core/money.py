"""Money as integers in the currency's minor unit, the way Stripe counts it.

`usd` 12345 is $123.45, `jpy` 500 is ¥500, `kwd` 1230 is 1.230 KD. No floats.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.core.currencies import CURRENCIES, THREE_DECIMAL, ZERO_DECIMAL, currency_info

#: The table's names are re-exported: callers use money for every amount question.
__all__ = [
    "CURRENCIES",
    "SYMBOLS",
    "THREE_DECIMAL",
    "ZERO_DECIMAL",
    "AmountProblem",
    "Breakdown",
    "buyer_premium",
    "chargeable_step",
    "decimals",
    "display_amount",
    "format_amount",
    "is_supported_currency",
    "lot_price_problems",
    "max_hammer",
    "min_hammer",
    "payment_breakdown",
    "price_problem",
    "round_half_up",
]

#: Symbols for the currencies whose symbol is unambiguous; others show their code.
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def is_supported_currency(code: object) -> bool:
    """A currency Stripe can charge in (see `server.core.currencies`)."""
    return isinstance(code, str) and code in CURRENCIES


def decimals(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit, as Stripe counts it."""
    info = currency_info(currency)
    return info.decimals if info is not None else 2


def chargeable_step(currency: str) -> int:
    """The smallest amount, in minor units, that Stripe will charge in steps of.

    Three-decimal currencies are charged in multiples of 10 minor units, ISK in
    whole krónur (100); the table in `server.core.currencies` says which.
    """
    info = currency_info(currency)
    return info.step if info is not None else 1


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


def display_amount(amount: int, currency: str) -> str:
    """An amount for messages: `$999,999.99`, `¥50`, `99,999.990 KWD`."""
    symbol = SYMBOLS.get(currency)
    if symbol is None or amount < 0:
        return format_amount(amount, currency)
    return symbol + format_amount(amount, currency).rsplit(" ", 1)[0]


def _total(hammer: int, premium_bps: int, currency: str) -> int:
    return hammer + buyer_premium(hammer, premium_bps, currency)


def max_hammer(currency: str, premium_bps: int = 0) -> int:
    """The highest price whose total with the buyer's premium Stripe will still charge."""
    info = CURRENCIES[currency]
    step = info.step
    hammer = info.maximum * 10_000 // (10_000 + premium_bps)
    hammer -= hammer % step
    while _total(hammer + step, premium_bps, currency) <= info.maximum:
        hammer += step
    while hammer > 0 and _total(hammer, premium_bps, currency) > info.maximum:
        hammer -= step
    return hammer


def min_hammer(currency: str, premium_bps: int = 0) -> int:
    """The lowest price whose total with the buyer's premium reaches Stripe's minimum charge."""
    info = CURRENCIES[currency]
    step = info.step
    hammer = -(-info.minimum * 10_000 // (10_000 + premium_bps))
    hammer += -hammer % step
    while hammer > step and _total(hammer - step, premium_bps, currency) >= info.minimum:
        hammer -= step
    while _total(hammer, premium_bps, currency) < info.minimum:
        hammer += step
    return max(hammer, step)


@dataclass(frozen=True, slots=True)
class AmountProblem:
    """Why Stripe could not charge an amount: `kind` is `step`, `too_small` or `too_large`."""

    kind: str
    message: str


def price_problem(amount: int, currency: str, *, premium_bps: int = 0) -> AmountProblem | None:
    """Whether a price (a hammer to be) can be charged with its premium, else why not.

    The message reads after the amount's name: "must be at most $999,999.99 (...)".
    The currency must be in the table (`is_supported_currency`).
    """
    step = chargeable_step(currency)
    if amount <= 0 or amount % step:
        return AmountProblem(
            "step",
            f"must be a positive multiple of {step} in {currency}"
            f" ({display_amount(step, currency)})",
        )
    code = currency.upper()
    lowest = min_hammer(currency, premium_bps)
    if amount < lowest:
        floor = display_amount(CURRENCIES[currency].minimum, currency)
        why = (
            f"so that the total with the buyer's premium reaches Stripe's minimum charge of {floor}"
            if premium_bps
            else f"Stripe's minimum charge in {code}"
        )
        return AmountProblem(
            "too_small", f"must be at least {display_amount(lowest, currency)} ({why})"
        )
    highest = max_hammer(currency, premium_bps)
    if amount > highest:
        ceiling = display_amount(CURRENCIES[currency].maximum, currency)
        why = (
            f"so that the total with the buyer's premium stays within Stripe's maximum charge"
            f" of {ceiling}"
            if premium_bps
            else f"Stripe's maximum charge in {code}"
        )
        return AmountProblem(
            "too_large", f"must be at most {display_amount(highest, currency)} ({why})"
        )
    return None


def lot_price_problems(
    *,
    currency: str,
    starting_price: int | None,
    reserve_price: int | None,
    bid_increment: int | None,
    premium_bps: int,
) -> list[tuple[str, str]]:
    """Why a new lot's prices could not end in a charge Stripe accepts: (field, message).

    Each price is a possible hammer, so its total with the buyer's premium must
    be chargeable; the reserve may not be below the starting price. Empty when
    all is well. Prices that failed to parse are passed as None and skipped.
    Each message is a whole sentence naming its field, as `server.contract.base` reports.
    Here rather than in `server.auctions.rules` so the contract models can call it
    without importing the auctions package (and its handlers).
    """
    if not is_supported_currency(currency):
        return [
            (
                "currency",
                f"'currency' must be one Stripe charges in, such as 'usd'; not {currency!r}",
            )
        ]
    problems: list[tuple[str, str]] = []
    for name, value in (("starting_price", starting_price), ("reserve_price", reserve_price)):
        problem = None if value is None else price_problem(value, currency, premium_bps=premium_bps)
        if problem is not None:
            problems.append((name, f"'{name}' {problem.message}"))
    if bid_increment is not None:
        step = chargeable_step(currency)
        maximum = max_hammer(currency, premium_bps)
        if bid_increment % step:
            problems.append(
                (
                    "bid_increment",
                    f"'bid_increment' must be a multiple of {step} in {currency}"
                    f" ({display_amount(step, currency)})",
                )
            )
        elif bid_increment > maximum:
            ceiling = display_amount(maximum, currency)
            problems.append(("bid_increment", f"'bid_increment' must be at most {ceiling}"))
    reserve_ok = all(name != "reserve_price" for name, _ in problems)
    if (
        starting_price is not None
        and reserve_price is not None
        and reserve_ok
        and reserve_price < starting_price
    ):
        problems.append(
            (
                "reserve_price",
                f"'reserve_price' must be at least the starting price"
                f" ({display_amount(starting_price, currency)})",
            )
        )
    return problems
