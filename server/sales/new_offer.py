"""An offer is a CREATING payment: a lot's (`offers.offer_lot`) or an invoice's
(`invoice_flow.issue_invoice`), made the one same way here.

It is written in the transaction that put the lot (or the invoice) on offer,
due at once, and its PaymentIntent is created right after commit (`intents`).
The row exists before Stripe is called, so no webhook can name a payment we do
not know, and a crash before the intent exists leaves a CREATING row that the
retry sweep completes with the same idempotency key.
"""

from __future__ import annotations

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.models import Payment, PaymentStatus
from server.sales.schedule import create_intent_after_commit


async def open_offer(
    uow: UnitOfWork,
    context: AppContext,
    *,
    buyer_id: str,
    seller_id: str,
    offer_number: int,
    currency: str,
    hammer: int,
    premium: int,
    tax: int = 0,
    idempotency_key: str,
    lot_id: int | None = None,
    bid_id: int | None = None,
    invoice_id: int | None = None,
) -> Payment:
    """The CREATING payment of `hammer + premium + tax`; its PaymentIntent is made after commit.

    AUTO_CHARGE (the `cards` domain): "off-session first when a card is on file"
    happens in `intents.create_intent`, for an invoice's payment exactly as for a lot's.
    """
    payment = Payment(
        lot_id=lot_id,
        bid_id=bid_id,
        invoice_id=invoice_id,
        buyer_id=buyer_id,
        seller_id=seller_id,
        offer_number=offer_number,
        status=PaymentStatus.CREATING,
        currency=currency,
        hammer=hammer,
        premium=premium,
        tax=tax,
        amount=hammer + premium + tax,
        refunded_amount=0,
        attempts=0,
        create_tries=0,
        idempotency_key=idempotency_key,
        next_retry_at=lifecycle.utcnow(),
    )
    uow.session.add(payment)
    await uow.session.flush()
    create_intent_after_commit(uow, context, payment.id)
    return payment
