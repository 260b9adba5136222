"""Offering a lot: the hammer's winner first, then each next bidder after an expiry.

(per_sale lots are not offered one by one: their lines join invoices, `invoice_flow`.)

An offer is a CREATING payment, written in the transaction that put the lot
on offer, its PaymentIntent created right after commit (`new_offer`).
"""

from __future__ import annotations

from server.auctions.models import Bid, Lot
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.money import payment_breakdown
from server.payments.models import Payment
from server.sales import invoice_flow
from server.sales.catalogue import close_sale_if_done
from server.sales.models import Sale, Settlement
from server.sales.new_offer import open_offer


async def lot_closed(uow: UnitOfWork, context: AppContext, lot: Lot, bid: Bid | None) -> None:
    """`AppContext.after_close`: the winner of a lot just closed (or bought now) gets the offer.

    A per_lot lot (standalone, or in a per_lot sale): its own payment and window. A
    per_sale lot: a line on the buyer's invoice, issued when the sale's last lot has
    closed (this close, or a later one).
    """
    sale = await uow.session.get(Sale, lot.sale_id) if lot.sale_id is not None else None
    per_sale = sale is not None and sale.settlement == Settlement.PER_SALE
    if bid is not None:
        if sale is not None and per_sale:
            await invoice_flow.add_won_lot(uow, context, sale, lot, bid)
        else:
            await offer_lot(uow, context, lot, bid, offer_number=1)
    if sale is None:
        return
    await uow.session.flush()  # this lot's new status is what the sale's check reads
    closed = await close_sale_if_done(uow, sale.id)
    if closed is not None and per_sale:
        await invoice_flow.issue_sale_invoices(uow, context, closed)


async def offer_lot(
    uow: UnitOfWork, context: AppContext, lot: Lot, bid: Bid, *, offer_number: int
) -> Payment:
    """Create the CREATING payment for `bid`; its PaymentIntent is made after commit."""
    premium_bps = context.settings.buyer_premium_bps
    if lot.sale_id is not None:  # a lot of a per_lot sale: the sale's premium, as its prices were
        sale = await uow.session.get(Sale, lot.sale_id)
        premium_bps = sale.buyer_premium_bps if sale is not None else premium_bps
    breakdown = payment_breakdown(bid.amount, premium_bps, lot.currency)
    return await open_offer(
        uow,
        context,
        lot_id=lot.id,
        bid_id=bid.id,
        buyer_id=bid.bidder_id,
        seller_id=lot.seller_id,
        offer_number=offer_number,
        currency=lot.currency,
        hammer=breakdown.hammer,
        premium=breakdown.premium,
        idempotency_key=f"lot-{lot.id}-offer-{offer_number}-bid-{bid.id}",
    )
