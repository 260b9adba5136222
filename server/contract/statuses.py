"""Lot, payment and refund statuses and user roles, defined once.

The domain models (and their CHECK constraints), the handlers and the published
schemas all take them from here. This module imports nothing of the server, so
the contract models can use it without pulling in the domain packages.
"""

from __future__ import annotations

from enum import StrEnum


class LotStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    OPEN = "OPEN"
    PENDING_PAYMENT = "PENDING_PAYMENT"
    SOLD = "SOLD"
    UNSOLD = "UNSOLD"
    CANCELED = "CANCELED"


class PaymentStatus(StrEnum):
    CREATING = "CREATING"
    REQUIRES_PAYMENT = "REQUIRES_PAYMENT"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


class RefundStatus(StrEnum):
    """`pending` until Stripe answers (or while it reports the refund pending)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Role(StrEnum):
    BIDDER = "bidder"
    SELLER = "seller"
    ADMIN = "admin"


class Settlement(StrEnum):
    """How a sale's winners pay: each lot on its own, or one invoice per buyer for the sale."""

    PER_LOT = "per_lot"
    PER_SALE = "per_sale"


class SaleStatus(StrEnum):
    """OPEN until its last lot has closed (SCHEDULED is shown before `starts_at`)."""

    SCHEDULED = "SCHEDULED"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class InvoiceStatus(StrEnum):
    """OPEN collects lines until the sale's last close; ISSUED awaits payment."""

    OPEN = "OPEN"
    ISSUED = "ISSUED"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    EXPIRED = "EXPIRED"
    VOID = "VOID"


class TaxOn(StrEnum):
    """What `TAX_RATE_BPS` is charged on."""

    PREMIUM = "premium"
    HAMMER = "hammer"
    BOTH = "both"
