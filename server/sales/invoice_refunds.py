"""Refunds of a paid invoice, booked line by line, so lines, totals and receipt agree.

Every refund of an invoice's money is split into parts, one per invoice line
(`invoice_line_refunds`):

- by line (`line_id`): the lot was returned; all that is left of that line;
- by amount: spread over the lines newest first (the lot added last first);
- made in Stripe's dashboard (`charge.refunded` naming a refund we never asked
  for): booked when the event arrives, newest lines first, like an amount.

A part counts once its Stripe refund has succeeded; a part of a refund still
pending holds its room on the line (nothing can be refunded twice) and a part
of a failed refund is history only. Money given back for an invoice paid at
the desk (cash, bank transfer) has no Stripe refund and counts at once. Each
line's `refunded_amount`, the invoice's, and its status are recomputed from
the counted parts by `settle_invoice`, under the invoice's lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from server.auctions.lifecycle import utcnow
from server.core.db import UnitOfWork
from server.core.errors import ValidationError, conflict
from server.core.money import chargeable_step, format_amount
from server.payments.models import Refund
from server.sales.invoices import lines_of
from server.sales.models import Invoice, InvoiceLine, InvoiceLineRefund, InvoiceStatus
from server.sales.pricing import allocate_newest_first

#: An invoice in one of these states was paid: it may be refunded.
PAID_STATES = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True, slots=True)
class Booking:
    """What each line holds: refunded for good (`counted`) or on its way (`pending`)."""

    counted: dict[int, int]
    pending: dict[int, int]
    booked_by_refund: dict[int, int]

    def room(self, line: InvoiceLine) -> int:
        return line.total - self.counted.get(line.id, 0) - self.pending.get(line.id, 0)


async def booking(uow: UnitOfWork, invoice_id: int) -> Booking:
    rows = (
        await uow.session.execute(
            select(InvoiceLineRefund, Refund.status)
            .outerjoin(Refund, Refund.id == InvoiceLineRefund.refund_id)
            .where(InvoiceLineRefund.invoice_id == invoice_id)
        )
    ).all()
    counted: dict[int, int] = defaultdict(int)
    pending: dict[int, int] = defaultdict(int)
    by_refund: dict[int, int] = defaultdict(int)
    for part, status in rows:
        if part.refund_id is not None:
            by_refund[part.refund_id] += part.amount
        if part.refund_id is None or status == "succeeded":
            counted[part.line_id] += part.amount
        elif status == "pending":
            pending[part.line_id] += part.amount
    return Booking(dict(counted), dict(pending), dict(by_refund))


@dataclass(frozen=True, slots=True)
class RefundPlan:
    parts: list[tuple[int, int]]
    kind: str

    @property
    def amount(self) -> int:
        return sum(part for _, part in self.parts)


async def plan_refund(
    uow: UnitOfWork, invoice: Invoice, *, line_id: int | None, amount: int | None
) -> RefundPlan:
    """Which lines a refund comes from: one returned line, or an amount newest first.

    Neither given: everything left. The caller holds the invoice's lock.
    """
    if invoice.status not in PAID_STATES:
        raise conflict(
            "invoice_not_paid", f"Only a paid invoice can be refunded; it is {invoice.status}"
        )
    lines = await lines_of(uow, invoice.id)
    held = await booking(uow, invoice.id)
    if line_id is not None:
        line = next((line for line in lines if line.id == line_id), None)
        if line is None:
            raise ValidationError(
                f"'line_id' {line_id} is not a line of invoice {invoice.id}",
                details={"fields": {"line_id": "'line_id' is not a line of this invoice"}},
            )
        room = held.room(line)
        if room <= 0:
            raise conflict("line_refunded", "This line has been refunded already")
        return RefundPlan([(line.id, room)], "line")
    available = sum(max(held.room(line), 0) for line in lines)
    wanted = available if amount is None else amount
    step = chargeable_step(invoice.currency)
    if wanted % step:
        raise ValidationError(
            f"Refunds in {invoice.currency.upper()} must be multiples of "
            f"{format_amount(step, invoice.currency)}"
        )
    if wanted <= 0 or wanted > available:
        raise conflict(
            "refund_exceeds_payment",
            f"At most {format_amount(max(available, 0), invoice.currency)} can be refunded",
            refundable=max(available, 0),
        )
    rooms = [(line.id, held.room(line)) for line in lines]
    return RefundPlan(allocate_newest_first(wanted, rooms), "amount")


def book(
    uow: UnitOfWork,
    invoice: Invoice,
    plan: RefundPlan,
    *,
    refund_id: int | None,
    reason: str | None,
    requested_by: str | None,
) -> None:
    """Write the plan's parts (of Stripe refund `refund_id`, or at the desk when None)."""
    for line_id, part in plan.parts:
        uow.session.add(
            InvoiceLineRefund(
                invoice_id=invoice.id,
                line_id=line_id,
                refund_id=refund_id,
                amount=part,
                kind=plan.kind,
                reason=reason,
                requested_by=requested_by,
            )
        )


async def settle_invoice(uow: UnitOfWork, invoice: Invoice, refunds: Sequence[Refund] = ()) -> None:
    """Book what `refunds` (of the invoice's payment) left unbooked, then recount the lines.

    A succeeded refund with less booked than its amount (one made in Stripe's
    dashboard, or booked by nobody) has the rest booked newest lines first.
    Lines, the invoice's refunded amount and its status then follow the counted
    parts; the status never goes back to unpaid. The caller holds the invoice's lock.
    """
    await uow.session.flush()
    lines = await lines_of(uow, invoice.id)
    held = await booking(uow, invoice.id)
    for refund in sorted(refunds, key=lambda refund: refund.id):
        rest = refund.amount - held.booked_by_refund.get(refund.id, 0)
        if refund.status != "succeeded" or refund.stripe_payment_intent_id is not None or rest <= 0:
            continue
        rooms = [(line.id, held.room(line)) for line in lines]
        fits = min(rest, sum(max(room, 0) for _, room in rooms))
        if fits <= 0:
            continue
        plan = RefundPlan(allocate_newest_first(fits, rooms), "stripe")
        reason = f"made in Stripe (refund {refund.stripe_refund_id or refund.id})"
        book(uow, invoice, plan, refund_id=refund.id, reason=reason, requested_by=None)
        await uow.session.flush()
        held = await booking(uow, invoice.id)
    await _recount(uow, invoice, lines, held)


async def _recount(
    uow: UnitOfWork, invoice: Invoice, lines: list[InvoiceLine], held: Booking
) -> None:
    returned = set(
        (
            await uow.session.scalars(
                select(InvoiceLineRefund.line_id)
                .outerjoin(Refund, Refund.id == InvoiceLineRefund.refund_id)
                .where(
                    InvoiceLineRefund.invoice_id == invoice.id,
                    InvoiceLineRefund.kind == "line",
                    (InvoiceLineRefund.refund_id.is_(None)) | (Refund.status == "succeeded"),
                )
            )
        ).all()
    )
    now = utcnow()
    for line in lines:
        line.refunded_amount = min(line.total, held.counted.get(line.id, 0))
        if line.id in returned and line.returned_at is None:
            line.returned_at = now
    invoice.refunded_amount = sum(line.refunded_amount for line in lines)
    if invoice.status in PAID_STATES and invoice.refunded_amount > 0:
        invoice.status = (
            InvoiceStatus.REFUNDED
            if invoice.refunded_amount >= invoice.total
            else InvoiceStatus.PARTIALLY_REFUNDED
        )
    await uow.session.flush()
