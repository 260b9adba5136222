"""AUTO_CHARGE: the winner's card on file is charged at the close, before any window opens.

`create_intent` (server.sales.intents) asks `choose_card` in the transaction
that claims the payment: on the first try, the buyer's default card, if it can
still be charged. The choice is stored on the payment (`auto_charge_method`,
`auto_charge_customer`), so a retry after a crash or a timeout sends the very
same request, with the same idempotency key (`<payment key>-off-session`), and
Stripe answers it once: exactly one charge.

`charge_at_close` then asks Stripe (`server.cards.offsession`) and applies the
answer under the payment's lock:

- charged: the usual success (SOLD, receipt saying the card was charged,
  `payment_succeeded`), from this answer or the webhook, whichever comes first;
- processing: PROCESSING, its window running, as when a webhook says so;
- refused with an intent (`authentication_required`, a decline): the same
  intent goes on on-session: `payment_required` with its client secret and
  `reason`, the window starts now, attempts count as usual (the off-session
  refusal is not one of them; its webhook echo is recognised,
  `server.cards.offsession.is_echo`);
- refused with no intent (the card or the Customer is gone at Stripe): the
  reason is stored and the caller creates its usual on-session intent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from server.auctions import lifecycle
from server.cards.offsession import OffSessionCard, card_on_file, charge_off_session
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import AppError
from server.notifications import messages
from server.payments import backoff, refunds
from server.payments.cards import expand_latest_charge
from server.payments.locking import lock_payment
from server.payments.models import Payment, PaymentAttempt, PaymentIntentRecord, PaymentStatus
from server.sales import outcomes
from server.sales.emails import email_about_payment
from server.sales.payment_required import payment_required_info
from server.sales.schedule import schedule_expiry_after_commit

log = logging.getLogger(__name__)


def off_session_key(payment_key: str) -> str:
    """The off-session PaymentIntent's idempotency key (the on-session one keeps the payment's)."""
    return f"{payment_key}-off-session"


async def choose_card(
    uow: UnitOfWork, context: AppContext, payment: Payment, now: datetime
) -> OffSessionCard | None:
    """The card to charge off-session now, if any: chosen on the first try, then kept."""
    if payment.auto_charge_reason is not None:
        return None  # handed over to the buyer: on-session from now on
    if payment.auto_charge_method is None:
        if not context.settings.auto_charge or payment.create_tries > 1:
            return None
        card = await card_on_file(uow.session, payment.buyer_id, now=now)
        if card is None:
            return None
        payment.auto_charge_method = card.payment_method
        payment.auto_charge_customer = card.customer
    if payment.auto_charge_customer is None:
        return None
    return OffSessionCard(
        customer=payment.auto_charge_customer, payment_method=payment.auto_charge_method
    )


async def charge_at_close(
    context: AppContext,
    payment_id: int,
    card: OffSessionCard,
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> bool | None:
    """Charge the card on file; True/False once applied, None: create the on-session intent.

    `StripeUnavailable` is raised for the caller's retry (same key, same card).
    """
    outcome = await charge_off_session(
        context,
        card,
        amount=amount,
        currency=currency,
        metadata=metadata,
        idempotency_key=off_session_key(idempotency_key),
    )
    if outcome.intent is None:
        await _hand_over(context, payment_id, outcome.reason or "card_declined")
        return None
    intent = outcome.intent
    if intent.get("status") == "succeeded":
        # The card for the receipt, fetched before the lock (a webhook's success does the same).
        await expand_latest_charge(context, intent)
    return await _apply(context, payment_id, intent, outcome.reason)


async def _hand_over(context: AppContext, payment_id: int, reason: str) -> None:
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None or payment.status != PaymentStatus.CREATING:
            return
        if payment.auto_charge_reason is None:
            payment.auto_charge_reason = reason
            uow.session.add(
                PaymentAttempt(payment_id=payment.id, outcome="off_session", failure_code=reason)
            )


async def _apply(
    context: AppContext, payment_id: int, intent: dict[str, Any], reason: str | None
) -> bool:
    intent_id = str(intent["id"])
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None:
            return False
        if await uow.session.get(PaymentIntentRecord, intent_id) is None:
            uow.session.add(PaymentIntentRecord(id=intent_id, payment_id=payment_id))
        if payment.stripe_payment_intent_id == intent_id:
            return payment.status != PaymentStatus.CREATING  # applied already
        if payment.status != PaymentStatus.CREATING or payment.stripe_payment_intent_id:
            await _moved_on(uow, context, payment, intent)
            return False
        now = lifecycle.utcnow()
        payment.stripe_payment_intent_id = intent_id
        payment.client_secret = intent.get("client_secret")
        payment.next_retry_at = payment.stripe_lease_until = None
        payment.failure_message = None
        payment.expires_at = now + timedelta(seconds=context.settings.payment_window_seconds)
        backoff.clear_attention(payment, backoff.ATTENTION_CODES["create"])
        status = intent.get("status")
        if reason is None and status == "succeeded":
            await outcomes.record_success(uow, context, payment, intent)
            return True
        payment.status = PaymentStatus.REQUIRES_PAYMENT
        schedule_expiry_after_commit(uow, context, payment)
        if reason is None:
            outcomes.record_processing(uow, payment)  # the window does not lapse while processing
            return True
        payment.auto_charge_reason = reason
        if status == "requires_action":
            payment.status = PaymentStatus.REQUIRES_ACTION
        uow.session.add(
            PaymentAttempt(payment_id=payment.id, outcome="off_session", failure_code=reason)
        )
        info = await payment_required_info(uow.session, context, payment)  # an invoice's lines too
        context.hub.to_user_after_commit(uow, payment.buyer_id, "payment_required", info)
        await email_action_needed(uow, context, payment)
        return True


async def _moved_on(
    uow: UnitOfWork, context: AppContext, payment: Payment, intent: dict[str, Any]
) -> None:
    """The payment moved on while Stripe answered: this intent must not keep money."""
    intent_id = str(intent["id"])
    log.warning("payment %s: off-session intent %s came after it moved on", payment.id, intent_id)
    amount = intent.get("amount")
    if intent.get("status") == "succeeded" and isinstance(amount, int):
        await refunds.refund_replaced_intent(
            uow,
            context,
            payment_id=payment.id,
            intent_id=intent_id,
            amount=amount,
            event_id=f"off-session:{intent_id}",
        )
        return

    async def cancel() -> None:
        try:
            await context.stripe.cancel_payment_intent(
                intent_id, idempotency_key=f"discard-{payment.id}-{intent_id}"
            )
        except AppError as error:
            log.warning("could not cancel off-session intent %s: %s", intent_id, error)

    uow.after_commit(cancel)


async def email_action_needed(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    """'Action needed' with the pay link, instead of the plain 'payment due'."""
    assert payment.expires_at is not None
    # A lot's payment is paid on its page; any other (an invoice's) from the account page.
    page = f"/lots/{payment.lot_id}" if payment.lot_id is not None else "/account"
    await email_about_payment(
        uow,
        payment,
        "payment_required",
        messages.payment_action_needed,
        data={"reason": payment.auto_charge_reason},
        expires_at=payment.expires_at,
        reason=payment.auto_charge_reason or "card_declined",
        pay_url=context.settings.site_url + page,
    )
