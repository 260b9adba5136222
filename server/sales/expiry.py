"""The end of an offer that was not paid, and what then becomes of the lot.

`end_payment` is the one way an awaiting payment ends unpaid (EXPIRED at the
window's end, FAILED at the attempt limit, CANCELED at Stripe, by a buyer's
decline or an admin's release): the buyer's strike, `payment_expired`, the
e-mail, then the expiry policy. `EXPIRY_POLICY=next_bidder` offers the lot to
the next highest other bidder in good standing, at their own highest bid
above the reserve; when no one is left the lot is UNSOLD.
"""

from __future__ import annotations

from sqlalchemy import func, select

from server.auctions import lifecycle
from server.auctions.models import Lot, LotStatus
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.notifications import messages
from server.payments.models import AWAITING, Payment, PaymentStatus
from server.payments.presenters import paid_for
from server.sales import invoice_flow
from server.sales.emails import email_user, what_is_paid
from server.sales.next_bidder import next_bid
from server.sales.offers import offer_lot
from server.sales.schedule import forget_expiry_after_commit
from server.users.models import User


async def end_payment(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    *,
    status: PaymentStatus,
    reason: str,
    strike: bool = True,
) -> None:
    """End an awaiting payment (EXPIRED, FAILED or CANCELED) and decide the lot's fate."""
    assert payment.status in AWAITING, payment.status
    payment.status = status
    payment.end_reason = reason
    payment.next_retry_at = None
    await uow.session.flush()
    if strike:
        buyer = await uow.session.get(User, payment.buyer_id, with_for_update=True)
        if buyer is not None:
            buyer.strikes += 1
    expired = {**paid_for(payment), "reason": reason}
    context.hub.to_user_after_commit(uow, payment.buyer_id, "payment_expired", expired)
    lot = await lifecycle.lock_lot(uow, payment.lot_id) if payment.lot_id is not None else None
    if reason == "window_elapsed" or reason == "attempts_exhausted":
        title = lot.title if lot is not None else await what_is_paid(uow, payment)
        content = messages.payment_expired(lot_title=title, reason=reason)
        await email_user(
            uow, payment.buyer_id, "payment_expired", content, data={"payment_id": payment.id}
        )
    forget_expiry_after_commit(uow, context, payment.id)
    if lot is None:  # an invoice's payment: each of its lots on its own
        await invoice_flow.invoice_ended(uow, context, payment, released=not strike)
        return
    await apply_expiry_policy(uow, context, lot)


async def apply_expiry_policy(uow: UnitOfWork, context: AppContext, lot: Lot) -> None:
    if lot.status != LotStatus.PENDING_PAYMENT:
        return
    if context.settings.expiry_policy == "next_bidder":
        bid = await next_bid(uow, context, lot)
        if bid is not None:
            lifecycle.put_on_offer(lot, bid)
            earlier = await uow.session.scalar(
                select(func.max(Payment.offer_number)).where(Payment.lot_id == lot.id)
            )
            lifecycle.change_status(
                uow,
                context,
                lot,
                LotStatus.PENDING_PAYMENT,
                reason="offered_to_next_bidder",
                offer_number=(earlier or 0) + 1,
            )
            await offer_lot(uow, context, lot, bid, offer_number=(earlier or 0) + 1)
            return
    lifecycle.change_status(uow, context, lot, LotStatus.UNSOLD, reason="not_paid")
