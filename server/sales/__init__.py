"""Sales: catalogues of lots, and what happens after the hammer (offer → PaymentIntent →
window → outcome, invoices). What the app factory wires in.

`auctions` decides who won (`lifecycle.hammer`) and hands every closed lot
over through `AppContext.after_close` (`offers.lot_closed`); a new payment
asks Stripe through `AppContext.create_intent` (`intents.create_intent`, see
`schedule.create_intent_after_commit`); `payments` keeps
the money records and passes verified webhooks to `intent_states`.
"""

from __future__ import annotations

from server.core.context import AppContext
from server.sales import tasks
from server.sales.intents import create_intent
from server.sales.offers import lot_closed
from server.scheduling.scheduler import Scheduler

__all__ = ["create_intent", "install_jobs", "lot_closed", "rebuild_schedule"]


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    tasks.install_jobs(context, scheduler)


async def rebuild_schedule(context: AppContext) -> None:
    await tasks.rebuild_schedule(context)
    await tasks.reconcile_at_startup(context)
