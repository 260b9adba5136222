"""What Stripe reports about refunds and disputes, and how a payment's refunds add up.

Stripe's `charge.refunded` covers refunds we asked for (recognized by the
`refund_id` in their metadata) and refunds made in Stripe's dashboard, which
we never requested and record here. `charge.dispute.created` flags the payment.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.locking import lock_payment
from server.payments.models import PAID, Payment, PaymentStatus, Refund

log = logging.getLogger(__name__)

#: Stripe's refund statuses, as ours: anything not final stays pending.
STRIPE_REFUND_STATUS = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}


async def settle(uow: UnitOfWork, payment: Payment, *, stripe_total: int = 0) -> None:
    """Bring `refunded_amount` and the status in line with the refunds known; never down."""
    await uow.session.flush()
    succeeded = await uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id,
            Refund.status == "succeeded",
            Refund.stripe_payment_intent_id.is_(None),  # not a refund of a replaced intent
        )
    )
    total = max(payment.refunded_amount, int(succeeded or 0), stripe_total)
    payment.refunded_amount = min(payment.amount, total)
    if payment.status in PAID and payment.refunded_amount > 0:
        payment.status = (
            PaymentStatus.REFUNDED
            if payment.refunded_amount >= payment.amount
            else PaymentStatus.PARTIALLY_REFUNDED
        )


async def _payment_for_charge(uow: UnitOfWork, charge: dict[str, Any]) -> Payment | None:
    intent_id = charge.get("payment_intent")
    if not isinstance(intent_id, str):
        return None
    found = await uow.session.scalar(
        select(Payment.id).where(Payment.stripe_payment_intent_id == intent_id)
    )
    return await lock_payment(uow, found) if found is not None else None


async def on_charge_refunded(
    uow: UnitOfWork, context: AppContext, charge: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    """Refunds made anywhere (here or in Stripe's dashboard) update the payment."""
    payment = await _payment_for_charge(uow, charge)
    if payment is None:
        return "ignored", None
    total = charge.get("amount_refunded")
    if isinstance(total, bool) or not isinstance(total, int):
        return "ignored", payment.id
    listed = (charge.get("refunds") or {}).get("data")
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                await _record_stripe_refund(uow, payment, item)
    else:
        # Recent API versions leave `refunds` off the charge: book what we cannot explain.
        await _record_unexplained(uow, payment, total, event_id)
    await settle(uow, payment, stripe_total=total)
    return "applied", payment.id


async def _record_stripe_refund(uow: UnitOfWork, payment: Payment, item: dict[str, Any]) -> None:
    stripe_id: str = item["id"]
    status = STRIPE_REFUND_STATUS.get(str(item.get("status")), "pending")
    refund = await uow.session.scalar(
        select(Refund).where(Refund.stripe_refund_id == stripe_id).with_for_update()
    )
    ours = (item.get("metadata") or {}).get("refund_id")
    if refund is None and isinstance(ours, str) and ours.isascii() and ours.isdigit():
        if len(ours) <= 18:
            refund = await uow.session.get(Refund, int(ours), with_for_update=True)
        if refund is not None and (
            refund.payment_id != payment.id or refund.stripe_refund_id not in (None, stripe_id)
        ):
            refund = None
    if refund is not None:
        refund.stripe_refund_id = stripe_id
        if refund.status == "pending":
            refund.status = status
        return
    amount = item.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        return
    why = item.get("reason")
    uow.session.add(
        Refund(
            payment_id=payment.id,
            amount=amount,
            reason=f"made in Stripe ({why})" if isinstance(why, str) else "made in Stripe",
            status=status,
            stripe_refund_id=stripe_id,
            idempotency_key=f"external-{stripe_id}",
        )
    )


async def _record_unexplained(uow: UnitOfWork, payment: Payment, total: int, event_id: str) -> None:
    explained = await uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status.in_(("succeeded", "pending"))
        )
    )
    extra = min(total, payment.amount) - int(explained or 0)
    if extra > 0:
        uow.session.add(
            Refund(
                payment_id=payment.id,
                amount=extra,
                reason="made in Stripe",
                status="succeeded",
                idempotency_key=f"external-{event_id}",
            )
        )


async def on_dispute_created(
    uow: UnitOfWork, context: AppContext, dispute: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    payment = await _payment_for_charge(uow, dispute)
    if payment is None:
        return "ignored", None
    payment.disputed = True
    payment.dispute_reason = str(dispute.get("reason") or "unspecified")[:200]
    log.warning("payment %s disputed: %s", payment.id, payment.dispute_reason)
    return "applied", payment.id
