"""Sales over HTTP: the catalogue a seller creates, and what anyone reads of it (SPEC 15)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from server.contract.base import NOT_BLANK, STRIPPED, WHOLE, Contract, Resource, Timestamp
from server.contract.common import Cursor
from server.contract.lots import CurrencyCode, Lot
from server.contract.query import Query
from server.contract.statuses import SaleStatus, Settlement
from server.core.money import CURRENCIES, is_supported_currency

#: A sale's lots close within this long of its start, like a lot's own run.
MAX_SALE_DURATION = timedelta(days=90)
#: The longest gap between two lots' closes.
MAX_LOT_INTERVAL_SECONDS = 86_400
#: The highest buyer's premium, as `BUYER_PREMIUM_BPS` allows (1000 %).
MAX_PREMIUM_BPS = 100_000

Bps = Annotated[int, Field(ge=0, le=MAX_PREMIUM_BPS), WHOLE]


#: What `problems` checks beyond the schema, for the published document.
NEW_SALE_ALSO_CHECKED = [
    "`lots_close_from` is in the future, after `starts_at`, and at most 90 days after it",
]


class NewSale(Contract):
    """`POST /api/sales`. Every problem is reported at once, unknown fields by name."""

    title: Annotated[str, Field(max_length=200), NOT_BLANK, STRIPPED]
    currency: Annotated[
        str,
        Field(
            pattern=r"^[a-z]{3}$",
            description="ISO 4217, lowercase: one Stripe charges in",
            json_schema_extra={"enum": sorted(CURRENCIES)},
        ),
    ]
    settlement: Annotated[
        Settlement,
        Field(
            strict=False,  # the enum from its value: "per_sale" is Settlement.PER_SALE
            description="`per_lot`: each won lot is paid on its own (as standalone lots); "
            "`per_sale`: each buyer gets one invoice for the sale once its last lot has closed",
        ),
    ]
    buyer_premium_bps: Annotated[
        Bps | None, Field(description="Basis points of the hammer. Default: BUYER_PREMIUM_BPS")
    ] = None
    starts_at: Annotated[
        Timestamp | None, Field(description="When its lots open for bidding. Default: now")
    ] = None
    lots_close_from: Annotated[
        Timestamp, Field(description="When lot 1 closes; lot n closes (n - 1) intervals later")
    ]
    lot_interval_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_LOT_INTERVAL_SECONDS,
            description="Seconds between two lots' closes (0: all close together)",
        ),
        WHOLE,
    ]

    def problems(self, context: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        """A currency Stripe charges in; times against the clock and each other."""
        if not is_supported_currency(self.currency):
            yield (
                "currency",
                f"'currency' must be one Stripe charges in, such as 'usd'; not {self.currency!r}",
            )
        now = datetime.now(UTC)
        start = self.starts_at or now
        if self.lots_close_from <= now:
            yield "lots_close_from", "'lots_close_from' must be in the future"
        elif self.lots_close_from <= start:
            yield "lots_close_from", "'lots_close_from' must be after 'starts_at'"
        elif self.lots_close_from - start > MAX_SALE_DURATION:
            yield "lots_close_from", "'lots_close_from' must be at most 90 days after the start"


class SalesQuery(Query):
    status: SaleStatus | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class Sale(Resource):
    """A sale: a catalogue of lots that close one after another."""

    id: int
    title: str
    currency: CurrencyCode
    settlement: Settlement
    buyer_premium_bps: Annotated[int, Field(description="Basis points of each lot's hammer")]
    starts_at: datetime
    lots_close_from: Annotated[datetime, Field(description="When lot 1 closes")]
    lot_interval_seconds: int
    seller_id: str
    created_by: str
    status: Annotated[
        SaleStatus,
        Field(description="SCHEDULED before `starts_at`, OPEN, CLOSED once its last lot closed"),
    ]
    lot_count: Annotated[int, Field(description="Lots in the catalogue")]
    last_lot_closes_at: Annotated[
        datetime | None,
        Field(description="When the last lot is scheduled to close (before any extension)"),
    ]
    closed_at: datetime | None
    created_at: datetime


class SaleDetail(Sale):
    lots: Annotated[list[Lot], Field(description="In catalogue order (`lot_number`)")]


class SalePage(Resource):
    items: Annotated[list[Sale], Field(description="Newest first")]
    next_cursor: Annotated[str | None, Field(description="Null on the last page")]
