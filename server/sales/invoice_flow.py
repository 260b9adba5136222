"""per_sale settlement: a buyer pays once for every lot they won in a sale.

- A won lot is PENDING_PAYMENT as in a per_lot sale (bidding locked), but no
  PaymentIntent is made for it: its line joins the buyer's OPEN invoice.
- When the sale's last lot has closed, each buyer's invoice is issued: one
  payment row (`payments.invoice_id`), so one PaymentIntent (the invoice id in
  its metadata, key `invoice-{id}-pay`), one `payment_required` with the
  invoice id and lines, one window. From there the payment takes the per_lot
  path: `intent_states`, the window, reconciliation, the late-success refund.
- Paid: every lot on the invoice is SOLD in that one transaction.
- Ended unpaid (expired, attempts exhausted, released): the invoice is
  EXPIRED (VOID when released), its buyer gets one strike, and each lot goes
  through the expiry policy on its own; a next bidder's lot joins that
  bidder's invoice for the sale, issued at once (one per bidder).

Lock order: the payment, then lots (by id), then invoices, then the sale.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from server.auctions import lifecycle
from server.auctions.models import Bid, Lot, LotStatus
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.models import Payment
from server.sales import invoices
from server.sales.models import Invoice, InvoiceLine, InvoiceStatus, Sale
from server.sales.new_offer import open_offer
from server.sales.next_bidder import next_bid

log = logging.getLogger(__name__)


async def add_won_lot(
    uow: UnitOfWork, context: AppContext, sale: Sale, lot: Lot, bid: Bid
) -> InvoiceLine:
    """The hammer fell for `bid` on a per_sale lot: its line joins the buyer's open invoice."""
    return await invoices.add_line(uow, context.settings, sale=sale, lot=lot, bid=bid)


async def issue_sale_invoices(uow: UnitOfWork, context: AppContext, sale: Sale) -> list[Payment]:
    """The sale's last lot has closed: issue every buyer's open invoice, each with its payment."""
    open_ones = (
        await uow.session.scalars(
            select(Invoice)
            .where(Invoice.sale_id == sale.id, Invoice.status == InvoiceStatus.OPEN)
            .order_by(Invoice.id)
            .with_for_update()
        )
    ).all()
    return [await issue_invoice(uow, context, sale, invoice) for invoice in open_ones]


async def issue_invoice(
    uow: UnitOfWork, context: AppContext, sale: Sale, invoice: Invoice, *, offer_number: int = 1
) -> Payment:
    """OPEN → ISSUED, and the CREATING payment whose intent is made once this commits.

    `offer_number` 2 for an invoice of second-chance lots (its buyer may decline it).
    """
    await invoices.issue(uow, invoice)
    return await open_offer(
        uow,
        context,
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        seller_id=sale.seller_id,
        offer_number=offer_number,
        currency=invoice.currency,
        hammer=invoice.hammer,
        premium=invoice.premium,
        tax=invoice.tax,
        idempotency_key=f"invoice-{invoice.id}-pay",
    )


async def lock_lots(uow: UnitOfWork, invoice_id: int) -> list[tuple[InvoiceLine, Lot]]:
    """The invoice's lines with their lots, the lots locked in id order and read afresh."""
    lines = await invoices.lines_of(uow, invoice_id)
    by_lot = {line.lot_id: line for line in lines}
    lots = (
        await uow.session.scalars(
            select(Lot)
            .where(Lot.id.in_(by_lot))
            .order_by(Lot.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    return [(by_lot[lot.id], lot) for lot in lots]


async def sell_lots(
    uow: UnitOfWork,
    context: AppContext,
    invoice: Invoice,
    lots: list[tuple[InvoiceLine, Lot]],
    *,
    reason: str,
) -> int:
    """The invoice is paid: each of its `lots` (from `lock_lots`) still awaiting its buyer is SOLD.

    The one place an invoice's lots are sold, by card (`invoice_paid`) or at the
    desk (`desk.mark_paid`): one transaction for all of them, each announced with
    `lot_status`, the bids paid for marked won. A lot no longer awaiting this
    buyer (offered to someone else meanwhile, or already ended) is not the
    invoice's to sell and is left as it is. Returns how many lots were sold.
    """
    sold = 0
    for line, lot in lots:
        if lot.status != LotStatus.PENDING_PAYMENT or lot.winner_id != invoice.buyer_id:
            log.warning(
                "invoice %s paid: lot %s is %s for %s, not awaiting %s; not sold",
                invoice.id,
                lot.id,
                lot.status,
                lot.winner_id,
                invoice.buyer_id,
            )
            continue
        bid = await uow.session.get(Bid, line.bid_id)
        if bid is not None:
            bid.outcome = "won"
        lifecycle.change_status(
            uow, context, lot, LotStatus.SOLD, reason=reason, amount=line.hammer
        )
        sold += 1
    return sold


async def invoice_paid(uow: UnitOfWork, context: AppContext, payment: Payment) -> Invoice:
    """The invoice's payment succeeded: every lot on it SOLD, in this one transaction."""
    assert payment.invoice_id is not None
    lots = await lock_lots(uow, payment.invoice_id)
    invoice = await invoices.lock_invoice(uow, payment.invoice_id)
    await sell_lots(uow, context, invoice, lots, reason="paid")
    await invoices.record_paid(
        uow, invoice, method="stripe", reference=payment.stripe_payment_intent_id
    )
    return invoice


async def invoice_ended(
    uow: UnitOfWork, context: AppContext, payment: Payment, *, released: bool
) -> None:
    """The invoice's payment ended unpaid: the invoice ends, each lot takes the expiry policy."""
    assert payment.invoice_id is not None
    lots = await lock_lots(uow, payment.invoice_id)
    invoice = await invoices.lock_invoice(uow, payment.invoice_id)
    if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.ISSUED):
        status = InvoiceStatus.VOID if released else InvoiceStatus.EXPIRED
        await invoices.record_ended(uow, invoice, status, reason=payment.end_reason or "")
    sale = await uow.session.get(Sale, invoice.sale_id)
    assert sale is not None
    touched: dict[int, Invoice] = {}
    for _line, lot in lots:
        if lot.status != LotStatus.PENDING_PAYMENT:
            continue
        bid = await next_bid(uow, context, lot) if _next_bidder(context) else None
        if bid is None:
            lifecycle.change_status(uow, context, lot, LotStatus.UNSOLD, reason="not_paid")
            continue
        offered = await uow.session.scalar(
            select(func.count()).select_from(InvoiceLine).where(InvoiceLine.lot_id == lot.id)
        )
        lifecycle.put_on_offer(lot, bid)
        lifecycle.change_status(
            uow,
            context,
            lot,
            LotStatus.PENDING_PAYMENT,
            reason="offered_to_next_bidder",
            offer_number=(offered or 0) + 1,
        )
        line = await invoices.add_line(uow, context.settings, sale=sale, lot=lot, bid=bid)
        touched[line.invoice_id] = await invoices.lock_invoice(uow, line.invoice_id)
    for invoice_id in sorted(touched):
        await issue_invoice(uow, context, sale, touched[invoice_id], offer_number=2)


def _next_bidder(context: AppContext) -> bool:
    return context.settings.expiry_policy == "next_bidder"
