"""The outbid e-mail, written on the bid hot path.

A bid runs under its lot's row lock, so whatever it adds delays the next bid
on that lot. The e-mail therefore costs no round trip of its own: an
`INSERT ... SELECT` from `users` that adds an outbox row only when the outbid
bidder has an address, run as a CTE of the bid's own statement
(`server.auctions.service`). The content is built here in Python from values
the bid already has.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Text, bindparam, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from server.auctions.models import Lot
from server.core.logging import redact
from server.notifications import messages
from server.notifications.models import OutboxMessage
from server.users.models import User

#: Queues the outbid e-mail to `mail_to`, if they have an address. Built once: only the
#: values change from bid to bid (`outbid_email_params`).
OUTBID_EMAIL: Insert = insert(OutboxMessage).from_select(
    ["topic", "recipient_id", "recipient_email", "subject", "body", "data"],
    select(
        literal("outbid"),
        User.id,
        User.email,
        bindparam("mail_subject", type_=Text),
        bindparam("mail_body", type_=Text),
        bindparam("mail_data", type_=JSONB),
    ).where(User.id == bindparam("mail_to"), User.email.contains("@")),
)


def outbid_email_params(
    lot: Lot, *, bidder_id: str, your_amount: int, new_amount: int, min_next_bid: int
) -> dict[str, Any]:
    """The values `OUTBID_EMAIL` needs for the e-mail to `bidder_id`."""
    subject, body = messages.outbid(
        lot_title=lot.title,
        currency=lot.currency,
        new_amount=new_amount,
        your_amount=your_amount,
        min_next_bid=min_next_bid,
    )
    # Titles come from sellers: the outbox redacts anything secret-looking, and so do we.
    return {
        "mail_to": bidder_id,
        "mail_subject": redact(subject),
        "mail_body": redact(body),
        "mail_data": {"lot_id": lot.id, "amount": new_amount},
    }
