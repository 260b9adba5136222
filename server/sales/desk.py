"""The checkout desk: money for invoices taken outside Stripe, and refunds of invoices.

`mark_paid` records an ISSUED invoice as paid in cash, by bank transfer or
otherwise. Its lots are SOLD in the same transaction, as when the card is paid.
`refund_invoice` gives money back by line (a lot returned) or by amount
(newest lines first); see `invoice_refunds` for how parts are booked.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import AppError, conflict
from server.payments import backoff
from server.payments.locking import lock_payment
from server.payments.models import AWAITING, Payment, PaymentStatus
from server.sales import card_limit
from server.sales.cancellation import (
    StripeAnswer,
    after_cancel_attempt,
    cancel_at_stripe,
    cancel_key,
)
from server.sales.intent_states import Source, Transition, apply_intent, transition_for
from server.sales.invoice_flow import lock_lots, sell_lots
from server.sales.invoices import lock_invoice, record_paid
from server.sales.models import Invoice, InvoiceStatus
from server.sales.release import charge_unanswered
from server.sales.schedule import forget_expiry_after_commit

log = logging.getLogger(__name__)


async def mark_paid(
    context: AppContext, invoice_id: int, *, method: str, reference: str | None, admin: str
) -> None:
    """Money for the invoice was taken at the desk: PAID, its lots SOLD.

    No PaymentIntent is left open: the invoice's payment, if its intent may
    still be paid, is cancelled at Stripe first, with no transaction open (like
    a release). Stripe's answer goes through the intent-status table: paid
    meanwhile, the card won (committed, then 409 `invoice_paid_by_card`);
    processing, 409 and nothing changes; otherwise the payment ends CANCELED
    (`paid_at_desk`: no strike, no expiry policy; a cancel Stripe could not make
    is retried with backoff, and a success after all is refunded) and the
    invoice is PAID.
    """
    intent_id = key = None
    async with context.db.unit_of_work() as uow:
        payment = await _awaiting_payment(uow, invoice_id)
        invoice = await lock_invoice(uow, invoice_id)
        _check_payable(invoice)
        # An off-session charge with no known answer: Stripe may hold the money; learn it first.
        if (
            payment is not None
            and not payment.stripe_payment_intent_id
            and charge_unanswered(payment)
        ):
            raise conflict(
                "payment_busy",
                "The buyer's card on file was charged and Stripe's answer is not known "
                "yet; its next try learns it: mark the invoice paid then if it is unpaid",
            )
        if payment is not None and payment.stripe_payment_intent_id is not None:
            if payment.status == PaymentStatus.PROCESSING:
                raise _processing()
            now = lifecycle.utcnow()
            if payment.stripe_lease_until is not None and payment.stripe_lease_until > now:
                raise conflict(
                    "payment_busy", "The payment is being settled with Stripe; try again"
                )
            payment.stripe_lease_until = now + backoff.lease(context, 2)
            intent_id, key = payment.stripe_payment_intent_id, cancel_key(payment)
        else:
            await _settle_at_desk(uow, context, invoice, payment, None, method, reference, admin)
            return
    assert intent_id is not None and key is not None
    answer = await cancel_at_stripe(context, intent_id, key, background=False)
    async with context.db.unit_of_work() as uow:
        payment = await _awaiting_payment(uow, invoice_id)
        invoice = await lock_invoice(uow, invoice_id)
        transition = transition_for(answer.status, Source.RELEASE)
        if payment is not None:
            payment.stripe_lease_until = None
            if transition is Transition.SUCCEED:
                intent = answer.intent.to_dict()
                await apply_intent(uow, context, payment, answer.status, intent, Source.RELEASE)
        if invoice.status == InvoiceStatus.ISSUED and transition is Transition.RELEASE:
            await _settle_at_desk(uow, context, invoice, payment, answer, method, reference, admin)
            return
        paid_by_card = invoice.paid_method == "stripe"
    # Paid by card (or being paid, or ended) while we asked Stripe: that stands, committed.
    if paid_by_card:
        raise conflict(
            "invoice_paid_by_card",
            "The buyer paid this invoice by card meanwhile; nothing was taken at the desk",
        )
    _check_payable(invoice)
    raise _processing()


async def _awaiting_payment(uow: UnitOfWork, invoice_id: int) -> Payment | None:
    """The invoice's payment still awaiting its buyer, locked (payment before invoice)."""
    found = await uow.session.scalar(
        select(Payment.id).where(Payment.invoice_id == invoice_id, Payment.status.in_(AWAITING))
    )
    return await lock_payment(uow, found) if found is not None else None


def _check_payable(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.ISSUED:
        raise conflict(
            "invoice_not_payable",
            f"Only an ISSUED invoice can be marked paid; it is {invoice.status}",
            status=invoice.status,
        )


def _processing() -> AppError:
    return conflict(
        "payment_processing",
        "The card payment is processing at Stripe: wait for its outcome",
    )


async def _settle_at_desk(
    uow: UnitOfWork,
    context: AppContext,
    invoice: Invoice,
    payment: Payment | None,
    answer: StripeAnswer | None,
    method: str,
    reference: str | None,
    admin: str,
) -> None:
    if payment is not None:
        payment.status = PaymentStatus.CANCELED
        payment.end_reason = "paid_at_desk"
        # An intent Stripe would not make (too large, refused) no longer needs an admin.
        backoff.clear_attention(
            payment, backoff.ATTENTION_CODES["create"], card_limit.ATTENTION_CODE
        )
        forget_expiry_after_commit(uow, context, payment.id)
        if answer is not None:
            after_cancel_attempt(context, payment, answer)
    await record_paid(uow, invoice, method=method, reference=reference, paid_by=admin)
    lots = await lock_lots(uow, invoice.id)
    sold = await sell_lots(uow, context, invoice, lots, reason="paid_at_desk")
    log.info("invoice %s marked paid (%s) by %s: %s lots sold", invoice.id, method, admin, sold)
