"""Prometheus metrics, one registry per app so tests can run several apps at once.

Counters and histograms are per process (Prometheus sums them across
replicas). `auction_payments` is different: it is read from the database on
every scrape, so every replica reports the same, true number; aggregate it
with `max`, not `sum`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text

from server.core.db import Database

log = logging.getLogger(__name__)

_PAYMENTS_BY_STATUS = text("SELECT status, count(*) FROM payments GROUP BY status")
_PAYMENTS_NEEDING_ATTENTION = text("SELECT count(*) FROM payments WHERE attention IS NOT NULL")


class Metrics:
    def __init__(self, *, payment_statuses: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fanout_frames = Counter(
            "auction_fanout_frames",
            "Broadcast frames per recipient, by path: written directly, or queued on "
            "python-socketio's own path (long-polling, mid-upgrade, backed-up sockets)",
            ["path"],
            registry=r,
        )
        self._fanout_direct = self.fanout_frames.labels(path="direct")
        self._fanout_queued = self.fanout_frames.labels(path="queued")
        self.fanout_slow_disconnects = Counter(
            "auction_fanout_slow_disconnects",
            "Sockets dropped because they could not keep up with broadcasts",
            registry=r,
        )
        self.fanout_write_buffer = Gauge(
            "auction_fanout_write_buffer_max_bytes",
            "Largest transport write buffer among the last broadcast's websocket recipients",
            registry=r,
        )
        self.gc_pauses = Histogram(
            "auction_gc_pause_seconds",
            "Garbage-collector pauses of this process, by generation",
            ["generation"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
            registry=r,
        )
        self.payment_statuses = tuple(payment_statuses)
        self.bids_accepted = Counter("auction_bids_accepted", "Bids accepted", registry=r)
        self.bids_refused = Counter(
            "auction_bids_refused", "Bids refused, by error code", ["code"], registry=r
        )
        self.bid_latency = Histogram(
            "auction_bid_latency_seconds",
            "Time to decide a bid, from receipt to ack",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.bid_batch_size = Histogram(
            "auction_bid_batch_size",
            "Bids applied together under one lot lock and one commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.sockets_connected = Gauge(
            "auction_sockets_connected", "Socket.IO connections on this process", registry=r
        )
        self.payments_by_status = Gauge(
            "auction_payments",
            "Payments by status, read from the database on each scrape",
            ["status"],
            registry=r,
        )
        self.webhook_events = Counter(
            "auction_webhook_events",
            "Stripe webhook events, by type and outcome",
            ["type", "outcome"],
            registry=r,
        )
        self.scheduler_lag = Histogram(
            "auction_scheduler_lag_seconds",
            "Delay between when a scheduled transition was due and when it ran",
            ["job"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.emails = Counter(
            "auction_emails", "Outbox e-mails, by outcome", ["outcome"], registry=r
        )
        self.redis_up = Gauge(
            "auction_redis_up",
            "1 while this process is subscribed to Redis, 0 while it is not (or without Redis)",
            registry=r,
        )
        self.redis_publish_failures = Counter(
            "auction_redis_publish_failures",
            "Emits that could not be published to the other processes",
            registry=r,
        )
        self.redis_reconnects = Counter(
            "auction_redis_reconnects", "Redis outages this process recovered from", registry=r
        )
        self.stripe_errors = Counter(
            "auction_stripe_errors",
            "Stripe errors on payments, by operation and kind (transient or permanent)",
            ["operation", "kind"],
            registry=r,
        )
        self.payment_attention = Counter(
            "auction_payment_attention_flagged",
            "Payments flagged for an admin because Stripe permanently refused, by code",
            ["code"],
            registry=r,
        )
        self.payments_needing_attention = Gauge(
            "auction_payments_needing_attention",
            "Payments with `attention` set, read from the database on each scrape",
            registry=r,
        )
        self.webhook_unmatched = Counter(
            "auction_webhook_unmatched",
            "Signed Stripe events about intents that are not ours (recorded as ignored)",
            ["reason"],
            registry=r,
        )
        self.job_failures = Counter(
            "auction_scheduled_job_failures",
            "Scheduled job runs that failed, by job kind and reason",
            ["job", "reason"],
            registry=r,
        )
        self.http_protocol_errors = Counter(
            "auction_http_protocol_errors",
            "Requests refused before routing (malformed, or a line or header too long)",
            ["error"],
            registry=r,
        )
        self.connections_closed = Counter(
            "auction_connections_closed",
            "Connections closed by the guard: header_timeout or per_ip_cap",
            ["reason"],
            registry=r,
        )
        self.scrape_errors = Counter(
            "auction_metrics_refresh_errors",
            "Scrapes whose database read failed (the last values were served)",
            registry=r,
        )

    def observe_fanout(self, direct: int, queued: int, dropped: int, deepest: int) -> None:
        """One broadcast's recipients by path, and the deepest write buffer it saw."""
        if direct:
            self._fanout_direct.inc(direct)
        if queued:
            self._fanout_queued.inc(queued)
        if dropped:
            self.fanout_slow_disconnects.inc(dropped)
        self.fanout_write_buffer.set(deepest)

    async def refresh(self, db: Database) -> None:
        """Read the gauges that live in the database; on failure keep the last values."""
        try:
            async with db.engine.connect() as conn:
                counts = {
                    str(status): int(n) for status, n in await conn.execute(_PAYMENTS_BY_STATUS)
                }
                attention = int((await conn.execute(_PAYMENTS_NEEDING_ATTENTION)).scalar() or 0)
        except Exception as exc:
            self.scrape_errors.inc()
            log.warning("metrics: could not read payments: %s", type(exc).__name__)
            return
        self.payments_needing_attention.set(attention)
        for status in {*self.payment_statuses, *counts}:
            self.payments_by_status.labels(status=status).set(counts.get(status, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
