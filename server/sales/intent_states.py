"""The one table from a PaymentIntent's status to what happens to our payment.

Every report about an intent comes through `apply_intent`: a webhook
(`payments.webhooks`; the event type names the status), reconciliation
re-fetching an intent a webhook should have settled, the window's end and a
release (both answers to our cancel). Who reports it is the column: the same
`requires_payment_method` is a counted failure in a webhook and an expiry once
the window has lapsed. Callers hold the payment's row lock and a unit of work.
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum, IntEnum
from typing import Any

from server.auctions import lifecycle
from server.cards.offsession import is_echo
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.models import Payment, PaymentStatus
from server.sales.cancellation import cancel_after_commit
from server.sales.expiry import end_payment
from server.sales.outcomes import (
    record_external_cancel,
    record_failure,
    record_processing,
    record_requires_action,
    record_success,
)
from server.sales.schedule import schedule_expiry_after_commit

#: How long a PROCESSING payment waits, after its window's end, before it is looked at again.
PROCESSING_RECHECK = timedelta(seconds=30)


class Source(IntEnum):
    """Who reports the intent's status: the table's column."""

    WEBHOOK = 0
    RECONCILIATION = 1
    WINDOW_END = 2
    RELEASE = 3


class Transition(Enum):
    SUCCEED = "succeed"  # SUCCEEDED, lot SOLD, receipt (an ended payment: refunded)
    PROCESS = "process"  # PROCESSING: the window does not lapse meanwhile
    RECHECK = "recheck"  # PROCESSING at the window's end: look again shortly
    REQUIRE_ACTION = "require_action"  # REQUIRES_ACTION (3-D Secure and the like)
    FAIL = "fail"  # one failed attempt counted; at the limit FAILED (attempts_exhausted)
    FAIL_IF_UNSEEN = "fail_if_unseen"  # re-fetched: a failure, unless a webhook counted it
    CANCELED_ELSEWHERE = "canceled_elsewhere"  # canceled at Stripe, not by us: no strike
    EXPIRE = "expire"  # the window lapsed unpaid: EXPIRED, a strike, the expiry policy
    RELEASE = "release"  # declined or released: CANCELED, no strike, the expiry policy
    NOTHING = "nothing"


_ = Transition
# fmt: off
#: Intent status → transition, by who reports it (`Source`).
TRANSITIONS: dict[str, tuple[Transition, Transition, Transition, Transition]] = {
    #                           webhook               reconciliation        window end  release
    "succeeded":               (_.SUCCEED,            _.SUCCEED,            _.SUCCEED,  _.SUCCEED),
    "processing":              (_.PROCESS,            _.PROCESS,            _.RECHECK,  _.PROCESS),
    "requires_action":         (_.REQUIRE_ACTION,     _.REQUIRE_ACTION,     _.EXPIRE,   _.RELEASE),
    "requires_payment_method": (_.FAIL,               _.FAIL_IF_UNSEEN,     _.EXPIRE,   _.RELEASE),
    "canceled":                (_.CANCELED_ELSEWHERE, _.CANCELED_ELSEWHERE, _.EXPIRE,   _.RELEASE),
}
#: Any other status, or none (Stripe could not be asked).
OTHERWISE =                    (_.NOTHING,            _.NOTHING,            _.EXPIRE,   _.RELEASE)
# fmt: on


def transition_for(status: str | None, source: Source) -> Transition:
    return TRANSITIONS.get(status or "", OTHERWISE)[source]


async def apply_intent(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    status: str | None,
    intent: dict[str, Any] | None,
    source: Source,
    *,
    event_id: str | None = None,
    release_reason: str = "released",
) -> tuple[Transition, str]:
    """Apply what `status` means from `source`; returns the transition and what it did."""
    transition = transition_for(status, source)
    intent = intent or {}
    match transition:
        case Transition.SUCCEED:
            outcome = await record_success(uow, context, payment, intent, event_id=event_id)
        case Transition.PROCESS:
            outcome = record_processing(uow, payment)
        case Transition.RECHECK:
            outcome = record_processing(uow, payment)
            payment.expires_at = lifecycle.utcnow() + PROCESSING_RECHECK
            schedule_expiry_after_commit(uow, context, payment)
        case Transition.REQUIRE_ACTION:
            outcome = record_requires_action(uow, context, payment)
        case Transition.FAIL | Transition.FAIL_IF_UNSEEN:
            outcome = await _failed(uow, context, payment, intent, transition, event_id)
        case Transition.CANCELED_ELSEWHERE:
            outcome = await record_external_cancel(uow, context, payment)
        case Transition.EXPIRE:
            await end_payment(
                uow, context, payment, status=PaymentStatus.EXPIRED, reason="window_elapsed"
            )
            outcome = "applied"
        case Transition.RELEASE:
            await end_payment(
                uow,
                context,
                payment,
                status=PaymentStatus.CANCELED,
                reason=release_reason,
                strike=False,
            )
            outcome = "applied"
        case Transition.NOTHING:
            outcome = "ignored"
    return transition, outcome


async def _failed(
    uow: UnitOfWork,
    context: AppContext,
    payment: Payment,
    intent: dict[str, Any],
    transition: Transition,
    event_id: str | None,
) -> str:
    error = intent.get("last_payment_error")
    if transition is Transition.FAIL_IF_UNSEEN:
        if not isinstance(error, dict):
            return "ignored"  # no failure, just an intent awaiting its card
        if payment.status not in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING):
            return "stale"  # a failure already counted, or one we cannot tell apart from it
    error = error if isinstance(error, dict) else {}
    if is_echo(payment, error):
        return "ignored"  # the off-session refusal itself, applied already (not an attempt)
    outcome = await record_failure(
        uow,
        context,
        payment,
        failure_code=error.get("decline_code") or error.get("code"),
        failure_message=error.get("message"),
        event_id=event_id,
    )
    if outcome == "applied" and payment.status == PaymentStatus.FAILED:
        cancel_after_commit(uow, context, payment)  # attempts exhausted: no more tries on it
    return outcome
