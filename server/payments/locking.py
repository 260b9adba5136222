"""Taking a payment's row lock: every change to a payment happens under it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from server.core.db import UnitOfWork
from server.payments.models import Payment


async def lock_payment(
    uow: UnitOfWork, payment_id: int, *, skip_locked: bool = False
) -> Payment | None:
    return await uow.session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update(skip_locked=skip_locked)
    )


async def lock_payments(uow: UnitOfWork, payment_ids: Sequence[int]) -> list[Payment]:
    """Several payments' row locks in one statement, taken in id order."""
    return list(
        await uow.session.scalars(
            select(Payment)
            .where(Payment.id.in_(payment_ids))
            .order_by(Payment.id)
            .with_for_update()
        )
    )
