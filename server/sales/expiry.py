"""The end of an offer that was not paid, and what then becomes of the lot.

`end_payment` is the one way an awaiting payment ends unpaid (EXPIRED at the
window's end, FAILED at the attempt limit, CANCELED at Stripe, by a buyer's
decline or an admin's release): the buyer's strike, `payment_expired`, the
e-mail, then the expiry policy. `EXPIRY_POLICY=next_bidder` offers the lot to
the next highest other bidder in good standing, at their own highest bid
above the reserve; when no one is left the lot is UNSOLD.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from server.auctions import lifecycle
from server.auctions.models import Lot, LotStatus
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.notifications import messages
from server.payments.models import AWAITING, Payment, PaymentStatus
from server.payments.presenters import paid_for
from server.sales import invoice_flow
from server.sales.emails import email_address, email_user, what_is_paid
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
    _close(payment, status, reason)
    await uow.session.flush()
    if strike:
        # FOR NO KEY UPDATE (the strike is no key): FOR UPDATE would conflict with the
        # KEY SHARE a bid by this buyer takes (its foreign key) in a bid group that holds
        # this lot, while this waits for the lot: a deadlock.
        buyer = await uow.session.get(User, payment.buyer_id, with_for_update={"key_share": True})
        if buyer is not None:
            buyer.strikes += 1
    _tell_buyer(uow, context, payment, reason)
    lot = await lifecycle.lock_lot(uow, payment.lot_id) if payment.lot_id is not None else None
    if reason in _EMAILED:
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


async def expire_lot_payments(
    uow: UnitOfWork, context: AppContext, payments: Sequence[Payment]
) -> None:
    """`end_payment(status=EXPIRED, reason="window_elapsed")` for many lots' payments at once.

    The payments are locked by the caller and awaiting; each has a lot. The same
    rules as `end_payment`, in a fixed number of statements for the batch: the
    buyers and the lots are locked in one statement each (in id order, after the
    payments, as `end_payment` takes them), the e-mail address comes with the
    buyer, and the writes go out in one flush. The strikes are written before any
    lot's expiry policy runs, so a buyer whose other window lapsed in the same
    batch is not offered a lot with that strike uncounted.
    """
    reason = "window_elapsed"
    for payment in payments:
        assert payment.lot_id is not None, payment.id
        _close(payment, PaymentStatus.EXPIRED, reason)
    buyer_ids = sorted({payment.buyer_id for payment in payments})
    buyers = {
        user.id: user
        for user in await uow.session.scalars(
            select(User)
            .where(User.id.in_(buyer_ids))
            .order_by(User.id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as in end_payment
        )
    }
    lot_ids = sorted({payment.lot_id for payment in payments if payment.lot_id is not None})
    lots = {
        lot.id: lot
        for lot in await uow.session.scalars(
            select(Lot).where(Lot.id.in_(lot_ids)).order_by(Lot.id).with_for_update()
        )
    }
    for payment in payments:
        buyer = buyers.get(payment.buyer_id)
        if buyer is not None:
            buyer.strikes += 1
        _tell_buyer(uow, context, payment, reason)
        lot = lots[payment.lot_id]  # type: ignore[index]
        content = messages.payment_expired(lot_title=lot.title, reason=reason)
        email = buyer.email if buyer is not None else None
        data = {"payment_id": payment.id}
        email_address(uow, payment.buyer_id, email, "payment_expired", content, data=data)
        forget_expiry_after_commit(uow, context, payment.id)
    await uow.session.flush()
    for payment in payments:
        await apply_expiry_policy(uow, context, lots[payment.lot_id])  # type: ignore[index]


#: The reasons whose end is e-mailed to the buyer.
_EMAILED = ("window_elapsed", "attempts_exhausted")


def _close(payment: Payment, status: PaymentStatus, reason: str) -> None:
    assert payment.status in AWAITING, payment.status
    payment.status = status
    payment.end_reason = reason
    payment.next_retry_at = None


def _tell_buyer(uow: UnitOfWork, context: AppContext, payment: Payment, reason: str) -> None:
    expired = {**paid_for(payment), "reason": reason}
    context.hub.to_user_after_commit(uow, payment.buyer_id, "payment_expired", expired)


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
