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
