"""An invoice too large for one card payment: issued as usual, then held for the checkout desk.

SPEC 12.1 keeps each lot's total chargeable, not the sum of what one buyer won in
a per_sale sale, so an invoice's total can be more than the largest charge Stripe
accepts in its currency (`server.core.currencies`). A card cannot pay it, and
asking Stripe would only be refused, so:

- `create_intent` asks Stripe nothing for such a payment; a Stripe refusal with
  `amount_too_large` (an account's own limit below the table's) lands here too;
- the invoice stays ISSUED and its lots stay locked for the buyer; its payment
  stays CREATING with no window and no retries, and `attention`
  `invoice_over_card_limit` saying why and what to do: it is listed with the
  payments needing an admin (`GET /api/admin/payments?attention=true`), shown on
  the invoice (`GET /api/admin/invoices`) and counted by the attention metric;
- the buyer is e-mailed once to pay by bank transfer; asking for the intent
  (`POST /api/payments/create-intent`) answers 409 `invoice_over_card_limit`;
- the desk takes the money and marks the invoice paid (the payment ends CANCELED,
  `paid_at_desk`), or releases the payment (no strike, the expiry policy).
"""

from __future__ import annotations

from datetime import datetime

from server.core.context import AppContext
from server.core.currencies import CURRENCIES
from server.core.db import UnitOfWork
from server.core.errors import AppError, conflict
from server.core.money import display_amount
from server.notifications import messages
from server.payments import backoff
from server.payments.gateway import StripeRejected
from server.payments.models import Payment
from server.sales.emails import email_about_payment

#: `attention.code` of an invoice's payment held for the desk.
ATTENTION_CODE = "invoice_over_card_limit"

#: Stripe's error code for an amount above the largest charge it accepts.
STRIPE_TOO_LARGE = "amount_too_large"


def over_card_limit(payment: Payment) -> bool:
    """An invoice's payment whose total is more than Stripe's table lets one charge be."""
    return payment.invoice_id is not None and payment.amount > CURRENCIES[payment.currency].maximum


def refused_as_too_large(payment: Payment, error: StripeRejected) -> bool:
    """Stripe itself said an invoice's total is too large for one charge."""
    return payment.invoice_id is not None and error.details.get("stripe_code") == STRIPE_TOO_LARGE


async def hold_for_desk(
    uow: UnitOfWork, context: AppContext, payment: Payment, now: datetime
) -> None:
    """No intent, no retries: flag the payment for the desk and tell the buyer, each once."""
    payment.next_retry_at = payment.stripe_lease_until = None
    if (payment.attention or {}).get("code") == ATTENTION_CODE:
        return  # an admin's retry of a held payment: already flagged, the buyer already told
    backoff.flag_attention(context, payment, ATTENTION_CODE, _desk_message(payment), now)
    await email_about_payment(
        uow,
        payment,
        "invoice_bank_transfer",
        messages.invoice_by_bank_transfer,
        data={"invoice_id": payment.invoice_id},
        card_limit=_table_limit(payment),
    )


def held_for_desk(payment: Payment) -> bool:
    return (payment.attention or {}).get("code") == ATTENTION_CODE


def buyer_answer(payment: Payment) -> AppError:
    """What the buyer asking to pay by card is told (409)."""
    total = display_amount(payment.amount, payment.currency)
    return conflict(
        ATTENTION_CODE,
        f"This invoice's total, {total}, is more than can be paid by card in one payment: "
        "please pay it by bank transfer. The auction house will send you its bank details; "
        "your lots are held for you meanwhile",
    )


def _table_limit(payment: Payment) -> int | None:
    """The table's largest charge, when the total is over it (else Stripe's own limit said no)."""
    limit = CURRENCIES[payment.currency].maximum
    return limit if payment.amount > limit else None


def _desk_message(payment: Payment) -> str:
    total = display_amount(payment.amount, payment.currency)
    limit = _table_limit(payment)
    why = (
        f"is more than Stripe takes in one card payment ({display_amount(limit, payment.currency)})"
        if limit is not None
        else f"was refused by Stripe as more than one card payment may be ({STRIPE_TOO_LARGE})"
    )
    return (
        f"Invoice {payment.invoice_id}: its total, {total}, {why}. The buyer was asked to pay "
        "by bank transfer: mark the invoice paid when the money is in, or release the payment"
    )
