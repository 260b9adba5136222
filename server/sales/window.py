"""The end of a payment window: at `expires_at` the intent is cancelled, then the payment ends.

Claimed in one autocommitted statement (a lease in the row keeps other jobs
off), Stripe is asked with no transaction open, and the answer is applied in a
transaction that re-checks the row under its lock, through the table in
`intent_states`: paid meanwhile is a success, processing waits, anything else
expires (a strike, `payment_expired`, the expiry policy). A success webhook
arriving meanwhile simply wins: the transaction sees it paid.

Stripe is asked before the payment ends because its answer decides the
outcome (SPEC 9: succeeded → the sale, processing → wait).

A process's window ends go through one `WindowEnds` (`window_ends(context)`),
so that windows lapsing together share their database work instead of queueing
for it one by one:

- the date jobs of windows lapsing at the same moment are claimed in one
  statement (`claim_due_windows`), each once its Stripe slot is held; two
  claim statements may be under way at once (`PIPELINE`);
- each window's Stripe call runs on its own, in its Stripe slot;
- the answers that mean "expired" for a lot's payment (the common case) are
  applied together: whatever has arrived while the previous batch was being
  written goes in the next batch, one transaction of a fixed number of
  statements (`apply_window_ends`, `expiry.expire_lot_payments`), within one
  database slot, two batches at most at once. Any other answer (succeeded,
  processing) and an invoice's payment take the one-window path
  (`apply_window_end`), as does every window of a batch whose transaction
  failed, so one window that cannot be ended never holds up the others.

`tasks.expire_due_windows` (the sweep) hands its claims to the same batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, any_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from server.auctions import lifecycle
from server.core.context import AppContext
from server.core.logging import bind
from server.payments import backoff
from server.payments.locking import lock_payment, lock_payments
from server.payments.models import WINDOW_STATES, Payment
from server.sales.cancellation import (
    StripeAnswer,
    after_cancel_attempt,
    cancel_at_stripe,
    cancel_key_of,
)
from server.sales.expiry import expire_lot_payments
from server.sales.intent_states import Source, Transition, apply_intent, transition_for
from server.sales.job_slots import SWEEP_BATCH, job_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedWindow:
    """A lapsed window this job holds the lease of: what its Stripe call needs."""

    payment_id: int
    lot_id: int | None
    intent_id: str
    cancel_key: str


_OWN = bindparam("own", type_=ARRAY(BigInteger))


def _due(
    due_by: ColumnElement[Any], own: ColumnElement[Any], now: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    return [
        Payment.status.in_(WINDOW_STATES),
        or_(Payment.expires_at <= due_by, and_(Payment.id == any_(own), Payment.expires_at <= now)),
        Payment.stripe_payment_intent_id.is_not(None),
        or_(Payment.stripe_lease_until.is_(None), Payment.stripe_lease_until <= now),
    ]


#: An instant before any window: as `due_by`, it leaves only the `own` windows due.
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)

_DUE = _due(bindparam("due_by"), _OWN, bindparam("now"))

#: Up to `limit` windows lapsed by `due_by` (and the lapsed windows `own`, first), oldest
#: first, leased in one statement: rows another transaction holds are skipped, and the
#: outer WHERE re-checks each row it leases.
CLAIM_DUE_WINDOWS = (
    update(Payment)
    .where(
        Payment.id.in_(
            select(Payment.id)
            .where(*_DUE)
            .order_by((Payment.id == any_(_OWN)).desc(), Payment.expires_at)
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
    context: AppContext,
    limit: int,
    *,
    grace: timedelta | None,
    own: Sequence[int] = (),
) -> list[ClaimedWindow]:
    """Lease up to `limit` windows: those of `own` that lapsed, then any lapsed `grace` ago.

    With `grace` None, only `own`. One statement, its own transaction (autocommit),
    within a database slot.
    """
    now = lifecycle.utcnow()
    params = {
        "now": now,
        "due_by": now - grace if grace is not None else _NEVER,
        "own": list(own),
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

    The `expire:{payment_id}` date job. "expired", "succeeded" or "processing";
    None when there was nothing to do: not lapsed, decided already, or another
    job holds it.
    """
    return await window_ends(context).end_own(payment_id)


def window_ends(context: AppContext) -> WindowEnds:
    """The process's `WindowEnds` (made on first use)."""
    if context.window_ends is None:
        context.window_ends = WindowEnds(context)
    return context.window_ends


#: Claim statements, and batch transactions, a process runs at once: while one is being
#: written the next can start (two of the four database slots, `job_slots`).
PIPELINE = 2


@dataclass(slots=True)
class _Answered:
    window: ClaimedWindow
    answer: StripeAnswer
    result: asyncio.Future[str | None]


class WindowEnds:
    """A process's window ends: claims of windows lapsing together in one statement, one
    Stripe call per window, the answers applied in batches (see the module's docstring)."""

    def __init__(self, context: AppContext) -> None:
        self._context = context
        #: Date jobs waiting for their window's claim: payment id → its outcome.
        self._wanted: dict[int, asyncio.Future[str | None]] = {}
        #: Windows this process has claimed and not ended yet: payment id → its outcome.
        self._ending: dict[int, asyncio.Future[str | None]] = {}
        #: Stripe's answers waiting for the next batch.
        self._answered: list[_Answered] = []
        #: Claim statements and batch transactions under way (each at most `PIPELINE`).
        self._claiming = 0
        self._applying = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    async def end_own(self, payment_id: int) -> str | None:
        """End the window of `payment_id` if it lapsed and no one else holds it."""
        if payment_id in self._wanted:
            return None  # a date job of this process is already on it
        if payment_id in self._ending:  # this process's sweep is ending it: its outcome
            return await asyncio.shield(self._ending[payment_id])
        result: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._wanted[payment_id] = result
        if self._claiming < PIPELINE:  # this job claims the wanted windows itself: no task hop
            await self._claim_wanted()
        return await result

    def end_claimed(self, window: ClaimedWindow) -> asyncio.Future[str | None]:
        """A window claimed with a Stripe slot held for it: ask Stripe, then end it.

        The slot is given back once Stripe has answered; the future is the outcome.
        """
        result: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._track(window.payment_id, result)
        self._spawn(self._ask_stripe(window, result))
        return result

    def _track(self, payment_id: int, result: asyncio.Future[str | None]) -> None:
        """`payment_id`'s window is being ended here, with `result` for its outcome."""
        self._ending[payment_id] = result

        def done(_: object) -> None:
            if self._ending.get(payment_id) is result:
                del self._ending[payment_id]

        result.add_done_callback(done)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _claim_wanted(self) -> None:
        self._claiming += 1
        try:
            await self._claim_wanted_windows()
        finally:
            self._claiming -= 1

    async def _claim_wanted_windows(self) -> None:
        """Claim the wanted windows, as many per statement as there are free Stripe slots."""
        slots = self._context.stripe_job_slots
        while self._wanted:
            await slots.acquire()
            held = 1
            while held < min(len(self._wanted), SWEEP_BATCH) and not slots.locked():
                await slots.acquire()
                held += 1
            if not self._wanted:  # the other claimer took them meanwhile
                for _ in range(held):
                    slots.release()
                break
            ids = list(self._wanted)[:held]
            wanted = {payment_id: self._wanted.pop(payment_id) for payment_id in ids}
            try:
                windows = await claim_due_windows(self._context, held, grace=None, own=ids)
            except BaseException as error:
                for _ in range(held):
                    slots.release()
                for result in wanted.values():
                    _fail(result, error)
                if not isinstance(error, Exception):
                    raise
                continue
            for _ in range(held - len(windows)):
                slots.release()
            for window in windows:
                result = wanted.pop(window.payment_id)
                self._track(window.payment_id, result)
                self._spawn(self._ask_stripe(window, result))
            for payment_id, result in wanted.items():  # not lapsed, decided, held elsewhere
                ending = self._ending.get(payment_id)
                if ending is not None:  # by this process's sweep meanwhile: its outcome
                    ending.add_done_callback(partial(_copy_outcome, result))
                elif not result.done():
                    result.set_result(None)

    async def _ask_stripe(self, window: ClaimedWindow, result: asyncio.Future[str | None]) -> None:
        with bind(payment_id=window.payment_id, lot_id=window.lot_id):
            try:
                answer = await cancel_at_stripe(self._context, window.intent_id, window.cancel_key)
            except BaseException as error:
                _fail(result, error)
                if not isinstance(error, Exception):
                    raise
                return
            finally:
                self._context.stripe_job_slots.release()
        self._answered.append(_Answered(window, answer, result))
        if self._applying < PIPELINE:
            self._applying += 1
            self._spawn(self._apply_answered())

    async def _apply_answered(self) -> None:
        try:
            await self._apply_answered_batches()
        finally:
            self._applying -= 1

    async def _apply_answered_batches(self) -> None:
        """Apply the answers in batches: each batch is what arrived while the last was written."""
        while self._answered:
            batch = self._answered[:SWEEP_BATCH]
            del self._answered[:SWEEP_BATCH]
            try:
                outcomes = await apply_answers(
                    self._context, [(item.window, item.answer) for item in batch]
                )
            except BaseException as error:
                for item in batch:
                    _fail(item.result, error)
                raise
            for item, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    _fail(item.result, outcome)
                elif not item.result.done():
                    item.result.set_result(outcome)


def _copy_outcome(result: asyncio.Future[str | None], ending: asyncio.Future[str | None]) -> None:
    if result.done():
        return
    if ending.cancelled():
        result.cancel()
    elif (error := ending.exception()) is not None:
        result.set_exception(error)
    else:
        result.set_result(ending.result())


def _fail(result: asyncio.Future[str | None], error: BaseException) -> None:
    if result.done():
        return
    if isinstance(error, Exception):
        result.set_exception(error)
    else:
        result.cancel()


async def apply_answers(
    context: AppContext, answered: Sequence[tuple[ClaimedWindow, StripeAnswer]]
) -> list[str | Exception | None]:
    """Stripe's answers for claimed windows, applied; each window's outcome, or its error.

    The answers that expire a lot's payment are applied together in one transaction
    (`apply_window_ends`); any other (succeeded, processing, an invoice's payment) on
    its own (`apply_window_end`), as is each window of a batch whose transaction
    failed: one window that cannot be ended holds up no other.
    """
    together = [i for i, (window, answer) in enumerate(answered) if _expires(window, answer)]
    alone = [i for i in range(len(answered)) if i not in set(together)]
    outcomes: list[str | Exception | None] = [None] * len(answered)

    async def one(index: int) -> None:
        window, answer = answered[index]
        with bind(payment_id=window.payment_id, lot_id=window.lot_id):
            try:
                outcomes[index] = await apply_window_end(context, window, answer)
            except Exception as error:
                outcomes[index] = error  # the caller logs it

    async def batch() -> None:
        try:
            ended = await apply_window_ends(context, [answered[i] for i in together])
        except Exception:
            log.warning(
                "a batch of %s window ends failed; each is applied on its own",
                len(together),
                exc_info=True,
            )
            await asyncio.gather(*(one(i) for i in together))
            return
        for i in together:
            outcomes[i] = ended[answered[i][0].payment_id]

    await asyncio.gather(*([batch()] if together else []), *(one(i) for i in alone))
    return outcomes


def _expires(window: ClaimedWindow, answer: StripeAnswer) -> bool:
    """A lot's payment whose answer means it expires: it can be applied with others."""
    expires = transition_for(answer.status, Source.WINDOW_END) is Transition.EXPIRE
    return expires and window.lot_id is not None


async def apply_window_ends(
    context: AppContext, answered: Sequence[tuple[ClaimedWindow, StripeAnswer]]
) -> dict[int, str | None]:
    """Answers that expire lots' payments, applied in one transaction (one database slot).

    Each payment is re-checked under its row lock (all taken in one statement, in id
    order), as in `apply_window_end`: one a webhook decided meanwhile is left as it is.
    Returns each payment's outcome ("expired", or None when there was nothing to do).
    """
    outcomes: dict[int, str | None] = {window.payment_id: None for window, _ in answered}
    async with job_transaction(context) as uow:
        payments = {p.id: p for p in await lock_payments(uow, sorted(outcomes))}
        ending = []
        for window, answer in answered:
            payment = payments.get(window.payment_id)
            if payment is None:
                continue
            payment.stripe_lease_until = None
            if payment.status in WINDOW_STATES:  # else a webhook decided meanwhile
                ending.append((payment, answer))
        if ending:
            await expire_lot_payments(uow, context, [payment for payment, _ in ending])
        for payment, answer in ending:
            after_cancel_attempt(context, payment, answer)
            outcomes[payment.id] = "expired"
    return outcomes


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
