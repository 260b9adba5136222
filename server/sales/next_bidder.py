"""Who a lot is offered to next, after an offer lapsed: the expiry policy's choice."""

from __future__ import annotations

from sqlalchemy import and_, select, union

from server.auctions.models import Bid, Lot
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.models import Payment
from server.sales.models import Invoice, InvoiceLine
from server.users.models import User


async def next_bid(uow: UnitOfWork, context: AppContext, lot: Lot) -> Bid | None:
    """The highest bid of a bidder not yet offered this lot, above the reserve, in good standing.

    Offered: with a payment for the lot (per_lot), or with the lot on an invoice (per_sale).
    """
    offered = union(
        select(Payment.buyer_id).where(Payment.lot_id == lot.id),
        select(Invoice.buyer_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(InvoiceLine.lot_id == lot.id),
    )
    query = (
        select(Bid)
        .join(User, User.id == Bid.bidder_id)
        .where(
            Bid.lot_id == lot.id,
            Bid.bidder_id.not_in(offered),
            User.strikes < context.settings.nonpayment_strikes,
        )
        .order_by(Bid.amount.desc())
        .limit(1)
    )
    if lot.reserve_price is not None:
        query = query.where(and_(Bid.amount >= lot.reserve_price))
    return await uow.session.scalar(query)
