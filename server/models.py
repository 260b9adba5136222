"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from server.auctions.models import Bid, Lot, LotEvent, LotStatus, MaxBid
from server.cards.models import Card
from server.core.db import Base
from server.notifications.models import OutboxMessage
from server.payments.models import Payment, PaymentAttempt, PaymentStatus, Refund, StripeEvent
from server.sales.models import Invoice, InvoiceLine, InvoiceLineRefund, Sale
from server.users.models import User, WatchedLot

__all__ = [
    "Base",
    "Bid",
    "Card",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineRefund",
    "Lot",
    "LotEvent",
    "LotStatus",
    "MaxBid",
    "OutboxMessage",
    "Payment",
    "PaymentAttempt",
    "PaymentStatus",
    "Refund",
    "Sale",
    "StripeEvent",
    "User",
    "WatchedLot",
]
