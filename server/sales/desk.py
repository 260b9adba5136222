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
from server.auctions.models import Bid, Lot, LotStatus
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict
from server.sales import invoice_refunds
from server.sales.invoices import lines_of, record_paid
from server.sales.models import Invoice, InvoiceStatus

log = logging.getLogger(__name__)


async def lock_invoice(uow: UnitOfWork, invoice_id: int) -> Invoice:
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound("Invoice not found")
    return invoice


async def sell_lots(uow: UnitOfWork, context: AppContext, invoice: Invoice, *, reason: str) -> int:
    """Every lot on the paid invoice that awaits this buyer's payment becomes SOLD.

    One transaction for all of them, each announced with `lot_status`; the
    bids paid for are marked won. Returns how many lots were sold.
    """
    sold = 0
    for line in await lines_of(uow, invoice.id):
        lot = await uow.session.scalar(select(Lot).where(Lot.id == line.lot_id).with_for_update())
        if lot is None or lot.status != LotStatus.PENDING_PAYMENT:
            continue
        if lot.winner_id != invoice.buyer_id:
            continue  # offered to someone else meanwhile: not this invoice's to sell
        bid = await uow.session.get(Bid, line.bid_id)
        if bid is not None:
            bid.outcome = "won"
        lifecycle.change_status(
            uow, context, lot, LotStatus.SOLD, reason=reason, amount=line.hammer
        )
        sold += 1
    return sold


async def mark_paid(
    context: AppContext, invoice_id: int, *, method: str, reference: str | None, admin: str
) -> None:
    """Money for the invoice was taken at the desk: PAID, its lots SOLD."""
    async with context.db.unit_of_work() as uow:
        invoice = await lock_invoice(uow, invoice_id)
        if invoice.status != InvoiceStatus.ISSUED:
            raise conflict(
                "invoice_not_payable",
                f"Only an ISSUED invoice can be marked paid; it is {invoice.status}",
                status=invoice.status,
            )
        await record_paid(uow, invoice, method=method, reference=reference, paid_by=admin)
        sold = await sell_lots(uow, context, invoice, reason="paid_at_desk")
    log.info("invoice %s marked paid (%s) by %s: %s lots sold", invoice_id, method, admin, sold)


async def refund_invoice(
    context: AppContext,
    invoice_id: int,
    *,
    line_id: int | None,
    amount: int | None,
    reason: str | None,
    admin: str,
) -> None:
    """Give money back for an invoice paid at the desk: booked to its lines at once."""
    async with context.db.unit_of_work() as uow:
        invoice = await lock_invoice(uow, invoice_id)
        if invoice.paid_method == "stripe":
            raise conflict(
                "paid_by_card",
                "This invoice was paid by card: refund it through its payment",
            )
        plan = await invoice_refunds.plan_refund(uow, invoice, line_id=line_id, amount=amount)
        invoice_refunds.book(uow, invoice, plan, refund_id=None, reason=reason, requested_by=admin)
        await invoice_refunds.settle_invoice(uow, invoice)
    log.info("invoice %s: %s refunded at the desk by %s", invoice_id, plan.amount, admin)
