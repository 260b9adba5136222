"""Amounts Stripe can charge, end to end: lot creation and bids against the real app.

A lot is refused unless every price on it could end in a charge Stripe takes
(SPEC 12.1); a bid whose total with the buyer's premium is over Stripe's
maximum answers `amount_too_large`; the payment of the largest bid allowed is
created by the stand-in at exactly the maximum. POST /api/lots lists every
problem of a body at once and refuses unknown fields by name.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.auctions.models import Lot
from tests.support.factories import add_lot, bid, create_lot, create_sale, in_seconds, iso

GOOD = {"title": "Vase", "currency": "usd", "starting_price": 1000}


def _body(**fields: object) -> dict[str, object]:
    return {**GOOD, "ends_at": iso(in_seconds(3600)), **fields}


async def _refused(server, db, body: dict[str, object]) -> dict[str, str]:
    status, answer = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert status == 400, answer
    error = answer["error"]
    assert error["code"] == "validation_error"
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Lot)) == 0
    fields: dict[str, str] = error["fields"]
    for message in fields.values():
        assert message in error["message"]
    return fields


async def test_an_empty_body_lists_every_missing_field(server, db):
    fields = await _refused(server, db, {})
    assert fields == {
        "title": "'title' is required",
        "currency": "'currency' is required",
        "starting_price": "'starting_price' is required",
    }
    # `ends_at` is required only without `sale_id`, so it is named once the body is whole.
    body = {"title": "Clock", "currency": "usd", "starting_price": 1000}
    fields = await _refused(server, db, body)
    assert fields == {"ends_at": "'ends_at' is required (unless the lot joins a sale: 'sale_id')"}


async def test_every_malformed_field_is_named_at_once(server, db):
    body = {
        "title": "",
        "currency": "usd",
        "starting_price": 1000,
        "reserve_price": "500",
        "bid_increment": 0,
        "ends_at": "tomorrow",
    }
    fields = await _refused(server, db, body)
    assert set(fields) == {"title", "reserve_price", "bid_increment", "ends_at"}
    assert fields["reserve_price"] == "'reserve_price' must be an integer"


async def test_every_price_and_time_rule_is_named_at_once(server, db):
    body = _body(
        starting_price=10,
        reserve_price=100_000_000,
        bid_increment=100_000_000,
        ends_at=iso(in_seconds(-60)),
    )
    fields = await _refused(server, db, body)
    assert fields == {
        "starting_price": "'starting_price' must be at least $0.50"
        " (Stripe's minimum charge in USD)",
        "reserve_price": "'reserve_price' must be at most $999,999.99"
        " (Stripe's maximum charge in USD)",
        "bid_increment": "'bid_increment' must be at most $999,999.99",
        "ends_at": "'ends_at' must be in the future",
    }


async def test_unknown_fields_are_refused_by_name(server, db):
    fields = await _refused(server, db, _body(reserve=5000, colour="red"))
    assert fields == {
        "reserve": "'reserve' is not a field of this request",
        "colour": "'colour' is not a field of this request",
    }


async def test_a_reserve_below_the_starting_price_is_refused(server, db):
    fields = await _refused(server, db, _body(starting_price=1000, reserve_price=999))
    assert fields == {
        "reserve_price": "'reserve_price' must be at least the starting price ($10.00)"
    }
    lot = await create_lot(server, starting_price=1000, reserve_price=1000)
    assert lot["reserve_met"] is False


async def test_a_currency_stripe_does_not_charge_in_is_refused(server, db):
    fields = await _refused(server, db, _body(currency="xyz"))
    assert set(fields) == {"currency"} and "'xyz'" in fields["currency"]


@pytest.mark.parametrize(
    ("currency", "field", "refused", "accepted", "says"),
    [
        ("usd", "starting_price", 49, 50, "at least $0.50"),
        ("usd", "starting_price", 100_000_000, 99_999_999, "at most $999,999.99"),
        ("usd", "reserve_price", 100_000_000, 99_999_999, "at most $999,999.99"),
        ("jpy", "starting_price", 49, 50, "at least ¥50"),
        ("jpy", "starting_price", 100_000_000, 99_999_999, "at most ¥99,999,999"),
        ("kwd", "starting_price", 1005, 1010, "multiple of 10"),
        ("kwd", "starting_price", 100_000_000, 99_999_990, "at most 99,999.990 KWD"),
        ("isk", "starting_price", 150, 200, "multiple of 100"),
        ("gbp", "starting_price", 29, 30, "at least £0.30"),
        ("usd", "bid_increment", 100_000_000, 99_999_999, "at most $999,999.99"),
    ],
)
async def test_prices_stop_at_stripes_limits_per_currency(
    server, db, currency, field, refused, accepted, says
):
    fields = await _refused(server, db, _body(currency=currency, **{field: refused}))
    assert set(fields) == {field}
    assert says in fields[field]
    price = {"starting_price": accepted} if field == "starting_price" else {field: accepted}
    lot = await create_lot(server, currency=currency, **price)
    assert lot["currency"] == currency


async def test_the_premium_counts_against_the_maximum_at_creation(start_server, db):
    server = await start_server(buyer_premium_bps=1500)
    fields = await _refused(server, db, _body(starting_price=99_999_999))
    assert "at most $869,565.21" in fields["starting_price"]
    assert "buyer's premium" in fields["starting_price"]
    await create_lot(server, starting_price=86_956_521)


async def test_a_bid_over_the_maximum_answers_amount_too_large_and_changes_nothing(server, db):
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", bid(lot["id"], 100_000_000))
    assert ack["ok"] is False
    assert ack["error"]["code"] == "amount_too_large"
    assert "$999,999.99" in ack["error"]["message"]
    _, fetched = await server.request("GET", f"/api/lots/{lot['id']}")
    assert (fetched["current_bid"], fetched["bid_count"]) == (None, 0)
    ack = await alice.call("place_bid", bid(lot["id"], 99_999_999))
    assert ack["ok"] is True, ack


async def test_a_bid_on_a_sales_lot_is_checked_with_the_sales_premium(server):
    """BUYER_PREMIUM_BPS is 0 here; the sale charges 15 %: its lots' limit is the sale's."""
    sale = await create_sale(server, settlement="per_lot", buyer_premium_bps=1500)
    lot = await add_lot(server, sale, starting_price=1000)
    alice = await server.socket("alice")
    too_large = await alice.call("place_bid", bid(lot["id"], 86_956_522))
    assert too_large["ok"] is False, too_large
    assert too_large["error"]["code"] == "amount_too_large", too_large
    assert "$869,565.21" in too_large["error"]["message"]
    maximum = await alice.call(
        "set_max_bid", {"lot_id": lot["id"], "max_amount": 90_000_000, "request_id": "m1"}
    )
    assert maximum["error"]["code"] == "amount_too_large", maximum
    ack = await alice.call("place_bid", bid(lot["id"], 86_956_521))
    assert ack["ok"] is True, ack


async def test_the_largest_bid_with_premium_is_charged_at_exactly_the_maximum(start_server):
    server = await start_server(buyer_premium_bps=1500)
    lot = await create_lot(server, starting_price=1000)
    alice = await server.socket("alice")
    too_large = await alice.call("place_bid", bid(lot["id"], 86_956_522))
    assert too_large["error"]["code"] == "amount_too_large", too_large
    assert "$869,565.21" in too_large["error"]["message"]
    ack = await alice.call("place_bid", bid(lot["id"], 86_956_521))
    assert ack["ok"] is True, ack
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200, closed
    info = await alice.wait_for("payment_required", timeout=10)
    # The stand-in created the intent: the total is the largest amount Stripe charges.
    assert info["status"] == "REQUIRES_PAYMENT"
    assert info["amount"] == 99_999_999
    assert info["breakdown"] == {"hammer": 86_956_521, "premium": 13_043_478, "total": 99_999_999}
