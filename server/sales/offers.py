"""Offering a lot: the hammer's winner first, then each next bidder after an expiry.

An offer is a CREATING payment, written in the transaction that put the lot
on offer; its PaymentIntent is created right after commit (`intents`). The row
exists before Stripe is called, so no webhook can name a payment we do not
know, and a crash before the intent exists leaves a CREATING row that the
retry sweep completes with the same idempotency key.
"""

from __future__ import annotations

from server.auctions import lifecycle
from server.auctions.models import Bid, Lot
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.money import payment_breakdown
from server.payments.models import Payment, PaymentStatus
from server.sales.intents import create_intent


async def lot_closed(uow: UnitOfWork, context: AppContext, lot: Lot, bid: Bid | None) -> None:
    """`AppContext.after_close`: the winner of a lot just closed (or bought now) gets the offer."""
    if bid is not None:
        await offer_lot(uow, context, lot, bid, offer_number=1)


async def offer_lot(
    uow: UnitOfWork, context: AppContext, lot: Lot, bid: Bid, *, offer_number: int
) -> Payment:
    """Create the CREATING payment for `bid`; its PaymentIntent is made after commit."""
    breakdown = payment_breakdown(bid.amount, context.settings.buyer_premium_bps, lot.currency)
    payment = Payment(
        lot_id=lot.id,
        bid_id=bid.id,
        buyer_id=bid.bidder_id,
        seller_id=lot.seller_id,
        offer_number=offer_number,
        status=PaymentStatus.CREATING,
        currency=lot.currency,
        hammer=breakdown.hammer,
        premium=breakdown.premium,
        amount=breakdown.total,
        refunded_amount=0,
        attempts=0,
        create_tries=0,
        idempotency_key=f"lot-{lot.id}-offer-{offer_number}-bid-{bid.id}",
        next_retry_at=lifecycle.utcnow(),
    )
    uow.session.add(payment)
    await uow.session.flush()
    payment_id = payment.id

    async def create() -> None:
        await create_intent(context, payment_id)

    uow.after_commit(create)
    return payment
