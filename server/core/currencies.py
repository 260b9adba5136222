"""The currencies Stripe can charge in, and the amounts it accepts in each.

Source: Stripe's "Supported currencies" page, https://docs.stripe.com/currencies
(sections "Supported presentment currencies", "Zero-decimal currencies",
"Three-decimal currencies", "Special cases" and "Minimum and maximum charge
amounts"), Stripe's API reference for `PaymentIntent.amount` ("The minimum
amount is $0.50 US or equivalent in charge currency. The amount value supports
up to eight digits (e.g., a value of 99999999 for a USD charge of
$999,999.99)"), and Stripe's support note "Deprecation of fractional ISK
charges and refunds" (https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds).
Looked up 2026-12-02.

What the table says, currency by currency:

- `decimals`: digits of the minor unit *as Stripe's API counts it*. Zero-decimal
  currencies (jpy, krw, ...) have none; bhd jod kwd omr tnd have three; all
  others two. ISK keeps two in the API although the króna is charged whole.
- `step`: charges must be a multiple of this many minor units. Three-decimal
  currencies: 10 (Stripe needs the last digit 0). ISK: 100 (whole krónur,
  enforced by Stripe since 2023-04-14). HUF and TWD are zero-decimal only for
  payouts; charges may carry two decimals, so their step stays 1. UGX is in
  Stripe's zero-decimal list, so its step is 1 whole shilling.
- `minimum`: Stripe's documented minimum charge for the currencies its table
  lists (USD 0.50, GBP 0.30, JPY 50, ...). Stripe states these per settlement
  currency and refuses other presentment currencies below the equivalent of
  USD 0.50 after conversion; without exchange rates we cannot check that, so
  for currencies outside Stripe's table the minimum is one chargeable step.
- `maximum`: eight digits of minor units (99,999,999), rounded down to the
  step; IDR allows twelve digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    decimals: int
    step: int
    minimum: int
    maximum: int


def _codes(listing: str) -> frozenset[str]:
    return frozenset(listing.split())


ZERO_DECIMAL = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
THREE_DECIMAL = _codes("bhd jod kwd omr tnd")

#: Stripe's supported presentment currencies (card payments), lowercase ISO 4217.
PRESENTMENT = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob
    brl bsd bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb
    eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod
    jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt
    mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln
    pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd
    top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """
)

#: Stripe's "Minimum and maximum charge amounts" table, in minor units.
DOCUMENTED_MINIMUMS: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}

#: Steps other than the decimals imply (Stripe's "Special cases").
SPECIAL_STEPS: dict[str, int] = {"isk": 100}

MAXIMUM_DIGITS: dict[str, int] = {"idr": 12}


def _entry(code: str) -> Currency:
    decimals = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    step = SPECIAL_STEPS.get(code, 10 if decimals == 3 else 1)
    ceiling = 10 ** MAXIMUM_DIGITS.get(code, 8) - 1
    return Currency(
        code=code,
        decimals=decimals,
        step=step,
        minimum=max(step, DOCUMENTED_MINIMUMS.get(code, step)),
        maximum=ceiling - ceiling % step,
    )


#: Every currency a lot may be priced in.
CURRENCIES: MappingProxyType[str, Currency] = MappingProxyType(
    {code: _entry(code) for code in sorted(PRESENTMENT)}
)


def currency_info(code: str) -> Currency | None:
    return CURRENCIES.get(code)
