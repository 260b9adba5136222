"""The SQL of a bid batch: two statements while the lot's row lock is held.

Written out as SQL, once, because they run on the hottest path the server has:
each batch only binds values (arrays, one element per bid), and asyncpg keeps
them prepared per connection. They run on the bare asyncpg connection
(`DriverStatement`, `Database.driver_unit_of_work`): rows are asyncpg Records.
The tables are `server.auctions.models`, `server.users.models` and
`server.notifications.models`.

1. `LOCK_AND_CHECK` locks the lot row (`FOR UPDATE`) and, in the same round trip,
   returns one row per bid: the whole lot, the premium of its sale (if any), the
   bid's earlier use of its request_id, its bidder's strikes and
   (`LOCK_AND_CHECK_WITH_CARD`, REQUIRE_CARD_TO_BID) its bidder's default card's
   expiry. The lock and the checks read one snapshot, taken before the lock was
   granted: if another transaction moved the lot meanwhile (the lot row's `xmin`
   under the lock differs from the one in the snapshot), a retry may have lost
   its race with its original there, so the batch reads the checks again with
   `BID_CHECKS` (a new statement, a new snapshot, after the lock).
2. `WRITE_BATCH` inserts the accepted bids in arrival order (so their ids
   increase with their amounts), moves the lot to the last one, records the
   anti-sniping extensions (and buy-now's withdrawal) in the lot's history, records the
   maxima left with the requests, and queues the outbid e-mails
   for recipients who have an address: one round trip, data-modifying CTEs.
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


def _lock_and_check(with_card: bool) -> DriverStatement:
    lot = ", ".join(f"l.{name} AS l_{name}" for name in LOT_COLUMNS)
    # The CTE is materialized (it locks) and joined to every bid, so the lock is taken
    # whatever the plan. `seen_version` is the lot row as the statement's snapshot has it.
    # Built from this module's constants only, never from a value.
    sql = f"""
    WITH l AS MATERIALIZED (
        SELECT lots.*, CAST(lots.xmin AS text) AS locked_version
        FROM lots WHERE id = :lot_id FOR UPDATE
    )
    SELECT r.n, {lot}, l.locked_version,
           (SELECT CAST(seen.xmin AS text) FROM lots seen WHERE seen.id = :lot_id)
               AS seen_version,
           s.buyer_premium_bps AS sale_premium_bps,{_CHECKS}{_CARD if with_card else ""}
    FROM {_BIDS}
    LEFT JOIN l ON true
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
LOCK_AND_CHECK = _lock_and_check(with_card=False)
LOCK_AND_CHECK_WITH_CARD = _lock_and_check(with_card=True)
BID_CHECKS = _checks(with_card=False)
BID_CHECKS_WITH_CARD = _checks(with_card=True)

WRITE_BATCH = DriverStatement(
    text(
        """
    WITH new_bids AS (
        INSERT INTO bids (lot_id, bidder_id, amount, request_id, auto, created_at)
        SELECT :lot_id, b.bidder_id, b.amount, b.request_id, b.auto, b.created_at
        FROM unnest(
            CAST(:bidder_ids AS varchar[]),
            CAST(:amounts AS bigint[]),
            CAST(:request_ids AS varchar[]),
            CAST(:autos AS boolean[]),
            CAST(:created_ats AS timestamptz[])
        ) WITH ORDINALITY AS b(bidder_id, amount, request_id, auto, created_at, n)
        ORDER BY b.n
        RETURNING id, amount
    ), maxima AS (
        INSERT INTO max_bids (lot_id, bidder_id, request_id, amount, max_amount, created_at)
        SELECT :lot_id, m.bidder_id, m.request_id, m.amount, m.max_amount, m.created_at
        FROM unnest(
            CAST(:max_bidder_ids AS varchar[]),
            CAST(:max_request_ids AS varchar[]),
            CAST(:max_standings AS bigint[]),
            CAST(:max_amounts AS bigint[]),
            CAST(:max_created_ats AS timestamptz[])
        ) AS m(bidder_id, request_id, amount, max_amount, created_at)
        RETURNING id
    ), moved AS (
        UPDATE lots SET
            current_bid = :current_bid,
            high_bidder_id = :high_bidder_id,
            high_bid_id = coalesce((SELECT max(id) FROM new_bids), high_bid_id),
            leader_max = :leader_max,
            buy_now_price = :buy_now_price,
            bid_count = :bid_count,
            seq = :seq,
            ends_at = :ends_at,
            updated_at = now()
        WHERE id = :lot_id
        RETURNING id
    ), extensions AS (
        INSERT INTO lot_events (lot_id, seq, type, data)
        SELECT :lot_id, e.seq, e.type, CAST(e.data AS jsonb)
        FROM unnest(
            CAST(:event_seqs AS bigint[]),
            CAST(:event_types AS varchar[]),
            CAST(:event_data AS text[])
        ) AS e(seq, type, data)
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
    SELECT id, amount FROM new_bids
    """
    )
)
