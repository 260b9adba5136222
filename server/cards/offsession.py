"""Charging the card on file at the hammer (AUTO_CHARGE), for every path that sells.

Two steps, shared by the per-lot payment and the per-sale invoice:

1. `card_on_file`, inside the transaction that claims the payment: the buyer's
   default card, if it can still be charged. The caller stores the choice
   (customer and PaymentMethod) on its row before Stripe is asked, so a retry
   after a crash sends the very same request.
2. `charge_off_session`, with no transaction open: one PaymentIntent, created
   with `customer`, `payment_method`, `off_session=true`, `confirm=true` and
   the caller's idempotency key. Stripe's answer becomes an `OffSessionOutcome`:
   charged (or processing), or handed over to the buyer with the intent Stripe
   kept payable on-session and why (`authentication_required`, `card_declined`),
   or handed over with no intent (the card or the Customer is gone at Stripe,
   or Stripe refused the request): the caller then creates its usual
   on-session intent. A transient Stripe failure is raised (`StripeUnavailable`):
   the caller retries later with the same key and the same card.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.models import Card
from server.cards.rules import usable_at
from server.cards.service import as_dict
from server.core.context import AppContext
from server.payments.gateway import CardRefused, StripeRejected
from server.payments.models import Payment
from server.users.models import User

log = logging.getLogger(__name__)

Reason = Literal["authentication_required", "card_declined"]


@dataclass(frozen=True, slots=True)
class OffSessionCard:
    customer: str
    payment_method: str


@dataclass(frozen=True, slots=True)
class OffSessionOutcome:
    #: The PaymentIntent as Stripe returned it (with a refusal too); None if none exists.
    intent: dict[str, Any] | None
    #: None: charged or processing. Otherwise the buyer must act, for this reason.
    reason: Reason | None


async def card_on_file(
    session: AsyncSession, buyer_id: str, *, now: datetime
) -> OffSessionCard | None:
    """The buyer's default card and Customer, when the card can still be charged `now`."""
    row = (
        await session.execute(
            select(User.stripe_customer_id, Card.id, Card.exp_month, Card.exp_year)
            .join(Card, Card.user_id == User.id)
            .where(User.id == buyer_id, Card.is_default)
        )
    ).first()
    if row is None or row.stripe_customer_id is None:
        return None
    if not usable_at(row.exp_month, row.exp_year, now):
        return None  # expired: not worth a decline; the buyer pays on-session
    return OffSessionCard(customer=row.stripe_customer_id, payment_method=row.id)


async def charge_off_session(
    context: AppContext,
    card: OffSessionCard,
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> OffSessionOutcome:
    """Charge `card` without the buyer; see the module's docstring for the outcomes."""
    try:
        created = await context.stripe.create_payment_intent(
            amount=amount,
            currency=currency,
            metadata=metadata,
            idempotency_key=idempotency_key,
            background=True,
            off_session=(card.customer, card.payment_method),
        )
    except CardRefused as refused:
        reason: Reason = (
            "authentication_required"
            if refused.stripe_code == "authentication_required"
            else "card_declined"
        )
        log.info("off-session charge handed to the buyer: %s", refused.stripe_code)
        return OffSessionOutcome(intent=refused.intent, reason=reason)
    except StripeRejected as error:
        # Detached, expired at Stripe, Customer deleted...: nothing was charged.
        log.warning("off-session charge refused, the buyer pays on-session: %s", error.message)
        return OffSessionOutcome(intent=None, reason="card_declined")
    intent = as_dict(created)
    status = intent.get("status")
    if status in ("succeeded", "processing"):
        return OffSessionOutcome(intent=intent, reason=None)
    if status == "requires_action":
        return OffSessionOutcome(intent=intent, reason="authentication_required")
    return OffSessionOutcome(intent=intent, reason="card_declined")


def is_echo(payment: Payment, error: dict[str, Any]) -> bool:
    """Is this failure report the off-session refusal itself (already applied, not an attempt)?

    Only an off-session charge is refused `authentication_required`; a decline is the
    echo when it names the card on file before the buyer has tried anything.
    """
    if payment.auto_charge_reason is None or payment.attempts > 0:
        return False
    if error.get("code") == "authentication_required":
        return True
    method = error.get("payment_method")
    method_id = method.get("id") if isinstance(method, dict) else method
    return (
        payment.auto_charge_reason == "card_declined"
        and method_id == payment.auto_charge_method
        and error.get("code") != "payment_intent_authentication_failure"
    )


def charged_automatically(payment: Payment) -> bool:
    """Paid by the off-session charge at the close, with no action from the buyer."""
    return payment.auto_charge_method is not None and payment.auto_charge_reason is None
