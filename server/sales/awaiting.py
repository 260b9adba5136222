"""What awaits a buyer: their offers' payment details, and the intent made now if they ask.

`payment_required` is sent when a window opens (`intents`) and again on every
connect while a payment awaits its buyer; `my_payments` and
`POST /api/payments/create-intent` read it here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.errors import AppError, Unavailable, conflict
from server.payments.models import Payment, PaymentStatus
from server.sales import card_limit
from server.sales.intents import create_intent
from server.sales.models import Invoice, InvoiceLine
from server.sales.payment_required import payment_required_info

AWAITING_BUYER = (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.REQUIRES_ACTION)


async def payments_awaiting(context: AppContext, buyer_id: str) -> list[dict[str, Any]]:
    async with context.db.unit_of_work() as uow:
        payments = (
            await uow.session.scalars(
                select(Payment)
                .where(Payment.buyer_id == buyer_id, Payment.status.in_(AWAITING_BUYER))
                .order_by(Payment.id)
            )
        ).all()
        return [await payment_required_info(uow.session, context, p) for p in payments]


async def payment_for_lot(context: AppContext, buyer_id: str, lot_id: int) -> dict[str, Any]:
    """The payment awaiting `buyer_id` on `lot_id`, creating its intent now if it must.

    A per_sale lot is paid through its invoice: the invoice's payment answers.
    """
    on_invoice = (
        select(InvoiceLine.invoice_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.lot_id == lot_id, Invoice.buyer_id == buyer_id)
    )
    async with context.db.unit_of_work() as uow:
        payment = await uow.session.scalar(
            select(Payment)
            .where(
                Payment.buyer_id == buyer_id,
                or_(Payment.lot_id == lot_id, Payment.invoice_id.in_(on_invoice)),
                Payment.status.in_((PaymentStatus.CREATING, *AWAITING_BUYER)),
            )
            .order_by(Payment.id.desc())
            .limit(1)
        )
        if payment is None:
            raise conflict("no_pending_payment", "No payment awaits you for this lot")
        if payment.status != PaymentStatus.CREATING:
            return await payment_required_info(uow.session, context, payment)
        payment_id = payment.id
    await create_intent(context, payment_id, for_buyer=True)
    async with context.db.unit_of_work() as uow:
        payment = await uow.session.get(Payment, payment_id)
        assert payment is not None
        if payment.status == PaymentStatus.CREATING:
            raise _not_ready(payment)
        if payment.status not in AWAITING_BUYER:
            raise conflict("no_pending_payment", "No payment awaits you for this lot")
        return await payment_required_info(uow.session, context, payment)


def _not_ready(payment: Payment) -> AppError:
    """Why a CREATING payment has no intent yet: being created, waiting to retry, or stuck."""
    now = lifecycle.utcnow()
    if card_limit.held_for_desk(payment):
        return card_limit.buyer_answer(payment)
    if payment.next_retry_at is None:
        return Unavailable(
            "The payment provider refused to prepare this payment; the auction house has been "
            "told and will contact you"
        )
    wait = max(1, int((payment.next_retry_at - now).total_seconds() + 0.999))
    return Unavailable(
        "Your payment is being prepared; try again in a moment", details={"retry_after": wait}
    )


async def redeliver_on_connect(context: AppContext, sid: str, buyer_id: str) -> None:
    for info in await payments_awaiting(context, buyer_id):
        await context.hub.sio.emit("payment_required", info, to=sid)
