"""Invoices of per_sale sales: a buyer's won lots collected as lines, priced, then issued.

These are the data steps the post-hammer flow calls inside its own unit of
work (they flush, never commit):

- `add_line(uow, settings, sale=, lot=, bid=)`: the bid's lot joins the
  buyer's OPEN invoice for the sale (opened on the first line), priced with
  the invoice's rates; the totals follow.
- `issue(uow, invoice)`: OPEN → ISSUED once the sale's last lot has closed
  (or at once for a next bidder's offer): the total is fixed from then on.

Lock order, to stay clear of deadlocks: a lot, then its invoice, then the
sale (`catalogue.close_sale_if_done`). At most one invoice per buyer and sale
is OPEN at a time (a partial unique index), so two lots won at the same moment
by one buyer land on one invoice.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from server.auctions.lifecycle import utcnow
from server.auctions.models import Bid, Lot
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict
from server.sales.models import Invoice, InvoiceLine, InvoiceStatus, Sale
from server.sales.pricing import LinePrice, Rates, Totals, price_line, totals
from server.settings import Settings


def rates_of(invoice: Invoice) -> Rates:
    return Rates(
        currency=invoice.currency,
        premium_bps=invoice.premium_bps,
        tax_rate_bps=invoice.tax_rate_bps,
        tax_on=invoice.tax_on,
    )


async def open_invoice(
    uow: UnitOfWork, settings: Settings, *, sale: Sale, buyer_id: str
) -> Invoice:
    """The buyer's OPEN invoice for the sale, locked; opened (with today's rates) if none is."""
    for _ in range(3):
        await uow.session.execute(
            insert(Invoice)
            .values(
                sale_id=sale.id,
                buyer_id=buyer_id,
                status=InvoiceStatus.OPEN,
                currency=sale.currency,
                premium_bps=sale.buyer_premium_bps,
                tax_rate_bps=settings.tax_rate_bps,
                tax_on=settings.tax_on,
            )
            .on_conflict_do_nothing(
                # A literal predicate: a bound one stops matching the partial index once
                # PostgreSQL plans the prepared statement generically (its sixth run).
                index_elements=["sale_id", "buyer_id"],
                index_where=text("status = 'OPEN'"),
            )
        )
        invoice = await uow.session.scalar(
            select(Invoice)
            .where(
                Invoice.sale_id == sale.id,
                Invoice.buyer_id == buyer_id,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if invoice is not None:
            return invoice
        # Issued between our insert and our read: open the next one.
    raise conflict("conflict", "The buyer's invoice for this sale keeps changing; try again")


async def add_line(
    uow: UnitOfWork, settings: Settings, *, sale: Sale, lot: Lot, bid: Bid
) -> InvoiceLine:
    """Put `bid`'s lot on its bidder's OPEN invoice for `sale`; returns the new line.

    The line is priced with the invoice's rates: the sale's premium, the tax
    settings in force when the invoice was opened. The totals are recomputed.
    """
    invoice = await open_invoice(uow, settings, sale=sale, buyer_id=bid.bidder_id)
    price = price_line(bid.amount, rates_of(invoice))
    line = InvoiceLine(
        invoice_id=invoice.id,
        lot_id=lot.id,
        bid_id=bid.id,
        hammer=price.hammer,
        premium=price.premium,
        tax=price.tax,
        refunded_amount=0,
    )
    uow.session.add(line)
    await uow.session.flush()
    await recompute_totals(uow, invoice)
    return line


async def lock_invoice(uow: UnitOfWork, invoice_id: int) -> Invoice:
    """The invoice, locked and read afresh; not found if there is none."""
    invoice = await uow.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound("Invoice not found")
    return invoice


async def lines_of(uow: UnitOfWork, invoice_id: int) -> list[InvoiceLine]:
    """The invoice's lines, oldest first."""
    found = await uow.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
    )
    return list(found.all())


async def recompute_totals(uow: UnitOfWork, invoice: Invoice) -> Totals:
    """Set the invoice's totals to the sums of its lines (the caller holds its lock)."""
    lines = await lines_of(uow, invoice.id)
    summed = totals(LinePrice(line.hammer, line.premium, line.tax) for line in lines)
    invoice.hammer, invoice.premium = summed.hammer, summed.premium
    invoice.tax, invoice.total = summed.tax, summed.total
    invoice.refunded_amount = sum(line.refunded_amount for line in lines)
    await uow.session.flush()
    return summed


async def issue(uow: UnitOfWork, invoice: Invoice) -> Invoice:
    """OPEN → ISSUED: the total is fixed and awaits payment. The caller holds the lock."""
    if invoice.status != InvoiceStatus.OPEN:
        raise conflict(
            "invoice_not_open", f"Only an OPEN invoice can be issued; it is {invoice.status}"
        )
    await recompute_totals(uow, invoice)
    if invoice.total <= 0:
        raise conflict("invoice_empty", "An invoice with no lines cannot be issued")
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = utcnow()
    await uow.session.flush()
    return invoice


#: How money for an invoice may be taken: through its PaymentIntent, or at the desk.
PAID_METHODS = ("stripe", "cash", "bank_transfer", "other")


async def record_paid(
    uow: UnitOfWork,
    invoice: Invoice,
    *,
    method: str = "stripe",
    reference: str | None = None,
    paid_by: str | None = None,
) -> Invoice:
    """ISSUED → PAID: numbered for its receipt, with how the money came. The caller locks it."""
    if method not in PAID_METHODS:
        raise ValueError(f"method must be one of {PAID_METHODS}, not {method!r}")
    if invoice.status != InvoiceStatus.ISSUED:
        raise conflict(
            "invoice_not_payable", f"Only an ISSUED invoice can be paid; it is {invoice.status}"
        )
    now = utcnow()
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = now
    invoice.paid_method = method
    invoice.paid_reference = reference
    invoice.paid_by = paid_by
    invoice.receipt_number = f"I{now:%Y}-{invoice.id:08d}"
    await uow.session.flush()
    return invoice


#: How an invoice ends without payment.
ENDED = (InvoiceStatus.EXPIRED, InvoiceStatus.VOID)


async def record_ended(uow: UnitOfWork, invoice: Invoice, status: str, *, reason: str) -> Invoice:
    """OPEN or ISSUED → EXPIRED (its window lapsed) or VOID (withdrawn); lines stay as history."""
    if status not in ENDED:
        raise ValueError(f"status must be one of {ENDED}, not {status!r}")
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.ISSUED):
        raise conflict("invoice_not_open", f"The invoice has already ended: {invoice.status}")
    invoice.status = status
    invoice.end_reason = reason
    await uow.session.flush()
    return invoice
