"""What the e-mails say: one builder per topic, plain values in, `(subject, body)` out.

Builders take no ORM objects and no secrets: amounts are integers in the
currency's minor unit (shown with `format_amount`, so `jpy` has no decimals),
times are timezone-aware and shown in UTC, a card is its brand and last four
digits only. Lot titles come from sellers, so they are folded onto one line
and shortened before they reach a subject header.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import NamedTuple

from server.core.money import format_amount

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_TITLE_LIMIT = 80
_FOOTER = (
    "\n\n-- \nThis message was sent automatically by the auction house; replies are not read.\n"
)
_EXPIRY_REASONS = {
    "window_elapsed": "The time allowed to pay for it has run out.",
    "attempts_exhausted": "The payment was declined too many times.",
}
_ACTION_REASONS = {
    "authentication_required": "Your bank asks you to confirm this payment yourself (3-D Secure).",
    "card_declined": "Your card on file could not be charged.",
}
_CARD_BRANDS = {
    "amex": "American Express",
    "cartes_bancaires": "Cartes Bancaires",
    "diners": "Diners Club",
    "discover": "Discover",
    "eftpos_au": "eftpos",
    "interac": "Interac",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


class EmailContent(NamedTuple):
    subject: str
    body: str


def payment_required(
    *,
    lot_title: str,
    currency: str,
    hammer: int,
    premium: int,
    total: int,
    expires_at: datetime,
    tax: int = 0,
) -> EmailContent:
    """To the winner, when the hammer falls (or the lot is offered to them).

    `tax`: a per_sale invoice's tax (its total is hammer + premium + tax).
    """
    _check_total(hammer, premium, total, tax)
    title = _title(lot_title)
    deadline = _when(expires_at)
    body = (
        f'You are the winning bidder for "{title}".\n\n'
        f"{_breakdown(currency, hammer, premium, total, total_label='Total due', tax=tax)}\n\n"
        f"Please pay by {deadline}. Sign in to the auction to pay with your card.\n"
        "If the payment is not completed in time, the lot may be offered to another "
        "bidder and the missed payment counts against your account."
    )
    subject = f'Payment due for "{title}": {format_amount(total, currency)}'
    return EmailContent(subject, body + _FOOTER)


def receipt(
    *,
    receipt_number: str,
    lot_title: str,
    currency: str,
    hammer: int,
    premium: int,
    total: int,
    card_brand: str | None,
    card_last4: str | None,
    paid_at: datetime,
    charged_automatically: bool = False,
    tax: int = 0,
) -> EmailContent:
    """To the buyer, once the payment has succeeded.

    `charged_automatically`: the card on file was charged at the hammer, with no
    action from the buyer; the e-mail says so first. `tax`: a per_sale invoice's tax.
    """
    _check_total(hammer, premium, total, tax)
    title = _title(lot_title)
    number = _one_line(receipt_number)
    card = _card(card_brand, card_last4)
    lines = [f"Thank you for your purchase. Receipt {number}"]
    if charged_automatically:
        lines = [
            f'You won "{title}", and we charged your card on file'
            f"{' (' + card + ')' if card else ''}: there is nothing more to do.",
            "",
            f"Receipt {number}",
        ]
    lines += [
        "",
        f"Lot:       {title}",
        f"Date:      {_when(paid_at)}",
        f"Currency:  {currency.upper()}",
        "",
        _breakdown(currency, hammer, premium, total, total_label="Total paid", tax=tax),
    ]
    if card:
        lines += ["", f"Paid with {card}."]
    subject = f'Receipt {number} for "{title}"'
    if charged_automatically:
        subject = f'We charged your card for "{title}": {format_amount(total, currency)}'
    return EmailContent(subject, "\n".join(lines) + _FOOTER)


def payment_action_needed(
    *,
    lot_title: str,
    currency: str,
    hammer: int,
    premium: int,
    total: int,
    expires_at: datetime,
    reason: str,
    pay_url: str,
    tax: int = 0,
) -> EmailContent:
    """To a winner whose card on file could not be charged at the hammer: pay by hand.

    `reason` is `authentication_required` or `card_declined` (`payment_required.reason`).
    """
    _check_total(hammer, premium, total, tax)
    title = _title(lot_title)
    why = _ACTION_REASONS.get(reason, "Your card on file could not be charged.")
    body = (
        f'You are the winning bidder for "{title}". {why}\n\n'
        f"{_breakdown(currency, hammer, premium, total, total_label='Total due', tax=tax)}\n\n"
        f"Please complete the payment by {_when(expires_at)}:\n{_one_line(pay_url)}\n\n"
        "If the payment is not completed in time, the lot may be offered to another "
        "bidder and the missed payment counts against your account."
    )
    subject = f'Action needed: pay for "{title}" ({format_amount(total, currency)})'
    return EmailContent(subject, body + _FOOTER)


def invoice_by_bank_transfer(
    *,
    lot_title: str,
    currency: str,
    hammer: int,
    premium: int,
    tax: int,
    total: int,
    card_limit: int | None,
) -> EmailContent:
    """To a buyer whose invoice is more than one card payment can be: pay by bank transfer.

    `card_limit`: the largest card payment in the currency, when that is why (else
    the payment provider refused the amount as too large).
    """
    _check_total(hammer, premium, total, tax)
    name = _title(lot_title)
    limit = f" (at most {format_amount(card_limit, currency)})" if card_limit is not None else ""
    body = (
        f'Your invoice for "{name}" is ready.\n\n'
        f"{_breakdown(currency, hammer, premium, total, total_label='Total due', tax=tax)}\n\n"
        f"This total is more than can be paid by card in one payment{limit}, so please "
        "pay it by bank transfer. The auction house will contact you with its bank details "
        "and the reference to quote. Your lots are held for you until the money arrives; "
        "no card payment is needed."
    )
    subject = f'Invoice for "{name}": {format_amount(total, currency)}, by bank transfer'
    return EmailContent(subject, body + _FOOTER)


def payment_expired(*, lot_title: str, reason: str) -> EmailContent:
    """To the buyer whose payment window closed without a payment.

    `reason` is `window_elapsed` or `attempts_exhausted` (SPEC 7); any other
    reason gets a neutral sentence rather than failing the expiry.
    """
    title = _title(lot_title)
    why = _EXPIRY_REASONS.get(reason, "The payment was not completed.")
    body = (
        f'Your purchase of "{title}" has been cancelled. {why}\n\n'
        "You have not been charged. The missed payment counts against your account; "
        "after repeated missed payments you can no longer bid."
    )
    return EmailContent(f'Payment window closed for "{title}"', body + _FOOTER)


def outbid(
    *, lot_title: str, currency: str, new_amount: int, your_amount: int, min_next_bid: int
) -> EmailContent:
    """To a bidder who no longer holds the highest bid."""
    title = _title(lot_title)
    body = (
        f'Someone has outbid you on "{title}".\n\n'
        f"Highest bid now:  {format_amount(new_amount, currency)}\n"
        f"Your bid:         {format_amount(your_amount, currency)}\n"
        f"Minimum next bid: {format_amount(min_next_bid, currency)}\n\n"
        "Sign in to the auction to bid again."
    )
    return EmailContent(f'You have been outbid on "{title}"', body + _FOOTER)


def _breakdown(
    currency: str, hammer: int, premium: int, total: int, *, total_label: str, tax: int = 0
) -> str:
    rows = [
        ("Hammer price", hammer),
        ("Buyer's premium", premium),
        *([("Tax", tax)] if tax else []),
        (total_label, total),
    ]
    amounts = [format_amount(amount, currency) for _, amount in rows]
    width = max(len(amount) for amount in amounts)
    return "\n".join(
        f"  {label + ':':<17}{amount:>{width}}"
        for (label, _), amount in zip(rows, amounts, strict=True)
    )


def _check_total(hammer: int, premium: int, total: int, tax: int = 0) -> None:
    if min(hammer, premium, total, tax) < 0 or hammer + premium + tax != total:
        raise ValueError("the breakdown must satisfy hammer + premium + tax == total")


def _card(brand: str | None, last4: str | None) -> str:
    name = _CARD_BRANDS.get((brand or "").lower(), "card")
    if last4 is not None and re.fullmatch(r"\d{4}", last4):
        return f"{name} ending in {last4}"
    return name if brand else ""


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times in e-mails must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _title(title: str) -> str:
    title = _one_line(title) or "your lot"
    if len(title) > _TITLE_LIMIT:
        title = title[: _TITLE_LIMIT - 1].rstrip() + "…"
    return title
