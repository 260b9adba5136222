"""The end of a payment window: at `expires_at` the intent is cancelled, then the payment ends.

Claimed in a short transaction (a lease in the row keeps other jobs off),
Stripe is asked with no transaction open, and the answer is applied in a
second transaction that re-checks the row under its lock, through the table
in `intent_states`: paid meanwhile is a success, processing waits, anything
else expires (a strike, `payment_expired`, the expiry policy). A success
webhook arriving meanwhile simply wins: the second transaction sees it paid.

Stripe is asked before the payment ends because its answer decides the
outcome (SPEC 9: succeeded → the sale, processing → wait). Jobs claim lapsed
windows in batches, one statement each (`claim_due_windows`, driven by
`tasks.expire_due_windows`); a claim waits for a Stripe slot per window and
each transaction for a database slot (`job_slots`), so windows do not queue
behind one another's Stripe round trips. `expire_payment_window` does the same
for one given payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, update

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.logging import bind
from server.payments import backoff
from server.payments.locking import lock_payment
from server.payments.models import WINDOW_STATES, Payment
from server.sales.cancellation import (
    StripeAnswer,
    after_cancel_attempt,
    cancel_at_stripe,
    cancel_key_of,
)
from server.sales.intent_states import Source, Transition, apply_intent
from server.sales.job_slots import job_transaction


@dataclass(frozen=True, slots=True)
class ClaimedWindow:
    """A lapsed window this job holds the lease of: what its Stripe call needs."""

    payment_id: int
    lot_id: int | None
    intent_id: str
    cancel_key: str


def _due(
    due_by: ColumnElement[Any], own: ColumnElement[Any], now: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    return [
        Payment.status.in_(WINDOW_STATES),
        or_(Payment.expires_at <= due_by, and_(Payment.id == own, Payment.expires_at <= now)),
        Payment.stripe_payment_intent_id.is_not(None),
        or_(Payment.stripe_lease_until.is_(None), Payment.stripe_lease_until <= now),
    ]


#: An instant before any window: as `due_by`, it leaves only the `own` window due.
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)

_DUE = _due(bindparam("due_by"), bindparam("own"), bindparam("now"))

#: Up to `limit` windows lapsed by `due_by` (and the lapsed window `own`, first), oldest
#: first, leased in one statement: rows another transaction holds are skipped, and the
#: outer WHERE re-checks each row it leases.
CLAIM_DUE_WINDOWS = (
    update(Payment)
    .where(
        Payment.id.in_(
            select(Payment.id)
            .where(*_DUE)
            .order_by((Payment.id == bindparam("own")).desc(), Payment.expires_at)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
        ),
        *_DUE,
    )
    .values(stripe_lease_until=bindparam("lease_until"))
    .returning(
        Payment.id,
        Payment.lot_id,
        Payment.stripe_payment_intent_id,
        Payment.idempotency_key,
        Payment.expires_at,
    )
    .execution_options(synchronize_session=False)
)


async def claim_due_windows(
    context: AppContext, limit: int, *, grace: timedelta | None, own: int | None = None
) -> list[ClaimedWindow]:
    """Lease up to `limit` windows: `own` if it has lapsed, then any lapsed `grace` ago.

    With `grace` None, only `own`. One statement, its own transaction (autocommit),
    within a database slot.
    """
    now = lifecycle.utcnow()
    params = {
        "now": now,
        "due_by": now - grace if grace is not None else _NEVER,
        "own": own if own is not None else 0,
        "limit": limit,
        "lease_until": now + backoff.lease(context, 2),
    }
    async with context.payment_job_slots, context.db.autocommit() as session:
        rows = (await session.execute(CLAIM_DUE_WINDOWS, params)).all()
    lag = context.metrics.scheduler_lag.labels(job="expire")
    claimed = []
    for payment_id, lot_id, intent_id, key, expires_at in rows:
        assert intent_id is not None and expires_at is not None  # both in the claim's WHERE
        lag.observe((now - expires_at).total_seconds())
        claimed.append(ClaimedWindow(payment_id, lot_id, intent_id, cancel_key_of(key)))
    return claimed


async def expire_payment_window(context: AppContext, payment_id: int) -> str | None:
    """At `expires_at`: cancel at Stripe, then end the payment, or let a success through.

    The `expire:{payment_id}` date job. None when there was nothing to do: not
    lapsed, decided already, or another job holds it.
    """
    await context.stripe_job_slots.acquire()
    try:
        claimed = await claim_due_windows(context, 1, grace=None, own=payment_id)
    except BaseException:
        context.stripe_job_slots.release()
        raise
    if not claimed:
        context.stripe_job_slots.release()
        return None
    return await end_claimed_window(context, claimed[0])


async def end_claimed_window(context: AppContext, claim: ClaimedWindow) -> str | None:
    """A claimed window: ask Stripe, then apply the answer.

    The caller took a Stripe slot for it before the claim; it is given back once
    Stripe has answered.
    """
    with bind(payment_id=claim.payment_id, lot_id=claim.lot_id):
        try:
            answer = await cancel_at_stripe(context, claim.intent_id, claim.cancel_key)
        finally:
            context.stripe_job_slots.release()
        return await apply_window_end(context, claim, answer)


async def apply_window_end(
    context: AppContext, claim: ClaimedWindow, answer: StripeAnswer
) -> str | None:
    """Stripe's answer to the cancel, applied under the row lock (within a database slot)."""
    async with job_transaction(context) as uow:
        payment = await lock_payment(uow, claim.payment_id)
        if payment is None:
            return None
        payment.stripe_lease_until = None
        if payment.status not in WINDOW_STATES:
            return None  # a webhook decided meanwhile
        intent = answer.intent.to_dict() if answer.intent is not None else None
        transition, _outcome = await apply_intent(
            uow, context, payment, answer.status, intent, Source.WINDOW_END
        )
        if transition is Transition.SUCCEED:
            return "succeeded"
        if transition is Transition.RECHECK:
            return "processing"
        after_cancel_attempt(context, payment, answer)
        return "expired"
