"""The SQL of a bid transaction: two statements while the lots' row locks are held.

Written out as SQL, once, because they run on the hottest path the server has:
each transaction only binds values (arrays, one element per bid or per lot), and
asyncpg keeps them prepared per connection. They run on the bare asyncpg
connection (`DriverStatement`, `Database.driver_unit_of_work`): rows are asyncpg
Records. The tables are `server.auctions.models`, `server.users.models` and
`server.notifications.models`. A transaction covers one lot's batch, or a group
of several lots' batches (`server.auctions.bids.place_group`).

1. `LOCK_AND_CHECK` locks the lot rows (`FOR UPDATE`, in lot id order; a group
   `SKIP LOCKED`) and, in the same round trip, returns one row per bid: its
   lot, the premium of the lot's sale (if any), the bid's earlier use of its
   request_id, its bidder's strikes and (with card, REQUIRE_CARD_TO_BID) its
   bidder's default card's expiry. The lock and the checks read one snapshot,
   taken before the lock was granted: if another transaction moved a lot
   meanwhile (the lot row's `xmin` under the lock differs from the one in the
   snapshot), a retry may have lost its race with its original there, so the
   transaction reads the checks again with `BID_CHECKS` (a new statement, a new
   snapshot, after the locks).
2. `WRITE_BATCH` inserts the accepted bids in arrival order within each lot (so
   a lot's bid ids increase with its amounts), moves each lot to its last bid,
   records the anti-sniping extensions (and buy-now's withdrawal) in the lots'
   histories, records the maxima left with the requests, and queues the outbid
   e-mails for recipients who have an address: one round trip, data-modifying
   CTEs.
"""

from __future__ import annotations

from sqlalchemy import text

from server.auctions.models import Lot
from server.core.db import DriverStatement

LOTS = Lot.__table__
#: The lot's columns in `LOCK_AND_CHECK`'s rows, each as `l_<column>`.
LOT_COLUMNS = tuple(column.name for column in LOTS.c)

#: Per bid: its earlier use of its request_id (a bid, or a maximum) and its bidder's strikes.
_CHECKS = """
    u.strikes, b.id, b.lot_id, b.amount, b.created_at, b.auto,
    m.lot_id AS max_lot_id, m.amount AS max_standing, m.max_amount"""
_CARD = """,
    c.exp_month AS card_exp_month, c.exp_year AS card_exp_year"""
_CHECK_JOINS = """
    LEFT JOIN users u ON u.id = r.bidder_id
    LEFT JOIN bids b ON b.bidder_id = r.bidder_id AND b.request_id = r.request_id
    LEFT JOIN max_bids m ON m.bidder_id = r.bidder_id AND m.request_id = r.request_id"""
_CARD_JOIN = """
    LEFT JOIN cards c ON c.user_id = r.bidder_id AND c.is_default"""
_BIDS = """unnest(CAST(:bidder_ids AS varchar[]), CAST(:request_ids AS varchar[]))
         WITH ORDINALITY AS r(bidder_id, request_id, n)"""


def _unnest(alias: str, columns: list[tuple[str, str, str]], *, ordinality: bool = False) -> str:
    """`unnest(CAST(:param AS type[]), ...) AS alias(name, ...)` over (param, type, name)."""
    arrays = ",\n            ".join(f"CAST(:{param} AS {kind}[])" for param, kind, _ in columns)
    names = ", ".join(name for _, _, name in columns) + (", n" if ordinality else "")
    return f"""unnest(
            {arrays}
        ){" WITH ORDINALITY" if ordinality else ""} AS {alias}({names})"""


def _lock_and_check(with_card: bool, group: bool) -> DriverStatement:
    """One lot (`:lot_id`, waiting for its lock) or a group (`:lot_ids`, `SKIP LOCKED`).

    The one-lot statement binds scalars, not one-element arrays: the hot lot's lock is
    held while it runs, and arrays cost it ~100 µs of CPU per bid (bench_place_batch)."""
    lot = ", ".join(f"l.{name} AS l_{name}" for name in LOT_COLUMNS)
    if group:
        # Locked in id order (the sort runs below the lock); lots held elsewhere are
        # skipped: a bid whose lot was not locked (skipped, or not found) has no `l_`
        # values, and only a locked lot's values are ever used.
        locked = "id = ANY(CAST(:lot_ids AS bigint[])) ORDER BY id FOR UPDATE SKIP LOCKED"
        bids = _unnest(
            "r",
            [
                ("bid_lot_ids", "bigint", "lot_id"),
                ("bidder_ids", "varchar", "bidder_id"),
                ("request_ids", "varchar", "request_id"),
            ],
            ordinality=True,
        )
        seen, join = "l.id", "l.id = r.lot_id"
    else:
        locked, bids, seen, join = "id = :lot_id FOR UPDATE", _BIDS, ":lot_id", "true"
    # The CTE is materialized (it locks) and joined to every bid, so the lock is taken
    # whatever the plan. `seen_version` is the lot row as the statement's snapshot has it.
    # Built from this module's constants only, never from a value.
    sql = f"""
    WITH l AS MATERIALIZED (
        SELECT lots.*, CAST(lots.xmin AS text) AS locked_version
        FROM lots WHERE {locked}
    )
    SELECT r.n, {lot}, l.locked_version,
           (SELECT CAST(seen.xmin AS text) FROM lots seen WHERE seen.id = {seen})
               AS seen_version,
           s.buyer_premium_bps AS sale_premium_bps,{_CHECKS}{_CARD if with_card else ""}
    FROM {bids}
    LEFT JOIN l ON {join}
    LEFT JOIN sales s ON s.id = l.sale_id{_CHECK_JOINS}{_CARD_JOIN if with_card else ""}
    ORDER BY r.n
    """  # noqa: S608
    return DriverStatement(text(sql))


def _checks(with_card: bool) -> DriverStatement:
    # Built from this module's constants only, never from a value.
    sql = text(
        f"""
        SELECT r.n,{_CHECKS}{_CARD if with_card else ""}
        FROM {_BIDS}{_CHECK_JOINS}{_CARD_JOIN if with_card else ""}
        ORDER BY r.n
        """  # noqa: S608
    )
    return DriverStatement(sql)


#: The premium of a sale is the sale's (not BUYER_PREMIUM_BPS); `sales` is read as SQL
#: text here, not through its model: auctions does not import the sales domain.
#: Keyed by (REQUIRE_CARD_TO_BID, a group of lots): one lot's batch waits for its lock;
#: a group skips the lots held elsewhere (each of those then runs alone).
LOCK_AND_CHECK = {
    (with_card, group): _lock_and_check(with_card, group)
    for with_card in (False, True)
    for group in (False, True)
}
BID_CHECKS = _checks(with_card=False)
BID_CHECKS_WITH_CARD = _checks(with_card=True)

#: The lots' new figures, per lot (the group's `UPDATE ... FROM`; one lot binds scalars).
_FIGURES = [
    ("current_bids", "bigint", "current_bid"),
    ("high_bidder_ids", "varchar", "high_bidder_id"),
    ("leader_maxes", "bigint", "leader_max"),
    ("buy_now_prices", "bigint", "buy_now_price"),
    ("bid_counts", "bigint", "bid_count"),
    ("seqs", "bigint", "seq"),
    ("ends_ats", "timestamptz", "ends_at"),
]


def _write_batch(group: bool) -> DriverStatement:
    """The write of one lot (`:lot_id`, scalar figures) or of a group (a lot id per row)."""

    def rows(alias: str, lot_param: str, columns: list[tuple[str, str, str]]) -> tuple[str, str]:
        # (the lot id expression, the unnest of the rows)
        if group:
            return f"{alias}.lot_id", _unnest(
                alias, [(lot_param, "bigint", "lot_id"), *columns], ordinality=alias == "b"
            )
        return ":lot_id", _unnest(alias, columns, ordinality=alias == "b")

    bid_lot, bids = rows(
        "b",
        "bid_lot_ids",
        [
            ("bidder_ids", "varchar", "bidder_id"),
            ("amounts", "bigint", "amount"),
            ("request_ids", "varchar", "request_id"),
            ("autos", "boolean", "auto"),
            ("created_ats", "timestamptz", "created_at"),
        ],
    )
    max_lot, maxima = rows(
        "m",
        "max_lot_ids",
        [
            ("max_bidder_ids", "varchar", "bidder_id"),
            ("max_request_ids", "varchar", "request_id"),
            ("max_standings", "bigint", "amount"),
            ("max_amounts", "bigint", "max_amount"),
            ("max_created_ats", "timestamptz", "created_at"),
        ],
    )
    event_lot, events = rows(
        "e",
        "event_lot_ids",
        [
            ("event_seqs", "bigint", "seq"),
            ("event_types", "varchar", "type"),
            ("event_data", "text", "data"),
        ],
    )
    if group:
        figures = ",\n            ".join(f"{name} = f.{name}" for _, _, name in _FIGURES)
        moved = f"""UPDATE lots SET
            {figures},
            high_bid_id = coalesce(
                (SELECT max(nb.id) FROM new_bids nb WHERE nb.lot_id = lots.id), lots.high_bid_id
            ),
            updated_at = now()
        FROM {_unnest("f", [("lot_ids", "bigint", "lot_id"), *_FIGURES])}
        WHERE lots.id = f.lot_id"""  # noqa: S608 (this module's constants only)
    else:
        figures = ",\n            ".join(f"{name} = :{name}" for _, _, name in _FIGURES)
        moved = f"""UPDATE lots SET
            {figures},
            high_bid_id = coalesce((SELECT max(id) FROM new_bids), high_bid_id),
            updated_at = now()
        WHERE id = :lot_id"""  # noqa: S608 (this module's constants only)
    # Built from this module's constants only, never from a value.
    sql = f"""
    WITH new_bids AS (
        INSERT INTO bids (lot_id, bidder_id, amount, request_id, auto, created_at)
        SELECT {bid_lot}, b.bidder_id, b.amount, b.request_id, b.auto, b.created_at
        FROM {bids}
        ORDER BY b.n
        RETURNING id, lot_id, amount
    ), maxima AS (
        INSERT INTO max_bids (lot_id, bidder_id, request_id, amount, max_amount, created_at)
        SELECT {max_lot}, m.bidder_id, m.request_id, m.amount, m.max_amount, m.created_at
        FROM {maxima}
        RETURNING id
    ), moved AS (
        {moved}
        RETURNING lots.id
    ), extensions AS (
        INSERT INTO lot_events (lot_id, seq, type, data)
        SELECT {event_lot}, e.seq, e.type, CAST(e.data AS jsonb)
        FROM {events}
        RETURNING id
    ), mails AS (
        INSERT INTO outbox (topic, recipient_id, recipient_email, subject, body, data)
        SELECT 'outbid', u.id, u.email, m.subject, m.body, CAST(m.data AS jsonb)
        FROM unnest(
            CAST(:mail_to AS varchar[]),
            CAST(:mail_subjects AS text[]),
            CAST(:mail_bodies AS text[]),
            CAST(:mail_data AS text[])
        ) WITH ORDINALITY AS m(recipient, subject, body, data, n)
        JOIN users u ON u.id = m.recipient
        WHERE strpos(u.email, '@') > 0
        ORDER BY m.n
        RETURNING id
    )
    SELECT id, lot_id, amount FROM new_bids
    """  # noqa: S608
    return DriverStatement(text(sql))


#: Keyed by "a group of lots".
WRITE_BATCH = {group: _write_batch(group) for group in (False, True)}
