"""`payment_required` (PaymentInfo): a lot's offer, or an invoice with its lines.

Holds the client secret: for its buyer only (their `user:` room, their own
requests), never a lot room or a log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auctions.models import Lot
from server.core.context import AppContext
from server.payments.models import Payment
from server.payments.presenters import payment_info
from server.sales.models import InvoiceLine


async def invoice_lines(session: AsyncSession, invoice_id: int) -> list[dict[str, Any]]:
    """The invoice's lots in catalogue order: lot_id, lot_number, title, hammer, premium, tax."""
    rows = await session.execute(
        select(InvoiceLine, Lot.lot_number, Lot.title)
        .join(Lot, Lot.id == InvoiceLine.lot_id)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(Lot.lot_number, Lot.id)
    )
    return [
        {
            "lot_id": line.lot_id,
            "lot_number": lot_number,
            "title": title,
            "hammer": line.hammer,
            "premium": line.premium,
            "tax": line.tax,
        }
        for line, lot_number, title in rows
    ]


async def payment_required_info(
    session: AsyncSession, context: AppContext, payment: Payment
) -> dict[str, Any]:
    info = payment_info(context, payment)
    if payment.invoice_id is not None:
        info["lines"] = await invoice_lines(session, payment.invoice_id)
    return info
