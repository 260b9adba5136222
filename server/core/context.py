"""What a request, socket event or job needs from the running server, in one object."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from server.core.db import Database
from server.core.ratelimit import RateLimiter
from server.settings import Settings

if TYPE_CHECKING:
    from server.auctions.batching import LotBatcher
    from server.auctions.bids import QueuedBid
    from server.auctions.models import Bid, Lot
    from server.core.db import UnitOfWork
    from server.core.metrics import Metrics
    from server.payments.gateway import StripeGateway
    from server.realtime.hub import Hub
    from server.sales.window import WindowEnds
    from server.scheduling.scheduler import Scheduler
    from server.users.service import SeenUsers


class AfterClose(Protocol):
    """What follows a lot's close, in the close's own unit of work.

    `bid` is the winner (the hammer, or a buy-now), None when the lot closed
    without a sale (unsold, withdrawn). `server.sales.offers.lot_closed`, wired
    by the app factory: auctions decides who won and never imports what a sale
    does next.
    """

    async def __call__(
        self, uow: UnitOfWork, context: AppContext, lot: Lot, bid: Bid | None
    ) -> None: ...


class CreateIntent(Protocol):
    """Ask Stripe for a CREATING payment's PaymentIntent; True once its window is open.

    `server.sales.intents.create_intent`, wired by the app factory. Reached
    through the context (`server.sales.schedule.create_intent_after_commit`)
    so the modules that make a payment (offers, invoices) never import the
    Stripe path, whose off-session charge (`auto_charge`) applies outcomes
    that lead back to them.
    """

    async def __call__(self, context: AppContext, payment_id: int) -> bool: ...


@dataclass
class AppContext:
    settings: Settings
    db: Database
    hub: Hub
    metrics: Metrics
    stripe: StripeGateway
    seen_users: SeenUsers
    bid_limiter: RateLimiter
    after_close: AfterClose
    create_intent: CreateIntent
    scheduler: Scheduler | None = None
    #: Bids queued per lot, applied in batches; made on the first bid.
    bid_batcher: LotBatcher[QueuedBid] | None = None
    #: Transactions of payment jobs this process runs at once: well below the pool,
    #: so a burst of lapsing windows queues here, not for connections (`sales.job_slots`).
    payment_job_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    #: Background Stripe calls of payment jobs this process makes at once (no connection
    #: is held meanwhile), so a burst neither floods Stripe nor piles up on a hung one.
    stripe_job_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(16))
    #: Window ends claimed, asked of Stripe and applied in batches; made on the first one.
    window_ends: WindowEnds | None = None


CONTEXT = web.AppKey("context", AppContext)


def context_of(request: web.Request) -> AppContext:
    return request.app[CONTEXT]
