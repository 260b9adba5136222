"""The background job that delivers the outbox: `deliver_due_emails(context)`.

Every `OUTBOX_INTERVAL` each server process claims due pending messages
(`FOR UPDATE SKIP LOCKED`) by leasing them for `LEASE_SECONDS` and commits
at once; it sends them with no transaction open, then records the batch's
deliveries in one short transaction (one statement) and each failure in its
own. Why a lease and not a row lock held over the send: a lock would keep a
database connection and an open transaction for every SMTP round trip, taking
connections from requests when the mail server is slow; a lease holds nothing.

The guarantee is at-least-once, and never two concurrent sends of one message:

- Two processes never hold the same lease: the claim is one statement under
  row locks, and the lease lives in the row.
- A worker starts a send only if it can finish before its lease ends (every
  send is bounded by `SEND_TIMEOUT_SECONDS`), measured on its own monotonic
  clock from before the claim; what it cannot start in time it hands back.
- A crash (or a lost database connection) after a send but before its
  outcome is recorded means the message is sent again once the lease ends:
  a duplicate, never a loss. Each re-send carries the same Message-ID.

Failures count an attempt and back off exponentially (`retry_delay`); after
`MAX_ATTEMPTS`, or at once when the server refuses the recipient for good,
the message is dead with its last error kept for operators.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from server.core.context import AppContext
from server.core.logging import bind
from server.notifications import repository
from server.notifications.mailer import (
    SEND_TIMEOUT_SECONDS,
    DeliveryError,
    Mailer,
    OutgoingEmail,
    mailer_for,
)
from server.notifications.repository import ClaimedMessage
from server.scheduling.scheduler import Scheduler

log = logging.getLogger(__name__)

BATCH_SIZE = 100
LEASE_SECONDS = 120.0
#: Slack kept between the last send's timeout and the lease's end.
LEASE_MARGIN_SECONDS = 10.0
MAX_ATTEMPTS = 10
MAX_RETRY_DELAY_SECONDS = 600.0


def retry_delay(attempts: int, base_seconds: float) -> float:
    """Wait after the `attempts`-th failure: base, 2 base, 4 base... at most 10 minutes."""
    return min(base_seconds * 2.0 ** max(attempts - 1, 0), MAX_RETRY_DELAY_SECONDS)


async def deliver_due_emails(context: AppContext, *, batch_size: int = BATCH_SIZE) -> int:
    """Deliver what is due, batch after batch; returns how many messages were tried."""
    mailer = mailer_for(context.settings.smtp_url)
    loop = asyncio.get_running_loop()
    started_with = context.scheduler
    tried = 0
    while True:
        claimed_at = loop.time()
        # One statement (claim and lease), so its own transaction: no BEGIN/COMMIT round trips.
        async with context.db.autocommit() as session:
            batch = await repository.claim_due(
                session, limit=batch_size, lease_seconds=LEASE_SECONDS
            )
        if not batch:
            return tried
        deadline = claimed_at + LEASE_SECONDS - LEASE_MARGIN_SECONDS
        tried += await _deliver_batch(context, mailer, batch, deadline, started_with)
        # A smaller batch means nothing else is due.
        if len(batch) < batch_size or _shutting_down(context, started_with):
            return tried


def _shutting_down(context: AppContext, started_with: Scheduler | None) -> bool:
    # The app clears `context.scheduler` when it stops: take no new work after that.
    return context.scheduler is not started_with


async def _deliver_batch(
    context: AppContext,
    mailer: Mailer,
    batch: Sequence[ClaimedMessage],
    deadline: float,
    started_with: Scheduler | None,
) -> int:
    """Send `batch` in order until `deadline` (loop time); returns how many were tried."""
    loop = asyncio.get_running_loop()
    server_down: DeliveryError | None = None
    delivered: list[ClaimedMessage] = []
    for index, message in enumerate(batch):
        out_of_time = loop.time() + SEND_TIMEOUT_SECONDS > deadline
        if out_of_time or _shutting_down(context, started_with):
            await _record_sent(context, delivered, mailer.delivered_outcome)
            async with context.db.unit_of_work() as uow:
                await repository.release(uow.session, batch[index:])
            return index
        with bind(outbox_id=message.id, email_topic=message.topic):
            if server_down is not None:
                # The server refused the previous message as a whole; this one would fail too.
                await _record_failure(context, message, server_down)
                continue
            try:
                await mailer.send(_outgoing(message))
            except DeliveryError as error:
                await _record_failure(context, message, error)
                if error.server_down:
                    server_down = error
            except Exception as exc:
                log.exception("e-mail delivery failed unexpectedly")
                await _record_failure(context, message, DeliveryError(type(exc).__name__))
            else:
                delivered.append(message)
        # Let bids in between messages: a mailer that returns without waiting (the log
        # mailer, an SMTP refusal) would otherwise hold the loop for the whole batch;
        # under a bid storm that was a burst of ~100 ms of e-mails once a second.
        await asyncio.sleep(0)
    await _record_sent(context, delivered, mailer.delivered_outcome)
    return len(batch)


def _outgoing(message: ClaimedMessage) -> OutgoingEmail:
    if not message.recipient_email:
        raise DeliveryError("the message has no recipient address", permanent=True)
    return OutgoingEmail(
        id=message.id,
        topic=message.topic,
        recipient=message.recipient_email,
        subject=message.subject,
        body=message.body,
        created_at=message.created_at,
    )


async def _record_sent(
    context: AppContext, delivered: Sequence[ClaimedMessage], outcome: str
) -> None:
    """Mark a batch's deliveries sent in one transaction (still inside their leases).

    One statement for the batch instead of one transaction per e-mail: a busy
    auction queues an outbid e-mail for most bids. A crash before this line
    re-sends the batch's e-mails once their leases end (at-least-once, as ever).
    """
    if not delivered:
        return
    async with context.db.autocommit() as session:
        recorded = await repository.mark_sent_many(session, delivered)
    context.metrics.emails.labels(outcome=outcome).inc(len(delivered))
    for message in delivered:
        if message.id not in recorded:
            log.warning("e-mail %s was delivered after its lease ran out", message.id)


async def _record_failure(
    context: AppContext, message: ClaimedMessage, error: DeliveryError
) -> None:
    attempts = message.attempts + 1
    give_up = error.permanent or attempts >= MAX_ATTEMPTS
    delay = retry_delay(attempts, context.settings.email_retry_base_seconds)
    async with context.db.unit_of_work() as uow:
        recorded = await repository.mark_failed(
            uow.session, message, error=str(error), give_up=give_up, retry_in_seconds=delay
        )
    if not recorded:
        log.warning("e-mail %s failed after its lease ran out: %s", message.id, error)
        return
    if give_up:
        context.metrics.emails.labels(outcome="dead").inc()
        log.error("e-mail %s is dead after %d attempt(s): %s", message.id, attempts, error)
    else:
        context.metrics.emails.labels(outcome="failed").inc()
        log.warning(
            "e-mail %s failed (attempt %d), retrying in %.1f s: %s",
            message.id,
            attempts,
            delay,
            error,
        )
