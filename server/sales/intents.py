"""An offer's PaymentIntent: created after the offer commits, and the window it opens.

No database connection is held while Stripe is asked: a caller claims the
payment in a short transaction (a lease in `stripe_lease_until` that every
caller respects, the buyer's requests included), calls Stripe with no
transaction open, then applies the answer in a second transaction that
re-checks the row under its lock. The window's end is in `window`.

Nothing that makes a payment imports this module: `create_intent` is wired
into `AppContext.create_intent` by the app factory and reached through
`schedule.create_intent_after_commit`, because its off-session charge
(`auto_charge`) applies outcomes (`outcomes` → `expiry` → `offers`) that
make payments again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import AppError
from server.core.logging import bind
from server.payments import backoff
from server.payments.gateway import StripeRejected, StripeUnavailable
from server.payments.locking import lock_payment
from server.payments.models import Payment, PaymentIntentRecord, PaymentStatus
from server.sales import auto_charge, card_limit
from server.sales.emails import email_payment_required
from server.sales.payment_required import payment_required_info
from server.sales.schedule import schedule_expiry_after_commit

log = logging.getLogger(__name__)


def intent_metadata(payment: Payment) -> dict[str, str]:
    """What the PaymentIntent says it pays (never trusted back: webhooks match by intent id)."""
    if payment.invoice_id is not None:
        return {
            "payment_id": str(payment.id),
            "invoice_id": str(payment.invoice_id),
            "buyer_id": payment.buyer_id,
            "seller_id": payment.seller_id,
        }
    return {
        "payment_id": str(payment.id),
        "lot_id": str(payment.lot_id),
        "bid_id": str(payment.bid_id),
        "buyer_id": payment.buyer_id,
        "seller_id": payment.seller_id,
    }


async def create_intent(context: AppContext, payment_id: int, *, for_buyer: bool = False) -> bool:
    """Create the PaymentIntent of a CREATING payment and open its window.

    Safe to call from several places at once: whoever claims the payment holds
    a lease (`stripe_lease_until`) for its Stripe call, and every other caller
    (sweeps on any process, the buyer's own requests, however many) leaves it
    alone meanwhile; the idempotency key, derived from the payment, makes a
    repeated request return the same intent at Stripe. Sweeps wait for the
    backoff step (`next_retry_at`); a buyer asking explicitly may go before it.
    A payment Stripe refused permanently waits for an admin (`next_retry_at`
    null), and so does an invoice too large for one card payment, which Stripe
    is not asked about (`card_limit`). True once the window is open.
    """
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id, skip_locked=True)
        if payment is None or payment.status != PaymentStatus.CREATING:
            return False
        now = lifecycle.utcnow()
        if payment.stripe_lease_until is not None and payment.stripe_lease_until > now:
            return False  # another caller is asking Stripe right now
        if payment.next_retry_at is None:
            return False  # refused for good: an admin retries or releases it
        if payment.next_retry_at > now and not for_buyer:
            return False
        if card_limit.over_card_limit(payment):
            await card_limit.hold_for_desk(uow, context, payment, now)
            return False
        payment.create_tries += 1
        lease_end = now + timedelta(seconds=context.settings.stripe_create_lease_seconds)
        # Until the answer is written (or, after a crash, the lease runs out) no sweep looks.
        payment.stripe_lease_until = payment.next_retry_at = lease_end
        tries = payment.create_tries
        amount, currency, key = payment.amount, payment.currency, payment.idempotency_key
        metadata = intent_metadata(payment)
        card = await auto_charge.choose_card(uow, context, payment, now)

    with bind(payment_id=payment_id, lot_id=metadata.get("lot_id")):
        if card is not None:
            try:
                settled = await auto_charge.charge_at_close(
                    context,
                    payment_id,
                    card,
                    amount=amount,
                    currency=currency,
                    metadata=metadata,
                    idempotency_key=key,
                )
            except StripeUnavailable as error:
                await _creation_failed(context, payment_id, tries, error)
                return False
            if settled is not None:
                return settled
        try:
            intent = await context.stripe.create_payment_intent(
                amount=amount,
                currency=currency,
                metadata=metadata,
                idempotency_key=key,
                background=not for_buyer,
            )
        except (StripeUnavailable, StripeRejected) as error:
            await _creation_failed(context, payment_id, tries, error)
            return False
        return await _open_window(context, payment_id, intent)


async def _creation_failed(
    context: AppContext, payment_id: int, tries: int, error: StripeUnavailable | StripeRejected
) -> None:
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None or payment.status != PaymentStatus.CREATING:
            return
        now = lifecycle.utcnow()
        payment.stripe_lease_until = None
        if isinstance(error, StripeRejected) and card_limit.refused_as_too_large(payment, error):
            payment.last_stripe_error = error.message
            await card_limit.hold_for_desk(uow, context, payment, now)
            return
        backoff.note_stripe_error(context, payment, "create", error, now)
        if isinstance(error, StripeRejected):
            payment.next_retry_at = None  # until an admin retries or releases it
            return
        delay = backoff.retry_delay(context, tries)
        payment.next_retry_at = now + delay
        log.warning(
            "PaymentIntent creation failed (try %s), retrying in %s: %s",
            tries,
            delay,
            error.message,
        )


async def _open_window(context: AppContext, payment_id: int, intent: Any) -> bool:
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None:
            return False
        if await uow.session.get(PaymentIntentRecord, intent.id) is None:
            uow.session.add(PaymentIntentRecord(id=intent.id, payment_id=payment_id))
        if payment.stripe_payment_intent_id == intent.id:
            return payment.status != PaymentStatus.CREATING
        if payment.status != PaymentStatus.CREATING or payment.stripe_payment_intent_id:
            # The payment moved on while we asked Stripe; this intent must not be paid.
            log.warning("payment %s: discarding intent created after it moved on", payment_id)
            uow.after_commit(lambda: _cancel_quietly(context, intent.id, payment_id))
            return False
        now = lifecycle.utcnow()
        payment.stripe_payment_intent_id = intent.id
        payment.client_secret = intent.client_secret
        payment.status = PaymentStatus.REQUIRES_PAYMENT
        payment.expires_at = now + timedelta(seconds=context.settings.payment_window_seconds)
        payment.next_retry_at = payment.stripe_lease_until = None
        payment.failure_message = None
        backoff.clear_attention(payment, backoff.ATTENTION_CODES["create"])
        await announce_payment_required(uow, context, payment)
        if payment.auto_charge_reason is not None:  # the card on file could not be charged
            await auto_charge.email_action_needed(uow, context, payment)
        else:
            await email_payment_required(uow, payment)
        schedule_expiry_after_commit(uow, context, payment)
        return True


async def announce_payment_required(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    info = await payment_required_info(uow.session, context, payment)
    context.hub.to_user_after_commit(uow, payment.buyer_id, "payment_required", info)


async def _cancel_quietly(context: AppContext, intent_id: str, payment_id: int) -> None:
    try:
        await context.stripe.cancel_payment_intent(
            intent_id, idempotency_key=f"discard-{payment_id}-{intent_id}"
        )
    except AppError as error:
        log.warning("could not cancel discarded intent for payment %s: %s", payment_id, error)
