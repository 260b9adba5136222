"""Prometheus metrics, one registry per app so tests can run several apps at once."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
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
        self.sockets_connected = Gauge(
            "auction_sockets_connected", "Socket.IO connections on this process", registry=r
        )
        self.payments_by_status = Gauge(
            "auction_payments", "Payments by status (refreshed on scrape)", ["status"], registry=r
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
