"""What an admin can do about a payment Stripe got stuck on (SPEC 12.3).

`retry` asks Stripe again now for whatever is owed: the intent of a CREATING
payment, the cancellation of an ended payment's intent, or a refund Stripe
refused. `release` ends an awaiting payment without a strike (its intent
cancelled where it can be) and applies the expiry policy: see `server.sales.release`.
"""

from __future__ import annotations

from sqlalchemy import select

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.errors import NotFound, conflict
from server.payments import backoff, refunds
from server.payments.locking import lock_payment
from server.payments.models import ENDED, Payment, PaymentStatus, Refund
from server.sales.cancellation import cancel_ended_intent
from server.sales.intents import create_intent
from server.sales.release import release_payment


async def retry(context: AppContext, payment_id: int, *, admin: str) -> None:
    """Ask Stripe again, at once, for what this payment is waiting on."""
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        if payment is None:
            raise NotFound("Payment not found")
        now = lifecycle.utcnow()
        code = (payment.attention or {}).get("code")
        if payment.status == PaymentStatus.CREATING:
            if payment.next_retry_at is not None and payment.next_retry_at > now and code is None:
                raise conflict("payment_busy", "Its PaymentIntent is being created right now")
            payment.next_retry_at = now
            payment.create_tries = 0
            action = "create"
        elif payment.status in ENDED and (
            payment.next_retry_at is not None or code == backoff.ATTENTION_CODES["cancel"]
        ):
            payment.cancel_tries = 0
            action = "cancel"
        elif code == backoff.ATTENTION_CODES["refund"]:
            refused = await uow.session.scalar(
                select(Refund)
                .where(Refund.payment_id == payment.id, Refund.status == "failed")
                .order_by(Refund.id.desc())
                .limit(1)
            )
            if refused is None:
                raise conflict("nothing_to_retry", "No refused refund to send again")
            suffix = f"retry-{refused.id}-{int(now.timestamp() * 1000)}"
            if refused.stripe_payment_intent_id is not None:  # a replaced intent's money
                refund = Refund(
                    payment_id=payment.id,
                    amount=refused.amount,
                    reason=refused.reason,
                    status="pending",
                    requested_by=admin,
                    idempotency_key=f"refund-{payment.id}-{suffix}",
                    stripe_payment_intent_id=refused.stripe_payment_intent_id,
                )
                uow.session.add(refund)
                await uow.session.flush()
            else:
                available = await refunds.refundable(uow, payment)
                if available <= 0:
                    backoff.clear_attention(payment)
                    return
                refund = await refunds.reserve_refund(
                    uow,
                    payment,
                    amount=min(refused.amount, available),
                    reason=refused.reason,
                    requested_by=admin,
                    key_suffix=suffix,
                )
            refund_id = refund.id
            action = "refund"
        else:
            raise conflict("nothing_to_retry", "Nothing is waiting on Stripe for this payment")
    if action == "create":
        await create_intent(context, payment_id, for_buyer=True)
    elif action == "cancel":
        await cancel_ended_intent(context, payment_id, by_admin=True)
    else:
        await refunds.send_refund(context, refund_id, background=False)


async def release(context: AppContext, payment_id: int) -> Payment:
    return await release_payment(context, payment_id, reason="released_by_admin")
