"""Payments for won lots, their confirmation attempts, refunds and Stripe events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.contract.statuses import PaymentStatus as PaymentStatus
from server.contract.statuses import RefundStatus as RefundStatus
from server.core.db import Base, TimestampMixin, one_of

#: A payment in one of these states is still awaiting its buyer (or Stripe).
AWAITING = (
    PaymentStatus.CREATING,
    PaymentStatus.REQUIRES_PAYMENT,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
)
#: Its intent exists and its window is open: what the window job and reconciliation look at.
WINDOW_STATES = (
    PaymentStatus.REQUIRES_PAYMENT,
    PaymentStatus.REQUIRES_ACTION,
    PaymentStatus.PROCESSING,
)
#: The sale happened (money was taken, possibly returned later).
PAID = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)

_AWAITING_LIST = ",".join(f"'{s.value}'" for s in AWAITING)
_PAID_LIST = ",".join(f"'{s.value}'" for s in PAID)
#: The payment ended without a sale (its intent must not stay payable).
ENDED = (PaymentStatus.EXPIRED, PaymentStatus.FAILED, PaymentStatus.CANCELED)
_ENDED_LIST = ",".join(f"'{s.value}'" for s in ENDED)


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(one_of("status", PaymentStatus), name="status"),
        CheckConstraint(
            "hammer > 0 AND premium >= 0 AND tax >= 0 AND amount = hammer + premium + tax",
            name="amounts",
        ),
        # A lot's offer names its lot and bid; an invoice's payment names only the invoice.
        CheckConstraint(
            "(invoice_id IS NULL) = (lot_id IS NOT NULL AND bid_id IS NOT NULL)"
            " AND (invoice_id IS NULL OR (lot_id IS NULL AND bid_id IS NULL))",
            name="lot_or_invoice",
        ),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_bounds"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        # One winner: at most one payment per lot awaits a buyer, at most one is paid.
        Index(
            "uq_payments_lot_awaiting",
            "lot_id",
            unique=True,
            postgresql_where=text(f"status IN ({_AWAITING_LIST})"),
        ),
        Index(
            "uq_payments_lot_paid",
            "lot_id",
            unique=True,
            postgresql_where=text(f"status IN ({_PAID_LIST})"),
        ),
        Index("ix_payments_buyer_id_id", "buyer_id", "id"),
        Index(
            "ix_payments_expires_at",
            "expires_at",
            postgresql_where=text("status IN ('REQUIRES_PAYMENT','REQUIRES_ACTION')"),
        ),
        Index(
            "ix_payments_creating_retry",
            "next_retry_at",
            postgresql_where=text("status = 'CREATING'"),
        ),
        # An ended payment whose intent is still to be cancelled at Stripe.
        Index(
            "ix_payments_cancel_retry",
            "next_retry_at",
            postgresql_where=text(f"status IN ({_ENDED_LIST}) AND next_retry_at IS NOT NULL"),
        ),
        Index("ix_payments_attention", "id", postgresql_where=text("attention IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: The lot and bid of a per_lot offer; both null for an invoice's payment.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    bid_id: Mapped[int | None] = mapped_column(ForeignKey("bids.id"))
    #: A per_sale invoice paid through this payment (`server.sales.invoice_flow`).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # 1 for the winner, 2 for the first second-chance offer, and so on.
    offer_number: Mapped[int] = mapped_column(default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    hammer: Mapped[int]
    premium: Mapped[int]
    #: The invoice's tax (0 for a lot's offer): amount = hammer + premium + tax.
    tax: Mapped[int] = mapped_column(default=0, server_default="0")
    amount: Mapped[int]
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    create_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    #: When Stripe is next asked: to create the intent (CREATING), or to cancel
    #: it (an ended payment); also the lease while a creation is in flight.
    next_retry_at: Mapped[datetime | None]
    cancel_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    #: A job is talking to Stripe about this payment until then (window end, reconcile).
    stripe_lease_until: Mapped[datetime | None]
    #: `{code, message, since}` while Stripe permanently refuses something we need.
    attention: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    last_stripe_error: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None]
    failure_code: Mapped[str | None] = mapped_column(String(128))
    failure_message: Mapped[str | None] = mapped_column(Text)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    disputed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    receipt_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    paid_at: Mapped[datetime | None]
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    #: The card on file charged off-session at the close (AUTO_CHARGE), and its Customer:
    #: chosen once, before Stripe is asked, so a retry repeats the very same request.
    auto_charge_method: Mapped[str | None] = mapped_column(String(255))
    auto_charge_customer: Mapped[str | None] = mapped_column(String(255))
    #: Why the off-session charge handed over to the buyer (`payment_required.reason`):
    #: `authentication_required` or `card_declined`; null while it has not.
    auto_charge_reason: Mapped[str | None] = mapped_column(String(32))


class PaymentAttempt(Base):
    """One outcome reported for a payment: a failed, succeeded or pending confirmation."""

    __tablename__ = "payment_attempts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(32))
    failure_code: Mapped[str | None] = mapped_column(String(128))
    failure_message: Mapped[str | None] = mapped_column(Text)
    stripe_event_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(one_of("status", RefundStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    requested_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    send_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    #: When it may next be sent: a lease while one is sending, then the backoff.
    next_send_at: Mapped[datetime | None]
    #: The intent refunded, when not the payment's own (an intent we replaced).
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255))


class PaymentIntentRecord(Base):
    """Every PaymentIntent this server created, kept or replaced.

    Webhooks are matched by intent id only; an intent we created for a payment
    but did not keep (a racing creation) is still ours, so a success on it is
    refunded rather than ignored.
    """

    __tablename__ = "payment_intents"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class StripeEvent(Base):
    """Every webhook event, stored once by its id."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    # applied | ignored
    outcome: Mapped[str] = mapped_column(String(16))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    object_id: Mapped[str | None] = mapped_column(String(255))
    stripe_created: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
