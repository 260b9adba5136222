"""Taking a payment's row lock: every change to a payment happens under it."""

from __future__ import annotations

from sqlalchemy import select

from server.core.db import UnitOfWork
from server.payments.models import Payment


async def lock_payment(
    uow: UnitOfWork, payment_id: int, *, skip_locked: bool = False
) -> Payment | None:
    return await uow.session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update(skip_locked=skip_locked)
    )
