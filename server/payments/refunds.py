"""Refunds and disputes.

A refund is reserved in our database first (a `pending` row, under the
payment's row lock, counted against what may still be refunded), then sent to
Stripe with an idempotency key derived from that row, then settled. So
concurrent requests can never refund more than was paid.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import AppError, conflict
from server.payments.models import PAID, Payment, PaymentStatus, Refund
from server.payments.transitions import lock_payment

log = logging.getLogger(__name__)


async def refundable(uow: UnitOfWork, payment: Payment) -> int:
    """What may still be refunded: paid, less refunded, less refunds in flight."""
    pending = await uow.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status == "pending"
        )
    )
    return payment.amount - payment.refunded_amount - int(pending or 0)


async def request_refund(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    *,
    amount: int,
    reason: str | None,
    requested_by: str | None,
    key_suffix: str | None = None,
) -> Refund:
    """Reserve a refund (the caller holds the payment lock); Stripe is asked after commit."""
    if payment.paid_at is None or payment.stripe_payment_intent_id is None:
        raise conflict("not_refundable", "Only a paid payment can be refunded")
    available = await refundable(uow, payment)
    if amount <= 0 or amount > available:
        raise conflict(
            "refund_exceeds_payment",
            f"At most {available} can be refunded",
            refundable=available,
        )
    count = await uow.session.scalar(
        select(func.count()).select_from(Refund).where(Refund.payment_id == payment.id)
    )
    refund = Refund(
        payment_id=payment.id,
        amount=amount,
        reason=reason,
        status="pending",
        requested_by=requested_by,
        idempotency_key=f"refund-{payment.id}-{key_suffix or (count or 0) + 1}",
    )
    uow.session.add(refund)
    await uow.session.flush()
    refund_id = refund.id

    async def send() -> None:
        await send_refund(context, refund_id)

    uow.after_commit(send)
    return refund


async def send_refund(context: AppContext, refund_id: int) -> str:
    """Ask Stripe for a reserved refund and settle it. Returns the refund's status."""
    async with context.db.unit_of_work() as uow:
        refund = await uow.session.get(Refund, refund_id)
        if refund is None or refund.status != "pending":
            return refund.status if refund else "missing"
        payment = await uow.session.get(Payment, refund.payment_id)
        assert payment is not None and payment.stripe_payment_intent_id is not None
        intent_id, amount, key = (
            payment.stripe_payment_intent_id,
            refund.amount,
            refund.idempotency_key,
        )
        metadata = {"payment_id": str(payment.id), "refund_id": str(refund.id)}
    try:
        stripe_refund = await context.stripe.create_refund(
            payment_intent_id=intent_id, amount=amount, metadata=metadata, idempotency_key=key
        )
    except AppError as error:
        log.warning("refund %s not sent yet: %s", refund_id, error.message)
        if error.code == "unavailable":
            return "pending"
        async with context.db.unit_of_work() as uow:
            refund = await uow.session.get(Refund, refund_id, with_for_update=True)
            if refund is not None and refund.status == "pending":
                refund.status = "failed"
        return "failed"
    async with context.db.unit_of_work() as uow:
        refund = await uow.session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        payment = await lock_payment(uow, refund.payment_id)
        assert payment is not None
        if refund.status == "pending":
            refund.stripe_refund_id = stripe_refund.id
            refund.status = "succeeded" if stripe_refund.status == "succeeded" else "pending"
            if refund.status == "succeeded":
                _settle(payment, payment.refunded_amount + refund.amount)
        return refund.status


def _settle(payment: Payment, refunded_total: int) -> None:
    """Record `refunded_total` as refunded; it only ever grows."""
    payment.refunded_amount = min(payment.amount, max(payment.refunded_amount, refunded_total))
    if payment.status in PAID:
        payment.status = (
            PaymentStatus.REFUNDED
            if payment.refunded_amount >= payment.amount
            else PaymentStatus.PARTIALLY_REFUNDED
            if payment.refunded_amount > 0
            else payment.status
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
    if not isinstance(total, int):
        return "ignored", payment.id
    known = set(
        (
            await uow.session.scalars(
                select(Refund.stripe_refund_id).where(
                    Refund.payment_id == payment.id, Refund.stripe_refund_id.is_not(None)
                )
            )
        ).all()
    )
    for item in (charge.get("refunds") or {}).get("data") or []:
        if not isinstance(item, dict) or item.get("id") in known:
            continue
        ours = (item.get("metadata") or {}).get("refund_id")
        if isinstance(ours, str) and ours.isdigit():
            refund = await uow.session.get(Refund, int(ours), with_for_update=True)
            if refund is not None and refund.payment_id == payment.id:
                refund.stripe_refund_id = refund.stripe_refund_id or item.get("id")
                refund.status = "succeeded"
                continue
        amount = item.get("amount")
        if isinstance(amount, int) and amount > 0 and isinstance(item.get("id"), str):
            uow.session.add(
                Refund(
                    payment_id=payment.id,
                    amount=amount,
                    reason="made in Stripe",
                    status=str(item.get("status") or "succeeded"),
                    stripe_refund_id=item["id"],
                    idempotency_key=f"external-{item['id']}",
                )
            )
    _settle(payment, total)
    return "applied", payment.id


async def on_dispute_created(
    uow: UnitOfWork, context: AppContext, dispute: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    payment = await _payment_for_charge(uow, dispute)
    if payment is None:
        return "ignored", None
    payment.disputed = True
    payment.dispute_reason = str(dispute.get("reason") or "unspecified")
    log.warning("payment %s disputed: %s", payment.id, payment.dispute_reason)
    return "applied", payment.id
