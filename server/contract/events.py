"""The Socket.IO contract (SPEC section 7): every payload, both directions, as a model.

Client events (`join_lot`, ...) are `Contract` models: handlers parse with them,
so a malformed payload is refused naming every bad field. What the server sends
(room and user events, and the acks) are `Resource` models: the server builds
them as plain dicts on its hot paths, the AsyncAPI document publishes their
schemas, and the test suite checks every event and ack it receives against
those schemas, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from server.contract.base import NOT_BLANK, Amount, Contract, Id, Resource
from server.contract.lots import Bid, Lot
from server.contract.payments import PaymentInfo
from server.contract.statuses import LotStatus

#: A client's id for one bid, reused on a retry so the bid counts once.
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="Chosen by the client (a UUID is ideal); a retry reuses it and places no "
        "second bid",
    ),
    NOT_BLANK,
]
Seq = Annotated[int, Field(ge=1, description="The lot's event counter after this event")]
Alias = Annotated[str, Field(description="A stable pseudonym of the bidder on this lot")]

# --- client to server -------------------------------------------------------------------------


class JoinLot(Contract):
    """Join the lot's room; the ack carries a fresh snapshot."""

    lot_id: Id


class LeaveLot(Contract):
    """Leave the lot's room."""

    lot_id: Id


class PlaceBid(Contract):
    """Bid on an open lot. Needs a token. With `max_amount` the house bids for the
    caller up to it (secret: only the caller's own acks and views show it)."""

    lot_id: Id
    amount: Amount
    request_id: RequestId
    max_amount: Amount | None = Field(
        default=None, description="Your secret maximum, at least `amount`"
    )


class SetMaxBid(Contract):
    """Leave or raise (never lower) a secret maximum. Needs a token. For the leader it
    only raises the maximum (not a self-outbid); anyone else bids the next minimum with
    it behind."""

    lot_id: Id
    max_amount: Amount
    request_id: RequestId


class BuyNow(Contract):
    """Buy the lot at its `buy_now_price`, offered until a bid meets the reserve. Needs a
    token. The lot goes PENDING_PAYMENT for the caller at once."""

    lot_id: Id
    request_id: RequestId


class MyPayments(Contract):
    """The payments awaiting the caller (PaymentInfo, client secrets included). Needs a token."""


# --- server to a lot room (`lot:{id}`) --------------------------------------------------------


class BidPlaced(Resource):
    lot_id: int
    seq: Seq
    bid_id: int
    amount: int
    bidder: Alias
    auto: bool = Field(description="Placed by the house for a standing maximum")
    bid_count: int
    ends_at: datetime
    min_next_bid: int
    reserve_met: bool = Field(description="Whether the lot's (secret) reserve is now met")
    created_at: datetime


class LotExtended(Resource):
    """A late bid pushed the end out (anti-sniping)."""

    lot_id: int
    seq: Seq
    ends_at: datetime


class Resync(Resource):
    """Events of this lot may have been lost (the link between server processes was
    down): re-join the lot (`join_lot`) for a fresh snapshot, as on a `seq` gap."""

    lot_id: int
    seq: int = Field(
        ge=0,
        description="The lot's latest seq when this was sent (0 if it could not be read): "
        "a client that has seen it missed nothing, but re-joining is always safe",
    )
    reason: Literal["redis_reconnected"]


class LotStatusChanged(Resource):
    """Every status change. PENDING_PAYMENT means bidding is locked."""

    lot_id: int
    seq: Seq
    status: LotStatus
    reason: str = Field(
        description="starts_at, ends_at, closed_by_seller, closed_by_admin, no_bids, "
        "reserve_not_met, withdrawn, paid, offered_to_next_bidder, not_paid"
    )
    current_bid: int | None
    high_bidder: str | None
    hammer_price: int | None = Field(description="The price of the sale in force, else null")
    winner: str | None = Field(description="The alias of the bidder of the sale in force")
    ends_at: datetime
    amount: int | None = Field(default=None, description="The hammer price, with SOLD")
    offer_number: int | None = Field(
        default=None, description="With offered_to_next_bidder: which offer this is"
    )
    buy_now_price: None = Field(
        default=None,
        description="With buy_now_withdrawn and buy_now: buy-now is no longer offered",
    )


# --- server to one user (`user:{sub}`) --------------------------------------------------------


class Outbid(Resource):
    lot_id: int
    amount: int = Field(description="The new highest bid")
    your_amount: int
    min_next_bid: int


class PaymentActionRequired(Resource):
    """The bank asks for more (3-D Secure and the like): finish it with Stripe.js."""

    payment_id: int
    lot_id: int | None
    invoice_id: int | None = None


class PaymentFailed(Resource):
    payment_id: int
    lot_id: int | None
    invoice_id: int | None = None
    failure_code: str | None
    failure_message: str | None
    attempts_left: int


class PaymentSucceeded(Resource):
    payment_id: int
    lot_id: int | None
    invoice_id: int | None = None
    amount: int
    currency: str
    receipt_url: str


class PaymentExpired(Resource):
    payment_id: int
    lot_id: int | None
    invoice_id: int | None = None
    reason: str = Field(description="window_elapsed, attempts_exhausted or canceled_at_stripe")


# --- acks ------------------------------------------------------------------------------------


class ErrorBody(Resource):
    """`code` names the refusal (SPEC section 7). Some refusals carry more fields."""

    code: str
    message: str
    fields: dict[str, str] | None = Field(
        default=None,
        description="With validation_error: each bad field (nested ones joined with dots) "
        "and its message",
    )
    min_next_bid: int | None = Field(default=None, description="With bid_too_low")


class ErrorAck(Resource):
    ok: Literal[False]
    error: ErrorBody


class JoinLotAck(Resource):
    ok: Literal[True]
    lot: Lot


class LeaveLotAck(Resource):
    ok: Literal[True]


class PlaceBidAck(Resource):
    ok: Literal[True]
    bid: Bid | None = Field(
        description="The row answering your bid. Null only when your bid equalled a "
        "maximum left earlier (the earlier one stands at that amount)"
    )
    lot: Lot
    leading: bool = Field(description="Whether you lead after it (a maximum may answer at once)")
    max_amount: int | None = Field(default=None, description="Your maximum, when you sent one")


class SetMaxBidAck(Resource):
    ok: Literal[True]
    lot: Lot
    max_amount: int = Field(description="Your maximum (secret: only you see it)")
    leading: bool


class BuyNowAck(Resource):
    ok: Literal[True]
    lot: Lot


class MyPaymentsAck(Resource):
    ok: Literal[True]
    payments: list[PaymentInfo]


# --- the tables the AsyncAPI document and the handlers are built from ------------------------


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """A client-to-server event: its payload and its successful ack."""

    name: str
    payload: type[Contract]
    ack: type[Resource]
    summary: str
    needs_token: bool = False


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """A server-to-client event and the room it goes to."""

    name: str
    payload: type[Resource]
    room: Literal["lot", "user"]
    summary: str


CLIENT_EVENTS: tuple[ClientEvent, ...] = (
    ClientEvent(
        name="join_lot",
        payload=JoinLot,
        ack=JoinLotAck,
        summary="Join a lot's room and get its snapshot; re-join on a seq gap",
    ),
    ClientEvent(name="leave_lot", payload=LeaveLot, ack=LeaveLotAck, summary="Leave a lot's room"),
    ClientEvent(
        name="place_bid",
        payload=PlaceBid,
        ack=PlaceBidAck,
        summary="Bid; a retried request_id returns the first result and places no second bid",
        needs_token=True,
    ),
    ClientEvent(
        name="set_max_bid",
        payload=SetMaxBid,
        ack=SetMaxBidAck,
        summary="Leave or raise a secret maximum; a retried request_id has one effect",
        needs_token=True,
    ),
    ClientEvent(
        name="buy_now",
        payload=BuyNow,
        ack=BuyNowAck,
        summary="Buy at the buy-now price before a bid meets the reserve",
        needs_token=True,
    ),
    ClientEvent(
        name="my_payments",
        payload=MyPayments,
        ack=MyPaymentsAck,
        summary="The payments awaiting the caller",
        needs_token=True,
    ),
)

SERVER_EVENTS: tuple[ServerEvent, ...] = (
    ServerEvent(name="bid_placed", payload=BidPlaced, room="lot", summary="A bid was accepted"),
    ServerEvent(
        name="lot_extended", payload=LotExtended, room="lot", summary="The end moved later"
    ),
    ServerEvent(
        name="lot_status", payload=LotStatusChanged, room="lot", summary="The status changed"
    ),
    ServerEvent(
        name="resync",
        payload=Resync,
        room="lot",
        summary="Events of this lot may have been missed: re-join it for a fresh snapshot",
    ),
    ServerEvent(name="outbid", payload=Outbid, room="user", summary="Someone bid more than you"),
    ServerEvent(
        name="payment_required",
        payload=PaymentInfo,
        room="user",
        summary="You won (or were offered) a lot: pay within the window. Sent again on "
        "every connect while it awaits you",
    ),
    ServerEvent(
        name="payment_action_required",
        payload=PaymentActionRequired,
        room="user",
        summary="Your bank asks for authentication",
    ),
    ServerEvent(
        name="payment_failed",
        payload=PaymentFailed,
        room="user",
        summary="A card was declined; try again while attempts are left",
    ),
    ServerEvent(name="payment_succeeded", payload=PaymentSucceeded, room="user", summary="Paid"),
    ServerEvent(
        name="payment_expired",
        payload=PaymentExpired,
        room="user",
        summary="The payment window ended unpaid",
    ),
)
