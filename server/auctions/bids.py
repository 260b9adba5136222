"""A batch of bids on one lot: one transaction, one row lock, one commit.

`place_batch` is what `server.auctions.batching` runs for each batch. Under
the lot's row lock it reads the lot (Core, no ORM load), each bid's earlier use
of its request_id and its bidder's strikes, runs every bid through the pure
step `apply_bid` in arrival order, then writes all accepted bids and the lot in
one statement and commits. Events go out after the commit, in commit order;
then each bid gets its own answer.

A request_id reused on another lot at the same moment is caught by the unique
constraint at insert, which fails the whole statement; the batch then runs
again, and its checks now see the other lot's committed bid and refuse only
that one with `conflict`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from server.auctions.batching import Answer
from server.auctions.bid_statements import BID_CHECKS, LOCK_LOT, WRITE_BATCH
from server.auctions.bidding import BidPolicy, LotFigures, Placed, apply_bid
from server.auctions.emails import outbid_email_params
from server.auctions.lifecycle import bidder_alias, lot_state, lot_view, utcnow
from server.auctions.models import Lot, LotStatus
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.core.errors import NotFound, conflict

log = logging.getLogger(__name__)

#: Times a batch runs again after losing a request_id race to another lot.
REQUEST_ID_RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class QueuedBid:
    bidder: Identity
    lot_id: int
    amount: int
    request_id: str


class _RequestIdRaced(Exception):
    """Another lot's bid took one of this batch's request_ids after our checks."""


async def place_batch(
    context: AppContext, lot_id: int, queued: Sequence[QueuedBid]
) -> list[Answer]:
    """Apply `queued` (all for `lot_id`, in arrival order); one answer per bid, in order."""
    for attempt in range(REQUEST_ID_RACE_RETRIES + 1):
        try:
            return await _place_batch(context, lot_id, queued)
        except _RequestIdRaced:
            if attempt == REQUEST_ID_RACE_RETRIES:
                raise
            log.info("a request_id of lot %s's batch raced another lot; checking again", lot_id)
    raise AssertionError("unreachable")


async def _place_batch(
    context: AppContext, lot_id: int, queued: Sequence[QueuedBid]
) -> list[Answer]:
    settings = context.settings
    policy = BidPolicy(
        strike_limit=settings.nonpayment_strikes,
        premium_bps=settings.buyer_premium_bps,
        anti_sniping_window_seconds=settings.anti_sniping_window_seconds,
        anti_sniping_extension_seconds=settings.anti_sniping_extension_seconds,
    )
    async with context.db.unit_of_work() as uow:
        # New users are inserted in one order (by id) in every batch: two batches on two
        # lots that share new bidders would otherwise wait on each other's rows: a deadlock.
        bidders = {bid.bidder.sub: bid.bidder for bid in queued}
        for sub in sorted(bidders):
            await context.seen_users.ensure(uow, bidders[sub])
        conn = await uow.session.connection()
        row = (await conn.execute(LOCK_LOT, {"lot_id": lot_id})).mappings().first()
        if row is None:
            return [NotFound("Lot not found") for _ in queued]
        # A transient Lot, never added to the session: it carries the lot's face for views.
        lot = Lot(**row)
        checks = (
            await conn.execute(
                BID_CHECKS,
                {
                    "bidder_ids": [bid.bidder.sub for bid in queued],
                    "request_ids": [bid.request_id for bid in queued],
                },
            )
        ).all()
        figures = LotFigures(state=lot_state(lot), bid_count=lot.bid_count, seq=lot.seq)
        answers: list[Answer] = []
        placed: list[Placed] = []
        accepted: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        for bid, check in zip(queued, checks, strict=True):
            _, strikes, earlier_id, earlier_lot, earlier_amount, earlier_at = check
            key = (bid.bidder.sub, bid.request_id)
            if earlier_id is not None:
                answers.append(
                    _replayed(
                        context, lot, bid, earlier_id, earlier_lot, earlier_amount, earlier_at
                    )
                )
                continue
            if key in accepted:
                # The same request twice in one batch: one bid, the same answer.
                first_amount, first_ack = accepted[key]
                answers.append(first_ack if first_amount == bid.amount else _reused())
                continue
            outcome = apply_bid(
                figures,
                bidder_id=bid.bidder.sub,
                amount=bid.amount,
                request_id=bid.request_id,
                strikes=strikes or 0,
                policy=policy,
                now=utcnow(),
            )
            if not isinstance(outcome, Placed):
                answers.append(outcome)
                continue
            figures = outcome.after
            _move(lot, figures)
            placed.append(outcome)
            ack = {"ok": True, "bid": None, "lot": lot_view(context, lot)}
            accepted[key] = (bid.amount, ack)
            answers.append(ack)
        if placed:
            bid_ids = await _write(uow, lot, placed, figures)
            _announce(context, uow, lot, placed, bid_ids)
            for outcome, bid_id in zip(placed, bid_ids, strict=True):
                _, ack = accepted[(outcome.bidder_id, outcome.request_id)]
                ack["bid"] = _bid_view(
                    bid_id,
                    lot_id,
                    outcome.amount,
                    outcome.created_at,
                    bidder_alias(context, lot_id, outcome.bidder_id),
                )
    return answers


def _move(lot: Lot, figures: LotFigures) -> None:
    """Show the transient lot as `figures` leave it (for the next ack's view)."""
    state = figures.state
    lot.current_bid = state.current_bid
    lot.high_bidder_id = state.high_bidder_id
    lot.ends_at = state.ends_at
    lot.bid_count = figures.bid_count
    lot.seq = figures.seq


async def _write(uow: UnitOfWork, lot: Lot, placed: list[Placed], figures: LotFigures) -> list[int]:
    """Insert the bids, move the lot, record extensions, queue outbid e-mails: one statement."""
    mails = [
        outbid_email_params(
            lot,
            bidder_id=outcome.outbid[0],
            your_amount=outcome.outbid[1],
            new_amount=outcome.amount,
            min_next_bid=outcome.min_next_bid,
        )
        for outcome in placed
        if outcome.outbid is not None
    ]
    extensions = [outcome.extension for outcome in placed if outcome.extension is not None]
    params = {
        "lot_id": lot.id,
        "bidder_ids": [outcome.bidder_id for outcome in placed],
        "amounts": [outcome.amount for outcome in placed],
        "request_ids": [outcome.request_id for outcome in placed],
        "created_ats": [outcome.created_at for outcome in placed],
        "current_bid": figures.state.current_bid,
        "high_bidder_id": figures.state.high_bidder_id,
        "bid_count": figures.bid_count,
        "seq": figures.seq,
        "ends_at": figures.state.ends_at,
        "event_seqs": [extension.seq for extension in extensions],
        "event_data": [
            json.dumps(
                {"from": extension.previous_end.isoformat(), "to": extension.ends_at.isoformat()}
            )
            for extension in extensions
        ],
        "mail_to": [mail["mail_to"] for mail in mails],
        "mail_subjects": [mail["mail_subject"] for mail in mails],
        "mail_bodies": [mail["mail_body"] for mail in mails],
        "mail_data": [json.dumps(mail["mail_data"]) for mail in mails],
    }
    conn = await uow.session.connection()
    try:
        rows = (await conn.execute(WRITE_BATCH, params)).all()
    except IntegrityError as error:
        if "uq_bids_bidder_request" in str(error.orig):
            raise _RequestIdRaced from error
        raise
    ids = {(row.bidder_id, row.request_id): row.id for row in rows}
    return [ids[(outcome.bidder_id, outcome.request_id)] for outcome in placed]


def _announce(
    context: AppContext, uow: UnitOfWork, lot: Lot, placed: list[Placed], bid_ids: list[int]
) -> None:
    """Queue the batch's events, in commit order, to go out once it commits."""
    hub = context.hub
    for outcome, bid_id in zip(placed, bid_ids, strict=True):
        after = outcome.after
        alias = bidder_alias(context, lot.id, outcome.bidder_id)
        hub.to_lot_after_commit(
            uow,
            lot.id,
            "bid_placed",
            {
                "lot_id": lot.id,
                "seq": outcome.seq,
                "bid_id": bid_id,
                "amount": outcome.amount,
                "bidder": alias,
                "bid_count": after.bid_count,
                "ends_at": after.state.ends_at,
                "min_next_bid": outcome.min_next_bid,
                "reserve_met": lot.reserve_price is None or outcome.amount >= lot.reserve_price,
                "created_at": outcome.created_at,
            },
        )
        if outcome.extension is not None:
            extension = outcome.extension
            hub.to_lot_after_commit(
                uow,
                lot.id,
                "lot_extended",
                {"lot_id": lot.id, "seq": extension.seq, "ends_at": extension.ends_at},
            )
        if outcome.outbid is not None:
            previous_bidder, previous_amount = outcome.outbid
            hub.to_user_after_commit(
                uow,
                previous_bidder,
                "outbid",
                {
                    "lot_id": lot.id,
                    "amount": outcome.amount,
                    "your_amount": previous_amount,
                    "min_next_bid": outcome.min_next_bid,
                },
            )
    extended = [outcome for outcome in placed if outcome.extension is not None]
    if extended:
        final_end = extended[-1].after.state.ends_at
        now = extended[-1].created_at
        uow.after_commit(lambda: _reschedule(context, lot.id, now, final_end))


async def _reschedule(context: AppContext, lot_id: int, now: datetime, ends_at: datetime) -> None:
    from server.auctions import tasks

    tasks.schedule_lot(context, lot_id, LotStatus.OPEN, now, ends_at)


def _replayed(
    context: AppContext,
    lot: Lot,
    bid: QueuedBid,
    earlier_id: int,
    earlier_lot: int,
    earlier_amount: int,
    earlier_at: datetime,
) -> Answer:
    """A retried request_id: the first result, or `conflict` if it named another bid."""
    if earlier_lot != bid.lot_id or earlier_amount != bid.amount:
        return _reused()
    alias = bidder_alias(context, lot.id, bid.bidder.sub)
    view = _bid_view(earlier_id, earlier_lot, earlier_amount, earlier_at, alias)
    return {"ok": True, "bid": view, "lot": lot_view(context, lot)}


def _reused() -> Answer:
    return conflict("conflict", "This request_id was already used for a different bid")


def _bid_view(
    bid_id: int, lot_id: int, amount: int, created_at: datetime, alias: str | None
) -> dict[str, Any]:
    return {
        "id": bid_id,
        "lot_id": lot_id,
        "amount": amount,
        "bidder": alias,
        "created_at": created_at,
    }
