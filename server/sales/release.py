"""Ending an offer without a strike: a buyer's decline (SPEC 12.5), an admin's release.

The intent is cancelled at Stripe first (no transaction open meanwhile), then
the answer goes through `intent_states`: paid or processing meanwhile, that
outcome stands and the release is refused; otherwise the payment is CANCELED
and the expiry policy decides the lot.
"""

from __future__ import annotations

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.errors import NotFound, conflict
from server.payments import backoff
from server.payments.locking import lock_payment
from server.payments.models import AWAITING, Payment, PaymentStatus
from server.sales import card_limit
from server.sales.cancellation import after_cancel_attempt, cancel_at_stripe, cancel_key
from server.sales.expiry import end_payment
from server.sales.intent_states import Source, Transition, apply_intent


async def release_payment(
    context: AppContext, payment_id: int, *, reason: str, buyer_id: str | None = None
) -> Payment:
    """End an awaiting payment without a strike: cancel its intent, then the expiry policy.

    `buyer_id` set: a buyer declining a second-chance offer (others see 404);
    unset: an admin releasing any awaiting payment.
    """
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None or (buyer_id is not None and payment.buyer_id != buyer_id):
            raise NotFound("Payment not found")
        _check_releasable(payment, declining=buyer_id is not None)
        now = lifecycle.utcnow()
        if payment.stripe_lease_until is not None and payment.stripe_lease_until > now:
            raise conflict("payment_busy", "The payment is being settled with Stripe; try again")
        if payment.stripe_payment_intent_id is None and charge_unanswered(payment):
            raise conflict(
                "payment_busy",
                "Your saved card is being charged for this lot; try again in a few minutes"
                if buyer_id is not None
                else "The card on file was charged and Stripe's answer is not known yet; "
                "its next try learns it; release it then if it is still unpaid",
            )
        if payment.stripe_payment_intent_id is None:
            # CREATING: nothing to cancel (a creation in flight discards its intent), and a
            # refused creation is settled by the release: it no longer needs an admin.
            backoff.clear_attention(
                payment, backoff.ATTENTION_CODES["create"], card_limit.ATTENTION_CODE
            )
            await end_payment(
                uow, context, payment, status=PaymentStatus.CANCELED, reason=reason, strike=False
            )
            return payment
        payment.stripe_lease_until = now + backoff.lease(context, 2)
        intent_id, key = payment.stripe_payment_intent_id, cancel_key(payment)
    answer = await cancel_at_stripe(context, intent_id, key, background=False)
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        assert payment is not None
        payment.stripe_lease_until = None
        outcome = payment.status
        if payment.status in AWAITING:
            intent = answer.intent.to_dict() if answer.intent is not None else None
            transition, _applied = await apply_intent(
                uow, context, payment, answer.status, intent, Source.RELEASE, release_reason=reason
            )
            outcome = payment.status
            if transition is Transition.RELEASE:
                after_cancel_attempt(context, payment, answer)
                return payment
    # Paid (or being paid) while we asked Stripe: that outcome stands, committed above.
    raise conflict(
        "no_pending_payment",
        f"The payment can no longer be released: it is {outcome}",
        status=outcome,
    )


def charge_unanswered(payment: Payment) -> bool:
    """An off-session charge was sent and its answer never applied: Stripe may hold money.

    Only the retry (same key, same card) can learn the answer; a webhook about that
    intent is not matched to the payment until then. Ending the payment meanwhile
    would keep the buyer's money for a lot they do not get.
    """
    return payment.auto_charge_method is not None and payment.auto_charge_reason is None


def _check_releasable(payment: Payment, *, declining: bool) -> None:
    if declining and payment.offer_number < 2:
        raise conflict(
            "not_second_chance",
            "Only a second-chance offer can be declined; the winner's payment cannot",
        )
    if payment.status not in AWAITING or payment.status == PaymentStatus.PROCESSING:
        raise conflict(
            "no_pending_payment",
            f"The payment no longer awaits its buyer: it is {payment.status}",
            status=payment.status,
        )
