"""The application factory: `create_app(settings)`.

Each resource (database, Stripe client, scheduler) is opened and closed in its
own cleanup context, in that order; cleanup runs in reverse. Sockets are told
goodbye earlier, in `on_shutdown`, so aiohttp does not wait on their open
websockets, and long before the database closes under them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial

from aiohttp import web
from socketio import AsyncServer

from server import auctions, media, notifications, payments, sales
from server import web as demo_page
from server.cards import views as card_views
from server.contract import asyncapi, openapi
from server.core import health, metrics_endpoint
from server.core.access_log import access_log_middleware
from server.core.collector import collector_ctx
from server.core.context import CONTEXT, AppContext
from server.core.cors import cors_middleware
from server.core.db import Database
from server.core.embedded_pg import EmbeddedPostgres
from server.core.http import error_middleware
from server.core.logging import request_context_middleware
from server.core.metrics import Metrics
from server.core.ratelimit import RateLimiter
from server.payments import seller_views as seller_payments
from server.payments.gateway import StripeGateway
from server.payments.models import PaymentStatus
from server.realtime import polling
from server.realtime.compression import without_websocket_deflate
from server.realtime.hub import Hub, make_socketio_server
from server.realtime.namespace import AuctionNamespace
from server.sales import views as sales_views
from server.scheduling.scheduler import Scheduler
from server.settings import Settings
from server.users import me as user_me
from server.users import views as user_views
from server.users.service import SeenUsers

log = logging.getLogger(__name__)

EMBEDDED_PG = web.AppKey("embedded_pg", EmbeddedPostgres)


Prepare = Callable[[AppContext], Awaitable[None]]
PREPARE = web.AppKey("prepare", list[Prepare])


def create_app(
    settings: Settings,
    *,
    run_scheduler: bool = True,
    prepare: Sequence[Prepare] = (),
) -> web.Application:
    """Build the server.

    `prepare` runs right after the database opens, before the scheduler starts
    (the dev command migrates and seeds there). `run_scheduler=False` leaves
    out the background jobs.
    """
    app = web.Application(
        middlewares=[
            request_context_middleware,
            access_log_middleware,
            without_websocket_deflate(),
            cors_middleware(settings.cors_origins),
            error_middleware,
        ],
        client_max_size=settings.max_request_bytes,
    )
    metrics = Metrics(payment_statuses=PaymentStatus)
    sio = make_socketio_server(settings, metrics)
    polling.attach(app, sio)  # sio.attach(app), with a guard on long-polling POSTs
    gateway = StripeGateway(settings)
    context = AppContext(
        settings=settings,
        db=Database(),
        hub=Hub(sio),
        metrics=metrics,
        stripe=gateway,
        seen_users=SeenUsers(),
        bid_limiter=RateLimiter(settings.bid_rate_per_second, settings.bid_rate_burst),
        after_close=sales.lot_closed,
        create_intent=sales.create_intent,
    )
    app[CONTEXT] = context
    if context.hub.redis_link is not None:
        context.hub.redis_link.metrics = context.metrics
        context.hub.redis_link.latest_seqs = partial(auctions.latest_seqs, context)
    app[PREPARE] = list(prepare)

    namespace = AuctionNamespace(
        context,
        handlers={**auctions.SOCKET_HANDLERS, **payments.SOCKET_HANDLERS},
        connect_hooks=[*auctions.CONNECT_HOOKS, *payments.CONNECT_HOOKS],
    )
    sio.register_namespace(namespace)

    health.setup_routes(app)
    metrics_endpoint.setup_routes(app)
    openapi.setup_routes(app, settings)
    asyncapi.setup_routes(app)
    auctions.setup_routes(app)
    media.setup_routes(app, settings)
    payments.setup_routes(app)
    seller_payments.setup_routes(app)
    sales_views.setup_routes(app)
    user_views.setup_routes(app)
    user_me.setup_routes(app)
    card_views.setup_routes(app)
    notifications.setup_routes(app)
    demo_page.setup_routes(app)

    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(metrics_endpoint.metrics_listener_ctx)
    app.cleanup_ctx.append(_stripe_ctx)
    if run_scheduler:
        app.cleanup_ctx.append(_scheduler_ctx)
    app.cleanup_ctx.append(
        collector_ctx(settings.gc_thresholds, metrics.gc_pauses, freeze=settings.gc_freeze)
    )
    app.on_shutdown.append(_stop_gracefully)
    return app


async def _stop_gracefully(app: web.Application) -> None:
    """The first step of a stop (SIGTERM): the listening socket is already closed.

    Running jobs finish (no new ones start), then every socket is told goodbye,
    so clients reconnect to another replica at once and their websocket
    handlers return; aiohttp then waits up to `shutdown_timeout` for the
    in-flight HTTP requests before the cleanup contexts close the database.
    Each step is bounded: aiohttp's own timeout does not cover this one.
    """
    context = app[CONTEXT]
    within = context.settings.shutdown_timeout_seconds
    if context.scheduler is not None:
        unfinished = await context.scheduler.drain(within)
        if unfinished:
            log.warning("%s scheduled jobs did not finish within %s s", unfinished, within)
    await say_goodbye(context.hub.sio, within=min(within, 5.0))


async def say_goodbye(sio: AsyncServer, *, within: float) -> None:
    """Disconnect every client of this process (`io server disconnect`), then stop Socket.IO.

    A client that is itself leaving at this moment can leave its disconnect
    waiting forever on a queue nobody drains, hence the time limit.
    """
    sids = [sid for sid, _eio_sid in sio.manager.get_participants("/", None)]
    try:
        async with asyncio.timeout(within):
            # ignore_queue: these clients are ours; no need to tell the other replicas.
            await asyncio.gather(
                *(sio.disconnect(sid, namespace="/", ignore_queue=True) for sid in sids),
                return_exceptions=True,
            )
            # A websocket takes its goodbye at once. A long-polling client only gets it in a
            # GET it has open: waiting for one with none open (gone, or between two polls
            # while the listener is already closed) would hold the stop until the limit.
            sockets = list(sio.eio.sockets.values())
            reason = sio.eio.reason.SERVER_DISCONNECT
            await asyncio.gather(
                *(s.close(wait=s.upgraded, reason=reason) for s in sockets),
                return_exceptions=True,
            )
            sio.eio.sockets.clear()
    except TimeoutError:
        log.warning("some of %s sockets did not close within %s s", len(sids), within)
    try:
        await sio.shutdown()
    except Exception:
        log.exception("Socket.IO shutdown failed")
    log.info("told %s sockets goodbye", len(sids))


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    context = app[CONTEXT]
    url = context.settings.database_url
    embedded: EmbeddedPostgres | None = None
    if url is None:
        embedded = EmbeddedPostgres(context.settings.data_dir)
        url = embedded.start()
        app[EMBEDDED_PG] = embedded
    context.db.open(url, pool_size=context.settings.db_pool_size)
    for step in app[PREPARE]:
        await step(context)
    try:
        yield
    finally:
        await context.db.dispose()
        if embedded is not None:
            embedded.stop()


async def _stripe_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[CONTEXT].stripe.close()


async def _scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    context = app[CONTEXT]
    scheduler = Scheduler(context.metrics)
    context.scheduler = scheduler
    auctions.install_jobs(context, scheduler)
    sales.install_jobs(context, scheduler)
    notifications.install_jobs(context, scheduler)
    scheduler.start()
    try:
        await auctions.rebuild_schedule(context)
        await sales.rebuild_schedule(context)
    except Exception:
        # The database may come later (`/readyz` says so meanwhile); the sweeps
        # then find every due transition without the precise date jobs.
        log.exception("could not rebuild the schedule at start-up; the sweeps will catch up")
    try:
        yield
    finally:
        scheduler.shutdown()
        context.scheduler = None
