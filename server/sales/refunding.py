"""Refunding an invoice: at the desk, or through its card payment, booked to its lines.

An invoice paid by card is refunded through the PaymentIntent of its payment
with the `refunds` machinery (reserved under the payment's lock, sent with an
idempotency key once committed, retried with backoff): the refund's parts are
booked to the lines in the same transaction as its reservation. One paid at
the desk has the money given back there, counted at once. A refund made in
Stripe's dashboard arrives as `charge.refunded` (`on_charge_refunded`): the
payment records it as before, and the invoice books it newest lines first.
Lock order: the payment, then the invoice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict
from server.payments import refunds
from server.payments.locking import lock_payment
from server.payments.models import PAID, Payment, Refund
from server.sales.invoice_refunds import book, plan_refund, settle_invoice
from server.sales.invoices import lock_invoice
from server.sales.models import Invoice

log = logging.getLogger(__name__)


async def _paid_payment(uow: UnitOfWork, invoice_id: int) -> Payment | None:
    """The payment that paid the invoice by card, locked; None for a desk payment."""
    found = await uow.session.scalar(
        select(Payment.id).where(Payment.invoice_id == invoice_id, Payment.status.in_(PAID))
    )
    return await lock_payment(uow, found) if found is not None else None


async def _refunds_of(uow: UnitOfWork, payment: Payment) -> list[Refund]:
    found = await uow.session.scalars(
        select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id)
    )
    return list(found.all())


async def settle_paid_invoice(uow: UnitOfWork, invoice: Invoice, payment: Payment | None) -> None:
    """Recount the invoice; its card payment's refunds are its money only if the card paid it.

    (An invoice paid at the desk may have a payment whose late card success was
    refunded automatically: that money never paid the invoice.)
    """
    paid_refunds: list[Refund] = []
    if payment is not None and invoice.paid_method == "stripe":
        paid_refunds = await _refunds_of(uow, payment)
    await settle_invoice(uow, invoice, paid_refunds)


async def refund_invoice(
    context: AppContext,
    invoice_id: int,
    *,
    line_id: int | None,
    amount: int | None,
    reason: str | None,
    admin: str,
) -> refunds.Sent | None:
    """Refund by line or by amount; the card refund's outcome, or None at the desk."""
    sent = await _refund(
        context, invoice_id, line_id=line_id, amount=amount, reason=reason, admin=admin
    )
    return sent[1] if sent is not None else None


async def refund_invoice_payment(
    context: AppContext, payment_id: int, *, amount: int | None, reason: str | None, admin: str
) -> tuple[int, refunds.Sent] | None:
    """`POST /api/payments/{id}/refund` of the card payment that paid an invoice.

    Booked to the invoice's lines newest first, like an amount refunded through the
    invoice, so the invoice, its lines and the payment agree at once. None when the
    payment paid no invoice: its own refund applies (`refunds.refund_payment`).
    """
    async with context.db.unit_of_work() as uow:
        payment = await uow.session.get(Payment, payment_id)
        if payment is None or payment.invoice_id is None or payment.status not in PAID:
            return None
        invoice_id = payment.invoice_id
    return await _refund(
        context, invoice_id, line_id=None, amount=amount, reason=reason, admin=admin
    )


async def _refund(
    context: AppContext,
    invoice_id: int,
    *,
    line_id: int | None,
    amount: int | None,
    reason: str | None,
    admin: str,
) -> tuple[int, refunds.Sent] | None:
    async with context.db.unit_of_work() as uow:
        payment = await _paid_payment(uow, invoice_id)
        invoice = await lock_invoice(uow, invoice_id)
        if payment is None and invoice.paid_method == "stripe":
            raise conflict("invoice_not_paid", "The invoice's card payment is not settled")
        plan = await plan_refund(uow, invoice, line_id=line_id, amount=amount)
        if payment is None:
            book(uow, invoice, plan, refund_id=None, reason=reason, requested_by=admin)
            await settle_invoice(uow, invoice)
            log.info("invoice %s: %s given back at the desk by %s", invoice_id, plan.amount, admin)
            return None
        refund = await refunds.reserve_refund(
            uow, payment, amount=plan.amount, reason=reason, requested_by=admin
        )
        book(uow, invoice, plan, refund_id=refund.id, reason=reason, requested_by=admin)
        refund_id, payment_id = refund.id, payment.id
    log.info(
        "invoice %s: refund %s of %s requested by %s", invoice_id, refund_id, plan.amount, admin
    )
    sent = await refunds.send_refund(context, refund_id, background=False)
    async with context.db.unit_of_work() as uow:
        payment = await lock_payment(uow, payment_id)
        invoice = await lock_invoice(uow, invoice_id)
        await settle_paid_invoice(uow, invoice, payment)
    return refund_id, sent


async def on_charge_refunded(
    uow: UnitOfWork, context: AppContext, charge: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    """`charge.refunded`: the payment records it; an invoice's books it to its lines."""
    outcome, payment_id = await refunds.on_charge_refunded(uow, context, charge, event_id)
    if outcome != "applied" or payment_id is None:
        return outcome, payment_id
    payment = await uow.session.get(Payment, payment_id)  # locked by the payment's handler
    if payment is not None and payment.invoice_id is not None:
        try:
            invoice = await lock_invoice(uow, payment.invoice_id)
        except NotFound:
            return outcome, payment_id
        await settle_paid_invoice(uow, invoice, payment)
    return outcome, payment_id
