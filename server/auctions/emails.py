"""The outbid e-mail, written on the bid hot path.

A batch of bids runs under its lot's row lock, so whatever it adds delays the
next batch. The e-mails therefore cost no round trip of their own: an
`INSERT ... SELECT` from `users` that adds an outbox row only when the outbid
bidder has an address, run as a CTE of the batch's own statement
(`server.auctions.bid_statements`). The content is built here in Python from
values the bid already has.
"""

from __future__ import annotations

from typing import Any

from server.auctions.models import Lot
from server.core.logging import redact
from server.notifications import messages


def outbid_email_params(
    lot: Lot, *, bidder_id: str, your_amount: int, new_amount: int, min_next_bid: int
) -> dict[str, Any]:
    """The e-mail to `bidder_id`: recipient, subject, body and data for the outbox row."""
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
