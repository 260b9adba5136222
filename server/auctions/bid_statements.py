"""The SQL of a bid batch: three statements while the lot's row lock is held.

Written out as SQL, once, because they run on the hottest path the server has:
each batch only binds values (arrays, one element per bid), and asyncpg keeps
them prepared per connection. The tables are `server.auctions.models`,
`server.users.models` and `server.notifications.models`.

1. `LOCK_LOT` reads the whole lot row `FOR UPDATE`, through Core (no ORM load).
2. `BID_CHECKS` reads, after the lock, each bid's earlier use of its request_id
   (a retry racing its original sees the original) and its bidder's strikes;
   `BID_CHECKS_WITH_CARD` (REQUIRE_CARD_TO_BID) also each bidder's default
   card's expiry, from the same round trip (one index lookup per bidder).
3. `WRITE_BATCH` inserts the accepted bids in arrival order (so their ids
   increase with their amounts), moves the lot to the last one, records the
   anti-sniping extensions (and buy-now's withdrawal) in the lot's history, records the
   maxima left with the requests, and queues the outbid e-mails
   for recipients who have an address: one round trip, data-modifying CTEs.
"""

from __future__ import annotations

from sqlalchemy import TextClause, bindparam, select, text

from server.auctions.models import Lot

LOTS = Lot.__table__

LOCK_LOT = select(LOTS).where(LOTS.c.id == bindparam("lot_id")).with_for_update()

#: The buyer's premium of a sale's lot (the sale's, not BUYER_PREMIUM_BPS). Text, not the
#: model: auctions does not import the sales domain.
SALE_PREMIUM: TextClause = text("SELECT buyer_premium_bps FROM sales WHERE id = :sale_id")

BID_CHECKS: TextClause = text(
    """
    SELECT r.n, u.strikes, b.id, b.lot_id, b.amount, b.created_at, b.auto,
           m.lot_id AS max_lot_id, m.amount AS max_standing, m.max_amount
    FROM unnest(CAST(:bidder_ids AS varchar[]), CAST(:request_ids AS varchar[]))
         WITH ORDINALITY AS r(bidder_id, request_id, n)
    LEFT JOIN users u ON u.id = r.bidder_id
    LEFT JOIN bids b ON b.bidder_id = r.bidder_id AND b.request_id = r.request_id
    LEFT JOIN max_bids m ON m.bidder_id = r.bidder_id AND m.request_id = r.request_id
    ORDER BY r.n
    """
)

BID_CHECKS_WITH_CARD: TextClause = text(
    """
    SELECT r.n, u.strikes, b.id, b.lot_id, b.amount, b.created_at, b.auto,
           m.lot_id AS max_lot_id, m.amount AS max_standing, m.max_amount,
           c.exp_month AS card_exp_month, c.exp_year AS card_exp_year
    FROM unnest(CAST(:bidder_ids AS varchar[]), CAST(:request_ids AS varchar[]))
         WITH ORDINALITY AS r(bidder_id, request_id, n)
    LEFT JOIN users u ON u.id = r.bidder_id
    LEFT JOIN bids b ON b.bidder_id = r.bidder_id AND b.request_id = r.request_id
    LEFT JOIN max_bids m ON m.bidder_id = r.bidder_id AND m.request_id = r.request_id
    LEFT JOIN cards c ON c.user_id = r.bidder_id AND c.is_default
    ORDER BY r.n
    """
)

WRITE_BATCH: TextClause = text(
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
