"""Bids in one transaction: one lot's batch, or a group of several lots' batches.

`place_batch` is what `server.auctions.batching` runs for one lot's batch;
`place_group` for the batches of several lots that are due at the same moment
(they share BEGIN, the two statements, COMMIT and the pool checkout). One
statement takes the lots' row locks (in lot id order) and reads the lots (Core,
no ORM load), each bid's earlier use of its request_id and its bidder's strikes
(`bid_statements.LOCK_AND_CHECK`); each lot's bids run through the pure step
`apply_bid` in arrival order, each against the lot as the bid before left it;
then all accepted bids and the lots are written in one statement and the
transaction commits. Events go out after the commit, in commit order; then each
bid gets its own answer.

A group never waits for a lot's lock: a lot held by another transaction (a
close, another process's batch) is skipped and left out of the group's answer,
and the batcher runs it alone with `place_batch`, which waits for its lock. A
group whose transaction fails for any other reason than the database's
availability is left out whole the same way, so one lot's fault cannot fail
another lot's bids.

A request_id reused on another lot at the same moment is caught by the unique
constraint at insert, which fails the whole statement; the transaction then runs
again, and its checks now see the other lot's committed bid and refuse only
that one with `conflict`. Within one group the reuse is seen before the insert.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from server.auctions.batching import Answer
from server.auctions.bid_statements import (
    BID_CHECKS,
    BID_CHECKS_WITH_CARD,
    LOCK_AND_CHECK,
    LOT_COLUMNS,
    WRITE_BATCH,
)
from server.auctions.bidding import BidPolicy, LotFigures, Placed, apply_bid
from server.auctions.emails import outbid_email_params
from server.auctions.lifecycle import bidder_alias, lot_state, lot_view, utcnow
from server.auctions.models import Lot, LotStatus
from server.auctions.schedule import schedule_lot
from server.cards.rules import card_required, usable_at
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.db import DriverUnitOfWork
from server.core.errors import NotFound, Unavailable, conflict, unavailable_for

log = logging.getLogger(__name__)

#: Times a batch runs again after losing a request_id race to another lot.
REQUEST_ID_RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class QueuedBid:
    """`place_bid` (amount, maybe max_amount) or `set_max_bid` (amount None, max_amount)."""

    bidder: Identity
    lot_id: int
    amount: int | None
    request_id: str
    max_amount: int | None = None


class _RequestIdRaced(Exception):
    """Another lot's bid took one of this batch's request_ids after our checks."""


async def place_batch(
    context: AppContext, lot_id: int, queued: Sequence[QueuedBid]
) -> list[Answer]:
    """Apply `queued` (all for `lot_id`, in arrival order); one answer per bid, in order.

    Waits for the lot's row lock."""
    answers = await _with_retries(context, {lot_id: queued}, group=False)
    return answers[lot_id]


async def place_group(
    context: AppContext, batches: Mapping[int, Sequence[QueuedBid]]
) -> dict[int, list[Answer]]:
    """Apply several lots' batches in one transaction: each lot's answers, in order.

    A lot held locked elsewhere (or not found) is left out of the result: the
    caller runs it alone with `place_batch`. So is every lot when the transaction
    failed for another reason than the database's availability (that is raised).
    """
    try:
        return await _with_retries(context, batches, group=True)
    except Unavailable:
        raise
    except Exception as error:
        if unavailable_for(error) is not None:
            raise
        log.exception("a group of %d lots failed; each runs alone", len(batches))
        return {}


async def _with_retries(
    context: AppContext, batches: Mapping[int, Sequence[QueuedBid]], *, group: bool
) -> dict[int, list[Answer]]:
    for attempt in range(REQUEST_ID_RACE_RETRIES + 1):
        try:
            return await _place(context, batches, group=group)
        except _RequestIdRaced:
            if attempt == REQUEST_ID_RACE_RETRIES:
                raise
            log.info("a request_id of lots %s raced another lot; checking again", list(batches))
    raise AssertionError("unreachable")


@dataclass(slots=True)
class _LotWork:
    """One lot's accepted bids in a transaction, and the lot as they leave it."""

    lot: Lot
    figures: LotFigures
    placed: list[Placed]


async def _place(
    context: AppContext, batches: Mapping[int, Sequence[QueuedBid]], *, group: bool
) -> dict[int, list[Answer]]:
    settings = context.settings
    policy = BidPolicy(
        strike_limit=settings.nonpayment_strikes,
        premium_bps=settings.buyer_premium_bps,
        anti_sniping_window_seconds=settings.anti_sniping_window_seconds,
        anti_sniping_extension_seconds=settings.anti_sniping_extension_seconds,
    )
    lot_ids = sorted(batches)
    queued = [bid for lot_id in lot_ids for bid in batches[lot_id]]
    async with context.db.driver_unit_of_work() as uow:
        # New users are inserted in one order (by id) in every transaction: two that share
        # new bidders would otherwise wait on each other's rows: a deadlock.
        bidders = {bid.bidder.sub: bid.bidder for bid in queued}
        await context.seen_users.ensure_many(uow, [bidders[sub] for sub in sorted(bidders)])
        need_card = settings.require_card_to_bid
        params = {
            "lot_id": lot_ids[0],
            "lot_ids": lot_ids,
            "bid_lot_ids": [lot_id for lot_id in lot_ids for _ in batches[lot_id]],
            "bidder_ids": [bid.bidder.sub for bid in queued],
            "request_ids": [bid.request_id for bid in queued],
        }
        rows = await LOCK_AND_CHECK[(need_card, group)].fetch(uow, params)
        checks: Sequence[Any] = rows
        if any(row["locked_version"] != row["seen_version"] for row in rows if row["l_id"]):
            # Another transaction moved a lot between this statement's snapshot and its
            # lock (it waited for it): a retry's original may have committed there, unseen.
            checks = await (BID_CHECKS_WITH_CARD if need_card else BID_CHECKS).fetch(uow, params)
        answers: dict[int, list[Answer]] = {}
        work: list[_LotWork] = []
        #: Accepted requests of the whole transaction, so a request_id named on two lots
        #: of one group is one request (the second is refused), as across transactions.
        accepted: dict[tuple[str, str], tuple[QueuedBid, dict[str, Any]]] = {}
        start = 0
        for lot_id in lot_ids:
            end = start + len(batches[lot_id])
            head = rows[start]
            if head["l_id"] is None:
                if not group:
                    answers[lot_id] = [NotFound("Lot not found") for _ in batches[lot_id]]
                # Skipped (held elsewhere, or not found): the caller runs it alone.
            else:
                answers[lot_id], done = _apply_lot(
                    context, policy, head, batches[lot_id], checks[start:end], accepted, now=utcnow
                )
                if done is not None:
                    work.append(done)
            start = end
        if work:
            bid_ids = await _write(uow, work, group=group)
            for done in work:
                _announce(context, uow, done.lot, done.placed, bid_ids)
                for outcome in done.placed:
                    _, ack = accepted[(outcome.bidder_id, outcome.request_id)]
                    own = outcome.own_bid
                    if "bid" in ack and own is not None:
                        lot_id = done.lot.id
                        ack["bid"] = _bid_view(
                            bid_ids[(lot_id, own.amount)],
                            lot_id,
                            own.amount,
                            outcome.created_at,
                            bidder_alias(context, lot_id, outcome.bidder_id),
                            own.auto,
                        )
    return answers


def _apply_lot(
    context: AppContext,
    policy: BidPolicy,
    head: Any,
    queued: Sequence[QueuedBid],
    checks: Sequence[Any],
    accepted: dict[tuple[str, str], tuple[QueuedBid, dict[str, Any]]],
    *,
    now: Callable[[], datetime],
) -> tuple[list[Answer], _LotWork | None]:
    """One locked lot's bids in arrival order: their answers, and what to write (or None)."""
    need_card = context.settings.require_card_to_bid
    if head["sale_premium_bps"] is not None:
        # A sale's lot is charged with the sale's premium: its amounts are checked with it.
        policy = dataclasses.replace(policy, premium_bps=int(head["sale_premium_bps"]))
    # A transient Lot, never added to a session: it carries the lot's face for views.
    # (jsonb arrives decoded: SQLAlchemy sets asyncpg's codec on every connection.)
    lot = Lot(**{name: head[f"l_{name}"] for name in LOT_COLUMNS})
    figures = LotFigures(
        state=lot_state(lot),
        bid_count=lot.bid_count,
        seq=lot.seq,
        leader_max=lot.leader_max,
        reserve_price=lot.reserve_price,
        buy_now_price=lot.buy_now_price,
    )
    answers: list[Answer] = []
    placed: list[Placed] = []
    for bid, check in zip(queued, checks, strict=True):
        key = (bid.bidder.sub, bid.request_id)
        if check["id"] is not None or check["max_lot_id"] is not None:
            answers.append(_replayed(context, lot, bid, check))
            continue
        if key in accepted:
            # The same request twice in one transaction: one effect, the same answer.
            first, first_ack = accepted[key]
            answers.append(first_ack if _same_request(first, bid) else _reused())
            continue
        outcome = apply_bid(
            figures,
            bidder_id=bid.bidder.sub,
            amount=bid.amount,
            max_amount=bid.max_amount,
            request_id=bid.request_id,
            strikes=check["strikes"] or 0,
            policy=policy,
            now=now(),
        )
        if not isinstance(outcome, Placed):
            answers.append(outcome)
            continue
        ends_at = outcome.after.state.ends_at
        if need_card and not usable_at(check["card_exp_month"], check["card_exp_year"], ends_at):
            # `apply_bid` is pure: dropping its outcome leaves the lot as it was.
            answers.append(card_required(ends_at))
            continue
        figures = outcome.after
        _move(lot, figures)
        placed.append(outcome)
        ack: dict[str, Any] = {"ok": True, "lot": lot_view(context, lot)}
        if bid.amount is not None:
            ack["bid"] = None
        if bid.max_amount is not None:
            ack["max_amount"] = bid.max_amount
        ack["leading"] = outcome.leading
        accepted[key] = (bid, ack)
        answers.append(ack)
    return answers, (_LotWork(lot, figures, placed) if placed else None)


def _same_request(first: QueuedBid, again: QueuedBid) -> bool:
    return (first.lot_id, first.amount, first.max_amount) == (
        again.lot_id,
        again.amount,
        again.max_amount,
    )


def _move(lot: Lot, figures: LotFigures) -> None:
    """Show the transient lot as `figures` leave it (for the next ack's view)."""
    state = figures.state
    lot.current_bid = state.current_bid
    lot.high_bidder_id = state.high_bidder_id
    lot.ends_at = state.ends_at
    lot.bid_count = figures.bid_count
    lot.seq = figures.seq
    lot.leader_max = figures.leader_max
    lot.buy_now_price = figures.buy_now_price


async def _write(
    uow: DriverUnitOfWork, work: list[_LotWork], *, group: bool
) -> dict[tuple[int, int], int]:
    """Insert the bids and maxima, move the lots, record their events, queue outbid e-mails:
    one statement. Returns each new bid's id by its lot and amount (unique on a lot)."""
    rows = [
        (done.lot.id, outcome, row)
        for done in work
        for outcome in done.placed
        for row in outcome.bids
    ]
    # A bid that left no row of its own (it tied a standing maximum) is recorded here too,
    # so that a retry finds it.
    maxima = [
        (done.lot.id, outcome)
        for done in work
        for outcome in done.placed
        if outcome.max_amount is not None or outcome.own_bid is None
    ]
    mails = [
        outbid_email_params(
            done.lot,
            bidder_id=outbid.user_id,
            your_amount=outbid.your_amount,
            new_amount=outbid.amount,
            min_next_bid=outcome.min_next_bid,
        )
        for done in work
        for outcome in done.placed
        for outbid in outcome.outbids
    ]
    events: list[tuple[int, int, str, dict[str, Any]]] = []
    for done in work:
        for outcome in done.placed:
            if outcome.extension is not None:
                extension = outcome.extension
                moved = {
                    "from": extension.previous_end.isoformat(),
                    "to": extension.ends_at.isoformat(),
                }
                events.append((done.lot.id, extension.seq, "extended", moved))
            if outcome.buy_now_withdrawn_seq is not None:
                events.append((done.lot.id, outcome.buy_now_withdrawn_seq, "buy_now_withdrawn", {}))
    lots = [(done.lot.id, done.figures) for done in work]
    params = {
        "bid_lot_ids": [lot_id for lot_id, _, _ in rows],
        "bidder_ids": [row.bidder_id for _, _, row in rows],
        "amounts": [row.amount for _, _, row in rows],
        "request_ids": [row.request_id for _, _, row in rows],
        "autos": [row.auto for _, _, row in rows],
        "created_ats": [outcome.created_at for _, outcome, _ in rows],
        "max_lot_ids": [lot_id for lot_id, _ in maxima],
        "max_bidder_ids": [outcome.bidder_id for _, outcome in maxima],
        "max_request_ids": [outcome.request_id for _, outcome in maxima],
        "max_standings": [outcome.amount for _, outcome in maxima],
        "max_amounts": [outcome.max_amount or outcome.amount for _, outcome in maxima],
        "max_created_ats": [outcome.created_at for _, outcome in maxima],
        "lot_ids": [lot_id for lot_id, _ in lots],
        "current_bids": [figures.state.current_bid for _, figures in lots],
        "high_bidder_ids": [figures.state.high_bidder_id for _, figures in lots],
        "leader_maxes": [figures.leader_max for _, figures in lots],
        "buy_now_prices": [figures.buy_now_price for _, figures in lots],
        "bid_counts": [figures.bid_count for _, figures in lots],
        "seqs": [figures.seq for _, figures in lots],
        "ends_ats": [figures.state.ends_at for _, figures in lots],
        "event_lot_ids": [lot_id for lot_id, _, _, _ in events],
        "event_seqs": [seq for _, seq, _, _ in events],
        "event_types": [kind for _, _, kind, _ in events],
        "event_data": [json.dumps(data) for _, _, _, data in events],
        "mail_to": [mail["mail_to"] for mail in mails],
        "mail_subjects": [mail["mail_subject"] for mail in mails],
        "mail_bodies": [mail["mail_body"] for mail in mails],
        "mail_data": [json.dumps(mail["mail_data"]) for mail in mails],
    }
    if not group:
        # One lot: its figures as scalars (`bid_statements._write_batch`).
        [(lot_id, figures)] = lots
        params.update(
            lot_id=lot_id,
            current_bid=figures.state.current_bid,
            high_bidder_id=figures.state.high_bidder_id,
            leader_max=figures.leader_max,
            buy_now_price=figures.buy_now_price,
            bid_count=figures.bid_count,
            seq=figures.seq,
            ends_at=figures.state.ends_at,
        )
    try:
        written = await WRITE_BATCH[group].fetch(uow, params)
    except asyncpg.UniqueViolationError as error:
        if "_bidder_request" in (error.constraint_name or ""):
            raise _RequestIdRaced from error
        raise
    return {(int(row["lot_id"]), int(row["amount"])): int(row["id"]) for row in written}


def _announce(
    context: AppContext,
    uow: DriverUnitOfWork,
    lot: Lot,
    placed: list[Placed],
    bid_ids: dict[tuple[int, int], int],
) -> None:
    """Queue the batch's events, in commit order, to go out once it commits.

    Room events never carry a maximum: only visible bids, each with `auto`.
    """
    hub = context.hub
    for outcome in placed:
        ends_at = outcome.after.state.ends_at
        for row in outcome.bids:
            hub.to_lot_after_commit(
                uow,
                lot.id,
                "bid_placed",
                {
                    "lot_id": lot.id,
                    "seq": row.seq,
                    "bid_id": bid_ids[(lot.id, row.amount)],
                    "amount": row.amount,
                    "bidder": bidder_alias(context, lot.id, row.bidder_id),
                    "auto": row.auto,
                    "bid_count": row.bid_count,
                    "ends_at": ends_at,
                    "min_next_bid": row.min_next_bid,
                    "reserve_met": row.reserve_met,
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
        if outcome.buy_now_withdrawn_seq is not None:
            state = outcome.after.state
            hub.to_lot_after_commit(
                uow,
                lot.id,
                "lot_status",
                {
                    "lot_id": lot.id,
                    "seq": outcome.buy_now_withdrawn_seq,
                    "status": state.status,
                    "reason": "buy_now_withdrawn",
                    "current_bid": state.current_bid,
                    "high_bidder": bidder_alias(context, lot.id, state.high_bidder_id),
                    "hammer_price": None,
                    "winner": None,
                    "ends_at": state.ends_at,
                    "buy_now_price": None,
                },
            )
        for outbid in outcome.outbids:
            hub.to_user_after_commit(
                uow,
                outbid.user_id,
                "outbid",
                {
                    "lot_id": lot.id,
                    "amount": outbid.amount,
                    "your_amount": outbid.your_amount,
                    "min_next_bid": outcome.min_next_bid,
                },
            )
    extended = [outcome for outcome in placed if outcome.extension is not None]
    if extended:
        final_end = extended[-1].after.state.ends_at
        now = extended[-1].created_at
        uow.after_commit(lambda: _reschedule(context, lot.id, now, final_end))


async def _reschedule(context: AppContext, lot_id: int, now: datetime, ends_at: datetime) -> None:
    schedule_lot(context, lot_id, LotStatus.OPEN, now, ends_at)


def _replayed(context: AppContext, lot: Lot, bid: QueuedBid, check: Any) -> Answer:
    """A retried request_id: the first result, or `conflict` if it named another request.

    `check` is the bid's row of `LOCK_AND_CHECK` (or `BID_CHECKS`)."""
    if check["max_lot_id"] is not None:
        same = (check["max_lot_id"], check["max_standing"], check["max_amount"]) == (
            bid.lot_id,
            bid.amount,
            bid.max_amount or bid.amount,
        )
    else:
        same = bid.max_amount is None and (check["lot_id"], check["amount"]) == (
            bid.lot_id,
            bid.amount,
        )
    if not same:
        return _reused()
    ack: dict[str, Any] = {"ok": True, "lot": lot_view(context, lot)}
    if bid.amount is not None:
        ack["bid"] = None
        if check["id"] is not None:
            alias = bidder_alias(context, lot.id, bid.bidder.sub)
            ack["bid"] = _bid_view(
                check["id"], bid.lot_id, check["amount"], check["created_at"], alias, check["auto"]
            )
    if bid.max_amount is not None:
        ack["max_amount"] = bid.max_amount
    ack["leading"] = lot.high_bidder_id == bid.bidder.sub
    return ack


def _reused() -> Answer:
    return conflict("conflict", "This request_id was already used for a different request")


def _bid_view(
    bid_id: int, lot_id: int, amount: int, created_at: datetime, alias: str | None, auto: bool
) -> dict[str, Any]:
    return {
        "id": bid_id,
        "lot_id": lot_id,
        "amount": amount,
        "bidder": alias,
        "auto": auto,
        "created_at": created_at,
    }
