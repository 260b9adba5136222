"""What a request, socket event or job needs from the running server, in one object."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from server.core.db import Database
from server.core.ratelimit import RateLimiter
from server.settings import Settings

if TYPE_CHECKING:
    from server.auctions.batching import LotBatcher
    from server.auctions.bids import QueuedBid
    from server.core.metrics import Metrics
    from server.payments.gateway import StripeGateway
    from server.realtime.hub import Hub
    from server.scheduling.scheduler import Scheduler
    from server.users.service import SeenUsers


@dataclass
class AppContext:
    settings: Settings
    db: Database
    hub: Hub
    metrics: Metrics
    stripe: StripeGateway
    seen_users: SeenUsers
    bid_limiter: RateLimiter
    scheduler: Scheduler | None = None
    #: Bids queued per lot, applied in batches; made on the first bid.
    bid_batcher: LotBatcher[QueuedBid] | None = None
    #: Payment jobs (they wait on Stripe) this process runs at once: well below the
    #: pool, so a burst of lapsing windows queues here, not for connections.
    payment_job_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))


CONTEXT = web.AppKey("context", AppContext)


def context_of(request: web.Request) -> AppContext:
    return request.app[CONTEXT]
