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


def _lock_and_check(with_card: bool, skip_locked: bool) -> DriverStatement:
    lot = ", ".join(f"l.{name} AS l_{name}" for name in LOT_COLUMNS)
    # The CTE is materialized (it locks) and joined to every bid; the lots are locked in
    # id order (the sort runs below the lock), so two transactions that both wait for
    # several lots cannot deadlock on them. A bid whose lot row was not locked (not found,
    # or skipped) has no `l_` values: only a locked lot's values are ever used.
    # `seen_version` is the lot row as the statement's snapshot has it.
    # Built from this module's constants only, never from a value.
    sql = f"""
    WITH l AS MATERIALIZED (
        SELECT lots.*, CAST(lots.xmin AS text) AS locked_version
        FROM lots WHERE id = ANY(CAST(:lot_ids AS bigint[]))
        ORDER BY id
        FOR UPDATE{" SKIP LOCKED" if skip_locked else ""}
    )
    SELECT r.n, r.lot_id AS bid_lot_id, {lot}, l.locked_version,
           (SELECT CAST(seen.xmin AS text) FROM lots seen WHERE seen.id = l.id)
               AS seen_version,
           s.buyer_premium_bps AS sale_premium_bps,{_CHECKS}{_CARD if with_card else ""}
    FROM unnest(
        CAST(:bid_lot_ids AS bigint[]),
        CAST(:bidder_ids AS varchar[]),
        CAST(:request_ids AS varchar[])
    ) WITH ORDINALITY AS r(lot_id, bidder_id, request_id, n)
    LEFT JOIN l ON l.id = r.lot_id
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
#: Keyed by (REQUIRE_CARD_TO_BID, skip locked lots): one lot's batch waits for its lock;
#: a group of lots skips the lots held elsewhere (each of those then runs alone).
LOCK_AND_CHECK = {
    (with_card, skip): _lock_and_check(with_card, skip)
    for with_card in (False, True)
    for skip in (False, True)
}
BID_CHECKS = _checks(with_card=False)
BID_CHECKS_WITH_CARD = _checks(with_card=True)

WRITE_BATCH = DriverStatement(
    text(
        """
    WITH new_bids AS (
        INSERT INTO bids (lot_id, bidder_id, amount, request_id, auto, created_at)
        SELECT b.lot_id, b.bidder_id, b.amount, b.request_id, b.auto, b.created_at
        FROM unnest(
            CAST(:bid_lot_ids AS bigint[]),
            CAST(:bidder_ids AS varchar[]),
            CAST(:amounts AS bigint[]),
            CAST(:request_ids AS varchar[]),
            CAST(:autos AS boolean[]),
            CAST(:created_ats AS timestamptz[])
        ) WITH ORDINALITY AS b(lot_id, bidder_id, amount, request_id, auto, created_at, n)
        ORDER BY b.n
        RETURNING id, lot_id, amount
    ), maxima AS (
        INSERT INTO max_bids (lot_id, bidder_id, request_id, amount, max_amount, created_at)
        SELECT m.lot_id, m.bidder_id, m.request_id, m.amount, m.max_amount, m.created_at
        FROM unnest(
            CAST(:max_lot_ids AS bigint[]),
            CAST(:max_bidder_ids AS varchar[]),
            CAST(:max_request_ids AS varchar[]),
            CAST(:max_standings AS bigint[]),
            CAST(:max_amounts AS bigint[]),
            CAST(:max_created_ats AS timestamptz[])
        ) AS m(lot_id, bidder_id, request_id, amount, max_amount, created_at)
        RETURNING id
    ), moved AS (
        UPDATE lots SET
            current_bid = f.current_bid,
            high_bidder_id = f.high_bidder_id,
            high_bid_id = coalesce(
                (SELECT max(nb.id) FROM new_bids nb WHERE nb.lot_id = lots.id), lots.high_bid_id
            ),
            leader_max = f.leader_max,
            buy_now_price = f.buy_now_price,
            bid_count = f.bid_count,
            seq = f.seq,
            ends_at = f.ends_at,
            updated_at = now()
        FROM unnest(
            CAST(:lot_ids AS bigint[]),
            CAST(:current_bids AS bigint[]),
            CAST(:high_bidder_ids AS varchar[]),
            CAST(:leader_maxes AS bigint[]),
            CAST(:buy_now_prices AS bigint[]),
            CAST(:bid_counts AS bigint[]),
            CAST(:seqs AS bigint[]),
            CAST(:ends_ats AS timestamptz[])
        ) AS f(lot_id, current_bid, high_bidder_id, leader_max, buy_now_price, bid_count, seq,
               ends_at)
        WHERE lots.id = f.lot_id
        RETURNING lots.id
    ), extensions AS (
        INSERT INTO lot_events (lot_id, seq, type, data)
        SELECT e.lot_id, e.seq, e.type, CAST(e.data AS jsonb)
        FROM unnest(
            CAST(:event_lot_ids AS bigint[]),
            CAST(:event_seqs AS bigint[]),
            CAST(:event_types AS varchar[]),
            CAST(:event_data AS text[])
        ) AS e(lot_id, seq, type, data)
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
    """
    )
)
