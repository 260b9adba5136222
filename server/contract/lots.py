"""Lots and bids over HTTP: the new lot a seller sends, the lots and bids anyone reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from server.contract.base import (
    NO_NUL,
    NOT_BLANK,
    STRIPPED,
    Amount,
    Contract,
    Id,
    Resource,
    Timestamp,
)
from server.contract.common import Cursor
from server.contract.media import Image
from server.contract.query import Query
from server.contract.statuses import LotStatus
from server.core.currencies import CURRENCIES
from server.core.money import (
    is_supported_currency,
    lot_price_problems,
    max_hammer,
    min_hammer,
    price_problem,
)

MAX_LOT_DURATION = timedelta(days=90)

MONEY = "An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500)"
#: Lowercase ISO 4217; the lot model narrows it to the currencies Stripe charges in.
CurrencyCode = Annotated[
    str, Field(pattern=r"^[a-z]{3}$", description="ISO 4217, lowercase", examples=["usd"])
]


@dataclass(frozen=True, slots=True)
class SaleTerms:
    """What a new lot of a sale is checked against: `parse(NewLot, ..., sale=terms)`."""

    currency: str
    premium_bps: int
    #: When the next lot of the catalogue would close.
    next_close: datetime


class NewLot(Contract):
    """`POST /api/lots`. Every problem is reported at once, unknown fields by name.

    With `sale_id` the lot joins that sale's catalogue as its next number, and its
    end comes from the sale's schedule: `ends_at` is left out.
    """

    title: Annotated[str, Field(max_length=200), NOT_BLANK, STRIPPED]
    description: Annotated[str, Field(max_length=10_000), NO_NUL, STRIPPED] = ""
    currency: CurrencyCode
    starting_price: Annotated[Amount, Field(description=MONEY)]
    reserve_price: Annotated[Amount | None, Field(description="Secret. " + MONEY)] = None
    bid_increment: Annotated[
        Amount | None, Field(description="Default: the standard increment table. " + MONEY)
    ] = None
    buy_now_price: Annotated[
        Amount | None,
        Field(
            description="Offered until the first bid that meets the reserve; at least the "
            "starting price and the reserve. " + MONEY
        ),
    ] = None
    starts_at: Annotated[
        Timestamp | None, Field(description="Default: now (in a sale: the sale's start)")
    ] = None
    ends_at: Annotated[
        Timestamp | None, Field(description="Required unless `sale_id` is given")
    ] = None
    sale_id: Annotated[
        Id | None,
        Field(
            description="Add the lot to this sale (its seller, or an admin): it gets the next "
            "`lot_number` and closes on the sale's schedule"
        ),
    ] = None

    def problems(self, context: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        """The rules no static schema can state: prices against the currency, times against now.

        The price rules are `money.lot_price_problems`: a currency
        Stripe charges in, every price chargeable with the buyer's premium
        (`context["premium_bps"]`), the reserve not below the start.
        """
        now = datetime.now(UTC)
        sale: SaleTerms | None = context.get("sale")
        premium_bps = sale.premium_bps if sale else int(context.get("premium_bps", 0))
        if sale is not None and self.currency != sale.currency:
            yield "currency", f"'currency' must be the sale's, {sale.currency!r}"
        else:
            yield from lot_price_problems(
                currency=self.currency,
                starting_price=self.starting_price,
                reserve_price=self.reserve_price,
                bid_increment=self.bid_increment,
                premium_bps=premium_bps,
            )
            yield from self._buy_now_problems(premium_bps)
        start = self.starts_at or now
        if sale is not None:
            if self.ends_at is not None:
                yield "ends_at", "'ends_at' must be left out: the sale's schedule sets it"
            elif self.starts_at is not None and self.starts_at >= sale.next_close:
                yield "starts_at", "'starts_at' must be before the lot's close in the sale"
        elif self.ends_at is None:
            yield "ends_at", "'ends_at' is required (unless the lot joins a sale: 'sale_id')"
        elif self.ends_at <= now:
            yield "ends_at", "'ends_at' must be in the future"
        elif self.ends_at <= start:
            yield "ends_at", "'ends_at' must be after 'starts_at'"
        elif self.ends_at - start > MAX_LOT_DURATION:
            yield "ends_at", "A lot may run for at most 90 days"

    def _buy_now_problems(self, premium_bps: int) -> Iterable[tuple[str, str]]:
        price = self.buy_now_price
        if price is None:
            return
        if price < self.starting_price:
            yield "buy_now_price", "'buy_now_price' must be at least 'starting_price'"
        if self.reserve_price is not None and price < self.reserve_price:
            yield "buy_now_price", "'buy_now_price' must be at least 'reserve_price'"
        if is_supported_currency(self.currency):
            problem = price_problem(price, self.currency, premium_bps=premium_bps)
            if problem is not None:
                yield "buy_now_price", f"'buy_now_price' {problem.message}"


#: The fields of a lot its seller may change before the first bid (`PATCH /api/lots/{id}`).
EDITABLE_FIELDS = (
    "title",
    "description",
    "currency",
    "starting_price",
    "reserve_price",
    "bid_increment",
    "buy_now_price",
    "starts_at",
    "ends_at",
)


def _only_what_is_named(schema: dict[str, Any]) -> None:
    """A change names at least one field, and an absent field stays as it is (no default)."""
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
    schema["minProperties"] = 1


class LotChanges(Contract):
    """`PATCH /api/lots/{id}`: the fields to change, at least one. `null` removes a reserve,
    an increment or a buy-now price. The lot as changed must pass every rule of `NewLot`."""

    model_config = ConfigDict(json_schema_extra=lambda schema: _only_what_is_named(schema))

    title: Annotated[str, Field(max_length=200), NOT_BLANK, STRIPPED] = None  # type: ignore[assignment]
    description: Annotated[str, Field(max_length=10_000), NO_NUL, STRIPPED] = None  # type: ignore[assignment]
    currency: CurrencyCode = None  # type: ignore[assignment]
    starting_price: Annotated[Amount, Field(description=MONEY)] = None  # type: ignore[assignment]
    reserve_price: Annotated[Amount | None, Field(description="Secret. " + MONEY)] = None
    bid_increment: Annotated[Amount | None, Field(description=MONEY)] = None
    buy_now_price: Annotated[Amount | None, Field(description=MONEY)] = None
    starts_at: Timestamp = None  # type: ignore[assignment]
    ends_at: Timestamp = None  # type: ignore[assignment]

    def problems(self, context: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if not self.model_fields_set:
            yield "body", "Name at least one field to change"

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


#: The catalogue's tabs: which lots a visitor is looking at.
CatalogueView = Literal["open", "upcoming", "closing_soon", "results"]
LotSort = Literal["newest", "ending", "lot_number"]


class LotsQuery(Query):
    status: LotStatus | None = None
    view: Annotated[
        CatalogueView | None,
        Field(
            description="open: OPEN; upcoming: SCHEDULED; closing_soon: OPEN and ending within "
            "`closing_within` seconds; results: closed (PENDING_PAYMENT, SOLD, UNSOLD). "
            "Omitted: every status"
        ),
    ] = None
    q: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Case-insensitive part of the title"),
        NO_NUL,
    ] = None
    seller_id: Annotated[str | None, Field(min_length=1, max_length=255), NO_NUL] = None
    sale_id: Annotated[Id | None, Field(description="The lots of one sale")] = None
    closing_within: Annotated[
        int, Field(ge=1, le=int(MAX_LOT_DURATION.total_seconds()), description="Seconds")
    ] = 3600
    sort: Annotated[
        LotSort,
        Field(
            description="newest: newest first; ending: soonest end first; lot_number: in "
            "catalogue order (lots of a sale by number, then lots outside a sale)"
        ),
    ] = "newest"
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class BidsQuery(Query):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class Lot(Resource):
    """A lot as everyone sees it. The reserve itself stays secret."""

    id: int
    title: str
    description: str
    seller_id: str
    currency: CurrencyCode
    starting_price: Annotated[int, Field(description=MONEY)]
    has_reserve: bool
    reserve_met: Annotated[bool, Field(description="The reserve itself stays secret")]
    bid_increment: Annotated[
        int | None, Field(description="Null: the standard increment table. " + MONEY)
    ]
    current_bid: Annotated[int | None, Field(description="The highest bid placed. " + MONEY)]
    bid_count: int
    high_bidder: Annotated[str | None, Field(description="The high bidder's alias, not their id")]
    hammer_price: Annotated[
        int | None,
        Field(
            description="The price of the sale in force: the winning bid, then a next "
            "bidder's own bid after an expired window. Null before the close, and when the "
            "lot ends UNSOLD or CANCELED. " + MONEY
        ),
    ]
    winner: Annotated[str | None, Field(description="The alias of the bidder of the sale in force")]
    min_next_bid: Annotated[int, Field(description=MONEY)]
    buy_now_price: Annotated[
        int | None,
        Field(description="Null once a bid met the reserve, or the lot closed. " + MONEY),
    ]
    starts_at: datetime
    ends_at: datetime
    status: LotStatus
    seq: Annotated[int, Field(description="The lot's event counter: the seq of its latest event")]
    closed_at: datetime | None
    images: Annotated[list[Image], Field(description="In display order; the first is the cover")]
    sale_id: Annotated[int | None, Field(description="The sale it is catalogued in, if any")]
    lot_number: Annotated[int | None, Field(description="Its number in the sale (1, 2, ...)")]


class LotPage(Resource):
    items: list[Lot]
    next_cursor: Annotated[str | None, Field(description="Null on the last page")]


class LotList(Resource):
    items: list[Lot]


class Watching(Resource):
    lot_id: int
    watching: Annotated[bool, Field(description="Whether the caller now watches the lot")]


class Bid(Resource):
    id: int
    lot_id: int
    amount: Annotated[int, Field(description=MONEY)]
    bidder: Annotated[str | None, Field(description="The bidder's alias")]
    auto: Annotated[bool, Field(description="Placed by the house for a standing maximum")]
    created_at: datetime


class BidList(Resource):
    items: Annotated[list[Bid], Field(description="Newest first")]


class MyBid(Resource):
    """One lot the caller bid on or left a maximum on. Only the caller sees this."""

    lot: Lot
    max_amount: Annotated[
        int | None, Field(description="Your maximum (secret), null if you left none. " + MONEY)
    ]
    your_highest_bid: Annotated[
        int | None, Field(description="Your highest visible bid, null if none. " + MONEY)
    ]
    leading: Annotated[bool, Field(description="Whether you hold the highest bid")]


class MyBidList(Resource):
    items: Annotated[list[MyBid], Field(description="Latest lots first, at most 200")]


def new_lot_schema(schema: dict[str, Any], *, premium_bps: int) -> dict[str, Any]:
    """`NewLot` with the price rules of each currency, one `oneOf` branch per kind of currency.

    A static schema cannot compare two fields or a time with now (reserve
    against start, `ends_at` in the future): those are in `problems` only, and
    listed under `x-also-checked`.
    """
    branches = []
    for codes, step, minimum, maximum in currency_rules(premium_bps):
        properties = dict(schema["properties"])
        if codes is None:
            listed = sorted(
                {code for group in currency_rules(premium_bps) for code in group[0] or ()}
            )
            properties["currency"] = {**properties["currency"], "not": {"enum": listed}}
        else:
            properties["currency"] = {"type": "string", "enum": codes}
        price = {"type": "integer", "minimum": minimum, "maximum": maximum}
        if step > 1:
            price["multipleOf"] = step
        for name in ("starting_price", "reserve_price", "bid_increment", "buy_now_price"):
            limits = dict(price, minimum=step) if name == "bid_increment" else price
            described = {"description": schema["properties"][name].get("description", "")}
            properties[name] = (
                {**limits, **described}
                if name == "starting_price"
                else {**limits, "type": ["integer", "null"], **described}
            )
        branches.append({**schema, "properties": properties})
    return {
        "description": schema.get("description", ""),
        "oneOf": branches,
        "x-also-checked": [
            "`reserve_price` is at least `starting_price`",
            "`buy_now_price` is at least `starting_price` and `reserve_price`",
            "`ends_at` is in the future and after `starts_at`; a lot runs at most 90 days",
            "`ends_at` is required without `sale_id` and left out with it; a lot of a sale"
            " is in the sale's currency and priced with the sale's buyer's premium",
        ],
    }


def currency_rules(premium_bps: int) -> list[tuple[list[str] | None, int, int, int]]:
    """(currencies, step, lowest price, highest price), from Stripe's currency table.

    The lowest and highest prices are the hammers whose total with the premium
    Stripe still charges (`server.core.currencies`); currencies that share all
    three share a branch. No branch for other codes: they are refused.
    """
    groups: dict[tuple[int, int, int], list[str]] = {}
    for code, info in CURRENCIES.items():
        key = (info.step, min_hammer(code, premium_bps), max_hammer(code, premium_bps))
        groups.setdefault(key, []).append(code)
    return [(sorted(codes), *key) for key, codes in sorted(groups.items())]
