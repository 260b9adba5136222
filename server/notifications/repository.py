"""Outbox rows: claiming due messages under a lease, and recording what happened.

A claim sets `next_attempt_at` to the end of a lease, in the same statement
that locks the rows with `FOR UPDATE SKIP LOCKED`, then commits. While the
lease runs no other process sees the rows as due. The lease's end, exactly as
stored, is the claim's fencing token: an outcome is recorded only while the
row still carries it, so a worker that lost its lease cannot overwrite the
work of the one that took over. Times are the database's, so clocks of
different hosts never matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, DateTime, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.notifications.models import OutboxMessage

PENDING, SENT, DEAD = "pending", "sent", "dead"


def _db_now() -> ColumnElement[datetime]:
    # Constant within one statement, unlike clock_timestamp(); later than now().
    return func.statement_timestamp(type_=DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    topic: str
    recipient_email: str | None
    subject: str
    body: str
    attempts: int
    created_at: datetime
    lease: datetime


async def claim_due(
    session: AsyncSession, *, limit: int, lease_seconds: float
) -> list[ClaimedMessage]:
    """Lease up to `limit` due pending messages, oldest first; the caller commits."""
    now = _db_now()
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id == due.c.id)
        .values(next_attempt_at=_db_now() + timedelta(seconds=lease_seconds))
        .returning(
            OutboxMessage.id,
            OutboxMessage.topic,
            OutboxMessage.recipient_email,
            OutboxMessage.subject,
            OutboxMessage.body,
            OutboxMessage.attempts,
            OutboxMessage.created_at,
            OutboxMessage.next_attempt_at,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    claimed = [
        ClaimedMessage(
            id=row.id,
            topic=row.topic,
            recipient_email=row.recipient_email,
            subject=row.subject,
            body=row.body,
            attempts=row.attempts,
            created_at=row.created_at,
            lease=row.next_attempt_at,
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda message: message.id)


def _held(message: ClaimedMessage) -> list[ColumnElement[bool]]:
    return [
        OutboxMessage.id == message.id,
        OutboxMessage.status == PENDING,
        OutboxMessage.next_attempt_at == message.lease,
    ]


async def mark_sent(session: AsyncSession, message: ClaimedMessage) -> bool:
    """Record a delivery; False when the claim's lease was lost meanwhile."""
    return message.id in await mark_sent_many(session, [message])


_MARK_SENT = text(
    """
    UPDATE outbox SET status = 'sent', sent_at = statement_timestamp(),
        attempts = outbox.attempts + 1, last_error = NULL
    FROM unnest(CAST(:ids AS bigint[]), CAST(:leases AS timestamptz[])) AS held(id, lease)
    WHERE outbox.id = held.id AND outbox.status = 'pending' AND outbox.next_attempt_at = held.lease
    RETURNING outbox.id
    """
)


async def mark_sent_many(session: AsyncSession, messages: Sequence[ClaimedMessage]) -> set[int]:
    """Record deliveries in one statement; returns the ids whose lease was still held."""
    if not messages:
        return set()
    params = {"ids": [m.id for m in messages], "leases": [m.lease for m in messages]}
    return set((await session.execute(_MARK_SENT, params)).scalars())


async def mark_failed(
    session: AsyncSession,
    message: ClaimedMessage,
    *,
    error: str,
    give_up: bool,
    retry_in_seconds: float,
) -> bool:
    """Record a failed attempt: dead when `give_up`, else due again after the delay."""
    statement = (
        update(OutboxMessage)
        .where(*_held(message))
        .values(
            status=DEAD if give_up else PENDING,
            attempts=OutboxMessage.attempts + 1,
            last_error=error,
            next_attempt_at=_db_now() + timedelta(seconds=retry_in_seconds),
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def release(session: AsyncSession, messages: Sequence[ClaimedMessage]) -> None:
    """Hand back messages that were claimed but not tried: due again at once, no attempt."""
    for message in messages:
        await session.execute(
            update(OutboxMessage)
            .where(*_held(message))
            .values(next_attempt_at=_db_now())
            .execution_options(synchronize_session=False)
        )
