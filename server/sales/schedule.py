"""What a payment's transaction starts once it commits, reached without importing its runner.

- The `expire:{payment_id}` date job: scheduled by name, run by `tasks.expire_window`.
  By name (`Scheduler.run_at("expire", ...)`), because the window's end leads to
  the next offer, whose window schedules an end again: the modules on that path
  never import the job's own.
- A new payment's PaymentIntent: `create_intent_after_commit` calls
  `AppContext.create_intent` (`intents.create_intent`, wired by the app factory),
  because creating it may charge the card on file (`auto_charge`), whose outcome
  (`outcomes` → `expiry` → `offers`) makes payments again: offers and invoices
  never import `intents`.
"""

from __future__ import annotations

from datetime import datetime

from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.models import Payment


def schedule_expiry(context: AppContext, payment_id: int, expires_at: datetime) -> None:
    if context.scheduler is not None:
        context.scheduler.run_at("expire", payment_id, expires_at)


def schedule_expiry_after_commit(uow: UnitOfWork, context: AppContext, payment: Payment) -> None:
    payment_id, expires_at = payment.id, payment.expires_at
    assert expires_at is not None

    async def schedule() -> None:
        schedule_expiry(context, payment_id, expires_at)

    uow.after_commit(schedule)


def forget_expiry_after_commit(uow: UnitOfWork, context: AppContext, payment_id: int) -> None:
    async def forget() -> None:
        if context.scheduler is not None:
            context.scheduler.cancel(f"expire:{payment_id}")

    uow.after_commit(forget)


def create_intent_after_commit(uow: UnitOfWork, context: AppContext, payment_id: int) -> None:
    """A new CREATING payment (a lot's offer, an issued invoice) asks Stripe once committed."""

    async def create() -> None:
        await context.create_intent(context, payment_id)

    uow.after_commit(create)
