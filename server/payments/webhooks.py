"""Stripe webhooks: verify → record → apply (record and apply in one transaction).

The signature is checked over the raw body against every configured secret
(rotation). The event row is inserted with its Stripe id as primary key: a
redelivery, even one arriving concurrently, finds the row and changes nothing.
If applying fails, the transaction (event row included) rolls back and we
answer 500, so Stripe delivers again. What an intent event does to a payment
is the sale's table, `server.sales.intent_states`.

Events are matched to payments by the intent's id only: metadata is written
by anyone with access to the Stripe account (other integrations too), so it
never decides which payment an event pays. An event about an intent we did
not create is recorded as ignored and counted (`auction_webhook_unmatched`).

Most events change nothing here (other integrations' intents, types we do not
handle): those are stored as ignored in one statement on an autocommit
connection (`_STORE_IF_NOT_OURS`, `_STORE_IGNORED`), with no transaction and
no row lock; only an event about one of our intents opens the transaction.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import stripe
from aiohttp import web
from sqlalchemy import DateTime, String, TextClause, bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB

from server.cards import webhooks as card_webhooks
from server.contract.base import parse
from server.contract.payments import StripeEvent as StripeEventEnvelope
from server.core import safejson
from server.core.context import AppContext, context_of
from server.core.db import UnitOfWork
from server.core.errors import ValidationError
from server.core.http import json_response
from server.core.logging import bind
from server.payments import refunds
from server.payments.cards import expand_latest_charge
from server.payments.models import Payment, PaymentIntentRecord
from server.sales import refunding
from server.sales.intent_states import Source, apply_intent

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
#: `\u0000` in a JSON text (an escape, not an escaped backslash followed by `u0000`).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

_STORED_COLUMNS = (
    bindparam("id", type_=String),
    bindparam("type", type_=String),
    bindparam("object_id", type_=String),
    bindparam("stripe_created", type_=DateTime(timezone=True)),
    bindparam("payload", type_=JSONB),
)
#: An intent event: is the intent a payment's, or one we created and replaced (ours)? If
#: neither, the event is stored as ignored in the same statement (one snapshot, so it
#: cannot miss an intent the transactional path would find). Answers (a payment's, ours,
#: stored now, stored before).
_STORE_IF_NOT_OURS = text(
    """
    WITH found AS (
        SELECT EXISTS (SELECT 1 FROM payments WHERE stripe_payment_intent_id = :object_id)
                   AS payments,
               EXISTS (SELECT 1 FROM payment_intents WHERE id = :object_id) AS records,
               EXISTS (SELECT 1 FROM stripe_events WHERE id = :id) AS seen
    ), stored AS (
        INSERT INTO stripe_events (id, type, outcome, object_id, stripe_created, payload)
        SELECT :id, :type, 'ignored', :object_id,
               CAST(:stripe_created AS timestamptz), CAST(:payload AS jsonb)
        FROM found WHERE NOT (found.payments OR found.records)
        ON CONFLICT (id) DO NOTHING
        RETURNING 1
    )
    SELECT found.payments, found.payments OR found.records, EXISTS (SELECT 1 FROM stored),
           found.seen
    FROM found
    """
).bindparams(*_STORED_COLUMNS)


def _store_event(outcome: str) -> TextClause:
    """Insert an event with `outcome` unless it is stored already; a row back means it was new."""
    return text(
        f"""
        INSERT INTO stripe_events (id, type, outcome, object_id, stripe_created, payload)
        VALUES (:id, :type, '{outcome}', :object_id, :stripe_created, :payload)
        ON CONFLICT (id) DO NOTHING
        RETURNING 1
        """  # noqa: S608 (the outcome is one of this module's two constants)
    ).bindparams(*_STORED_COLUMNS)


#: An event of a type no handler reads: stored as ignored.
_STORE_IGNORED = _store_event("ignored")
#: An event a handler reads, claimed in its transaction: a concurrent redelivery waits on
#: the row's key until that transaction ends, then finds it (no row back: a duplicate).
_STORE_PENDING = _store_event("pending")

_SET_OUTCOME = text(
    "UPDATE stripe_events SET outcome = :outcome, payment_id = :payment_id WHERE id = :id"
).bindparams(bindparam("id", type_=String), bindparam("outcome", type_=String))
EventHandler = Callable[
    [UnitOfWork, AppContext, dict[str, Any], str], Awaitable[tuple[str, int | None]]
]


def verify(payload: bytes, header: str | None, secrets: tuple[str, ...]) -> dict[str, Any]:
    """The event, if `header` signs `payload` with one of `secrets`; else `ValidationError`."""
    if not header:
        raise ValidationError("Missing Stripe-Signature header")
    text = payload.decode("utf-8", errors="strict") if payload else ""
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError:
            continue
        break
    else:
        raise ValidationError("Stripe-Signature does not match, or is too old")
    try:
        event = safejson.loads(text)
    except safejson.NestedTooDeep as exc:
        raise ValidationError(f"Webhook body: {exc}") from None
    except ValueError:
        raise ValidationError("Webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise ValidationError("Webhook body is not a Stripe event")
    if _NUL_ESCAPE.search(text):
        # PostgreSQL's jsonb and text cannot hold U+0000; Stripe never sends it.
        raise ValidationError("Webhook body holds a NUL character (\\u0000)")
    parse(StripeEventEnvelope, event)  # the envelope; handlers read the object they need
    return event


async def receive(request: web.Request) -> web.Response:
    context = context_of(request)
    payload = await request.read()
    try:
        event = verify(
            payload,
            request.headers.get("Stripe-Signature"),
            context.settings.stripe_webhook_secrets,
        )
    except (ValidationError, UnicodeDecodeError) as error:
        context.metrics.webhook_events.labels(type="unknown", outcome="rejected").inc()
        message = error.message if isinstance(error, ValidationError) else "Body is not UTF-8"
        raise ValidationError(message) from None
    with bind(stripe_event_id=event["id"]):
        await card_webhooks.prepare_event(context, event)
        outcome = await apply_event(context, event)
    context.metrics.webhook_events.labels(type=event["type"], outcome=outcome).inc()
    return json_response({"received": True, "outcome": outcome})


async def apply_event(context: AppContext, event: dict[str, Any]) -> str:
    """Record the event once and apply it. Returns applied | ignored | duplicate | ...."""
    obj = event["data"]["object"]
    row = {
        "id": event["id"],
        "type": event["type"],
        "object_id": obj.get("id") if isinstance(obj.get("id"), str) else None,
        "stripe_created": _created_at(event.get("created")),
        "payload": _without_client_secret(event),
    }
    handler = HANDLERS.get(event["type"])
    if handler is None:
        async with context.db.autocommit() as session:
            stored = await session.scalar(_STORE_IGNORED, row) is not None
        return "ignored" if stored else "duplicate"
    if event["type"] in INTENT_EVENTS:
        async with context.db.autocommit() as session:
            a_payments, ours, stored, seen = (await session.execute(_STORE_IF_NOT_OURS, row)).one()
        if not ours:
            if stored:
                with bind(payment_id=_claimed(obj)):
                    _unmatched(context, obj, "unknown_intent")
            return "ignored" if stored else "duplicate"
        if event["type"] == "payment_intent.succeeded" and a_payments and not seen:
            # The card of a new success on a payment's intent: fetched before any lock.
            await expand_latest_charge(context, obj)
            row["payload"] = _without_client_secret(event)
    async with context.db.unit_of_work() as uow:
        if await uow.session.scalar(_STORE_PENDING, row) is None:
            return "duplicate"
        # Signed by Stripe, so the metadata is ours; handlers bind the payment they lock.
        with bind(payment_id=_claimed(obj)):
            outcome, payment_id = await handler(uow, context, obj, event["id"])
            log.info("stripe event %s: %s", event["type"], outcome)
        await uow.session.execute(
            _SET_OUTCOME, {"id": event["id"], "outcome": outcome, "payment_id": payment_id}
        )
    return outcome


def _claimed(obj: dict[str, Any]) -> str | None:
    """The payment the object's metadata names (for logs only: it decides nothing)."""
    metadata = obj.get("metadata")
    claimed = metadata.get("payment_id") if isinstance(metadata, dict) else None
    return claimed if isinstance(claimed, str) else None


def _created_at(created: Any) -> datetime | None:
    if isinstance(created, bool) or not isinstance(created, int):
        return None
    try:
        return datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _without_client_secret(event: dict[str, Any]) -> dict[str, Any]:
    """The event as stored: an intent's client secret belongs to its buyer only."""
    obj = event["data"]["object"]
    if "client_secret" not in obj:
        return event
    return {**event, "data": {**event["data"], "object": {**obj, "client_secret": "[redacted]"}}}


async def _payment_for_intent(
    uow: UnitOfWork, context: AppContext, intent: dict[str, Any]
) -> Payment | None:
    """Our payment whose intent this is, locked; None (counted) for any other intent."""
    intent_id = intent.get("id")
    found = None
    if isinstance(intent_id, str):
        # Found and locked in one statement; a payment whose intent was replaced while
        # we waited for its lock no longer matches (PostgreSQL re-reads the locked row).
        found = await uow.session.scalar(
            select(Payment).where(Payment.stripe_payment_intent_id == intent_id).with_for_update()
        )
    if found is None:
        replaced = await _replaced(uow, intent) is not None
        _unmatched(context, intent, "replaced_intent" if replaced else "unknown_intent")
        return None
    claimed = (intent.get("metadata") or {}).get("payment_id")
    if claimed is not None and claimed != str(found.id):
        # Our intent, but the event says it pays another payment: trust neither.
        _unmatched(context, intent, "metadata_mismatch")
        return None
    return found


async def _replaced(uow: UnitOfWork, intent: dict[str, Any]) -> PaymentIntentRecord | None:
    """An intent we created for a payment but did not keep (a racing creation)."""
    intent_id = intent.get("id")
    if not isinstance(intent_id, str) or len(intent_id) > 255:
        return None
    return await uow.session.scalar(
        select(PaymentIntentRecord)
        .join(Payment, Payment.id == PaymentIntentRecord.payment_id)
        .where(
            PaymentIntentRecord.id == intent_id,
            Payment.stripe_payment_intent_id.is_distinct_from(intent_id),
        )
    )


def _unmatched(context: AppContext, intent: dict[str, Any], reason: str) -> None:
    context.metrics.webhook_unmatched.labels(reason=reason).inc()
    log.warning("stripe event about intent %r ignored: %s", intent.get("id"), reason)


def on_intent_event(status: str) -> EventHandler:
    """A `payment_intent.*` event: the intent is now in `status`; the sale applies it."""

    async def handle(
        uow: UnitOfWork, context: AppContext, intent: dict[str, Any], event_id: str
    ) -> tuple[str, int | None]:
        payment = await _payment_for_intent(uow, context, intent)
        if payment is None:
            if status == "succeeded":
                return await _refund_replaced_intent(uow, context, intent, event_id)
            return "ignored", None
        with bind(payment_id=payment.id, lot_id=payment.lot_id):
            _transition, outcome = await apply_intent(
                uow, context, payment, status, intent, Source.WEBHOOK, event_id=event_id
            )
        return outcome, payment.id

    return handle


async def _refund_replaced_intent(
    uow: UnitOfWork, context: AppContext, intent: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    record = await _replaced(uow, intent)
    amount = intent.get("amount")
    if record is None or isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        return "ignored", None
    return await refunds.refund_replaced_intent(
        uow,
        context,
        payment_id=record.payment_id,
        intent_id=record.id,
        amount=amount,
        event_id=event_id,
    )


#: Each intent event names the status it reports; `intent_states` says what that status does.
#: (`payment_intent.canceled` is our own cancel at the window's end, or someone else's.)
INTENT_EVENTS: dict[str, str] = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.requires_action": "requires_action",
    "payment_intent.processing": "processing",
    "payment_intent.canceled": "canceled",
}
HANDLERS: dict[str, EventHandler] = {
    **{event_type: on_intent_event(status) for event_type, status in INTENT_EVENTS.items()},
    # The payment records it; an invoice's payment also books it to the invoice's lines.
    "charge.refunded": refunding.on_charge_refunded,
    "charge.dispute.created": refunds.on_dispute_created,
    **card_webhooks.HANDLERS,
}
