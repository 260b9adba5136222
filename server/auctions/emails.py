"""The outbid e-mail, written on the bid hot path.

A bid runs under its lot's row lock, so whatever it adds delays the next bid
on that lot. The e-mail therefore costs one statement and no extra round
trip to find the address: an `INSERT ... SELECT` from `users` that adds an
outbox row only when the outbid bidder has an address. The content is built
here in Python from values the bid already has.
"""

from __future__ import annotations

from sqlalchemy import Insert, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from server.auctions.models import Lot
from server.core.logging import redact
from server.notifications import messages
from server.notifications.models import OutboxMessage
from server.users.models import User


def outbid_email(
    lot: Lot, *, bidder_id: str, your_amount: int, new_amount: int, min_next_bid: int
) -> Insert:
    """The statement that queues an outbid e-mail to `bidder_id`, if they have an address."""
    subject, body = messages.outbid(
        lot_title=lot.title,
        currency=lot.currency,
        new_amount=new_amount,
        your_amount=your_amount,
        min_next_bid=min_next_bid,
    )
    # Titles come from sellers: the outbox redacts anything secret-looking, and so do we.
    recipient = select(
        literal("outbid"),
        User.id,
        User.email,
        literal(redact(subject)),
        literal(redact(body)),
        literal({"lot_id": lot.id, "amount": new_amount}, JSONB),
    ).where(User.id == bidder_id, User.email.contains("@"))
    return insert(OutboxMessage).from_select(
        ["topic", "recipient_id", "recipient_email", "subject", "body", "data"], recipient
    )
