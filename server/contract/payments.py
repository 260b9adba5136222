"""Payments over HTTP: what a buyer asks for and reads, and what an admin refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from server.contract.base import NO_NUL, NOT_BLANK, STRIPPED, Amount, Contract, Id, Resource
from server.contract.common import Cursor
from server.contract.lots import MONEY, CurrencyCode
from server.contract.query import Query
from server.contract.statuses import PaymentStatus, RefundStatus


class CreateIntent(Contract):
    """`POST /api/payments/create-intent`."""

    lot_id: Id


class RefundRequest(Contract):
    """`POST /api/payments/{id}/refund`: all that is left by default."""

    amount: Annotated[Amount | None, Field(description="Default: all that is left. " + MONEY)] = (
        None
    )
    reason: Annotated[
        Annotated[str, Field(max_length=500), NOT_BLANK, STRIPPED] | None,
        Field(description="Kept with the refund"),
    ] = None


class PaymentsQuery(Query):
    status: PaymentStatus | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class AdminPaymentsQuery(PaymentsQuery):
    disputed: bool | None = None
    attention: Annotated[
        bool | None, Field(description="true: the payments Stripe permanently refused")
    ] = None
    buyer_id: Annotated[str | None, Field(min_length=1, max_length=255), NO_NUL] = None
    lot_id: Id | None = None


class Breakdown(Resource):
    hammer: Annotated[int, Field(description="The winning bid. " + MONEY)]
    premium: Annotated[int, Field(description="The buyer's premium. " + MONEY)]
    total: Annotated[int, Field(description="hammer + premium (+ tax). " + MONEY)]
    tax: Annotated[
        int | None, Field(description="An invoice's tax (TAX_RATE_BPS); absent for a lot. " + MONEY)
    ] = None


class PaymentLine(Resource):
    """A lot on the invoice a payment pays (per_sale sales)."""

    lot_id: int
    lot_number: Annotated[int | None, Field(description="The lot's number in the sale")]
    title: str
    hammer: Annotated[int, Field(description=MONEY)]
    premium: Annotated[int, Field(description=MONEY)]
    tax: Annotated[int, Field(description=MONEY)]


class PaymentInfo(Resource):
    """What the buyer needs to pay with Stripe.js. Holds the client secret: the buyer's only."""

    payment_id: int
    lot_id: Annotated[int | None, Field(description="The lot; null when an invoice is paid")]
    invoice_id: Annotated[
        int | None, Field(description="The per_sale invoice this pays; null for one lot")
    ] = None
    lines: Annotated[
        list[PaymentLine] | None, Field(description="The invoice's lots; null for one lot")
    ] = None
    status: PaymentStatus
    amount: Annotated[int, Field(description="The total to pay. " + MONEY)]
    currency: CurrencyCode
    breakdown: Breakdown
    client_secret: Annotated[str | None, Field(description="For Stripe.js; sent to the buyer only")]
    publishable_key: str
    expires_at: datetime | None
    attempt: Annotated[int, Field(description="Which confirmation attempt this is, from 1")]
    attempts_left: int
    offer_number: Annotated[
        int, Field(description="1 for the winner, 2 for the next bidder offered the lot...")
    ]
    reason: Annotated[
        Literal["authentication_required", "card_declined"] | None,
        Field(
            description="Why the card on file charged at the hammer (AUTO_CHARGE) handed over to"
            " the buyer: the bank wants them to authenticate, or the card could not be charged."
            " Null when no card was tried"
        ),
    ] = None


class Attempt(Resource):
    at: datetime
    outcome: str
    failure_code: str | None
    failure_message: str | None


class Refund(Resource):
    id: int
    payment_id: int
    amount: Annotated[int, Field(description=MONEY)]
    reason: str | None
    status: RefundStatus
    created_at: datetime
    requested_by: Annotated[str | None, Field(description="The admin who asked for it")] = None


class Card(Resource):
    brand: str | None
    last4: str


class Attention(Resource):
    """Why an admin has to look: Stripe refused (or would refuse) something the payment needs."""

    code: Annotated[
        str,
        Field(
            description="`intent_creation_refused`, `intent_cancel_refused`, `refund_refused`,"
            " or `invoice_over_card_limit` (an invoice too large for one card payment)"
        ),
    ]
    message: str
    since: datetime


class Payment(Resource):
    """A payment record: its state, attempts and refunds. Never the client secret."""

    id: int
    lot_id: Annotated[int | None, Field(description="The lot; null when an invoice is paid")]
    invoice_id: Annotated[int | None, Field(description="The per_sale invoice it pays")] = None
    lot_title: Annotated[str | None, Field(description="The lot's title, or the sale's")]
    buyer_id: str
    status: PaymentStatus
    amount: Annotated[int, Field(description="The total. " + MONEY)]
    currency: CurrencyCode
    breakdown: Breakdown
    refunded_amount: Annotated[int, Field(description=MONEY)]
    offer_number: Annotated[
        int, Field(description="1 for the winner, 2 for the next bidder offered the lot...")
    ]
    expires_at: datetime | None
    attempts_count: Annotated[int, Field(description="Failed confirmations so far")]
    attempts_left: int
    end_reason: str | None
    disputed: bool
    receipt_number: str | None
    receipt_url: str | None
    paid_at: datetime | None
    card: Card | None
    attention: Annotated[
        Attention | None,
        Field(description="Set while Stripe permanently refuses something it needs; else null"),
    ] = None
    created_at: datetime
    updated_at: datetime
    attempts: Annotated[
        list[Attempt] | None, Field(description="Oldest first; in a single payment's view")
    ] = None
    refunds: Annotated[list[Refund] | None, Field(description="In a single payment's view")] = None
    dispute_reason: Annotated[str | None, Field(description="Admins only")] = None
    stripe_payment_intent_id: Annotated[str | None, Field(description="Admins only")] = None
    last_stripe_error: Annotated[str | None, Field(description="Admins only")] = None


class PaymentPage(Resource):
    items: list[Payment]
    next_cursor: Annotated[str | None, Field(description="Null on the last page")]


class RefundResult(Resource):
    refund: Refund
    payment: Payment


class PaymentMethod(Resource):
    type: str
    brand: str | None
    last4: str | None


class Party(Resource):
    id: str
    name: str | None
    email: Annotated[str | None, Field(description="The buyer's only")] = None


class ReceiptLink(Resource):
    """A short-lived link that opens the printable receipt without an Authorization header."""

    url: Annotated[str, Field(description="Path and query of the signed link, on this server")]
    expires_at: Annotated[datetime, Field(description="The link stops working then (15 minutes)")]


class Receipt(Resource):
    receipt_number: str
    payment_id: int
    status: PaymentStatus
    lot_id: int
    lot_title: str
    currency: CurrencyCode
    hammer: Annotated[int, Field(description=MONEY)]
    premium: Annotated[int, Field(description=MONEY)]
    total: Annotated[int, Field(description=MONEY)]
    refunded: Annotated[int, Field(description=MONEY)]
    formatted: Annotated[dict[str, str], Field(description="The amounts above, for people")]
    payment_method: PaymentMethod | None
    paid_at: datetime
    seller: Party
    buyer: Party


class StripeEventData(Contract):
    model_config = ConfigDict(extra="allow")

    object: Annotated[dict[str, Any], Field(description="The object the event is about")]


class StripeEvent(Contract):
    """A Stripe event, verified by its signature and applied by its `type`.

    Only what the server relies on is checked; Stripe's other fields are kept.
    """

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, Field(min_length=1, max_length=255)]
    type: Annotated[str, Field(min_length=1, max_length=128)]
    data: StripeEventData


class WebhookReceipt(Resource):
    received: bool
    outcome: Annotated[str, Field(description="applied, ignored, duplicate, ...")]


class SellerPaymentsQuery(PaymentsQuery):
    lot_id: Id | None = None
    seller_id: Annotated[
        str | None,
        Field(min_length=1, max_length=255, description="Admins: whose; sellers see their own"),
        NO_NUL,
    ] = None


class SellerPayment(Resource):
    """A payment for one of the seller's lots. The buyer is only their alias on that lot.

    A per_sale invoice's payment is one item per lot on it, each with that lot's line.
    """

    id: Annotated[int, Field(description="The payment's id (shared by an invoice's lots)")]
    lot_id: int
    lot_title: str
    sale_id: int | None
    lot_number: int | None
    buyer: Annotated[str, Field(description="The buyer's alias on this lot, as the lot page shows")]
    offer_number: Annotated[int, Field(description="1 for the winner, 2+ for later offers")]
    status: PaymentStatus
    amount: Annotated[int, Field(description=MONEY)]
    currency: CurrencyCode
    breakdown: Breakdown
    refunded_amount: Annotated[int, Field(description=MONEY)]
    disputed: bool
    expires_at: datetime | None
    paid_at: datetime | None
    created_at: datetime


class SellerPaymentPage(Resource):
    items: list[SellerPayment]
    next_cursor: Annotated[str | None, Field(description="Null on the last page")]
