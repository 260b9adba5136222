"""Invoices of per_sale sales over HTTP (SPEC 15): what a buyer and an admin read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from server.contract.base import NO_NUL, NOT_BLANK, STRIPPED, Amount, Contract, Id, Resource
from server.contract.common import Cursor
from server.contract.lots import MONEY, CurrencyCode
from server.contract.payments import Attention
from server.contract.query import Query
from server.contract.statuses import InvoiceStatus


class InvoicesQuery(Query):
    status: InvoiceStatus | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class AdminInvoicesQuery(InvoicesQuery):
    sale_id: Id | None = None
    buyer: Annotated[
        str | None, Field(min_length=1, max_length=255, description="The buyer's user id"), NO_NUL
    ] = None


class InvoiceLine(Resource):
    """One won lot: its hammer, the buyer's premium on it and the tax."""

    id: int
    lot_id: int
    lot_number: Annotated[int | None, Field(description="The lot's number in the sale")]
    lot_title: str
    hammer: Annotated[int, Field(description=MONEY)]
    premium: Annotated[int, Field(description=MONEY)]
    tax: Annotated[int, Field(description=MONEY)]
    total: Annotated[int, Field(description="hammer + premium + tax. " + MONEY)]
    refunded: Annotated[int, Field(description="Refunded on this line so far. " + MONEY)]
    returned_at: Annotated[
        datetime | None, Field(description="When the lot was returned (refunded by line)")
    ]


class InvoiceTotals(Resource):
    hammer: Annotated[int, Field(description="Sum of the lines' hammers. " + MONEY)]
    premium: Annotated[int, Field(description="Sum of the lines' premiums. " + MONEY)]
    tax: Annotated[int, Field(description="Sum of the lines' tax. " + MONEY)]
    total: Annotated[int, Field(description="hammer + premium + tax. " + MONEY)]
    refunded: Annotated[int, Field(description="Sum of the lines' refunds. " + MONEY)]


class InvoicePayment(Resource):
    """How the invoice was (or is to be) paid."""

    payment_id: Annotated[
        int | None,
        Field(description="The payment holding the invoice's PaymentIntent (null before issue)"),
    ]
    payable_by_card: Annotated[
        bool,
        Field(
            description="False when the total is more than Stripe takes in one card payment"
            " in the currency: the buyer pays by bank transfer and the desk marks it paid"
        ),
    ]
    method: Annotated[
        str | None,
        Field(description="`stripe`, or taken at the desk: cash, bank_transfer, other"),
    ]
    reference: Annotated[str | None, Field(description="The desk's reference for the money")]
    paid_at: datetime | None
    receipt_number: str | None


class Invoice(Resource):
    """A buyer's one bill for a per_sale sale."""

    id: int
    sale_id: int
    sale_title: str
    buyer_id: str
    status: InvoiceStatus
    currency: CurrencyCode
    lines: Annotated[list[InvoiceLine], Field(description="Oldest first")]
    totals: InvoiceTotals
    tax_rate_bps: Annotated[int, Field(description="TAX_RATE_BPS when the invoice was opened")]
    tax_on: Annotated[str, Field(description="premium, hammer or both")]
    payment: InvoicePayment
    attention: Annotated[
        Attention | None,
        Field(
            description="Admins: what the desk must do about the invoice's payment (its"
            " `attention`, e.g. `invoice_over_card_limit`); null otherwise and for buyers"
        ),
    ] = None
    issued_at: datetime | None
    end_reason: Annotated[str | None, Field(description="Why it ended unpaid (EXPIRED, VOID)")]
    created_at: datetime


class InvoicePage(Resource):
    items: Annotated[list[Invoice], Field(description="Newest first")]
    next_cursor: Annotated[str | None, Field(description="Null on the last page")]


class MarkPaid(Contract):
    """`POST /api/admin/invoices/{id}/mark-paid`: money taken outside Stripe."""

    method: Literal["cash", "bank_transfer", "other"]
    reference: Annotated[
        Annotated[str, Field(max_length=200), NOT_BLANK, STRIPPED] | None,
        Field(description="The desk's reference: a till slip, a transfer's reference"),
    ] = None


class InvoiceRefundRequest(Contract):
    """`POST /api/admin/invoices/{id}/refund`: one line (a lot returned), or an amount.

    Neither: everything not yet refunded. An amount is taken from the newest lines first.
    """

    model_config = ConfigDict(
        **Contract.model_config,
        json_schema_extra={
            "not": {
                "required": ["line_id", "amount"],
                "properties": {"line_id": {"type": "integer"}, "amount": {"type": "integer"}},
            }
        },
    )

    line_id: Annotated[Id | None, Field(description="Refund all that is left of this line")] = None
    amount: Annotated[Amount | None, Field(description="Newest lines first. " + MONEY)] = None
    reason: Annotated[
        Annotated[str, Field(max_length=500), NOT_BLANK, STRIPPED] | None,
        Field(description="Kept with the refund"),
    ] = None

    def problems(self, context: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if self.line_id is not None and self.amount is not None:
            yield "amount", "Give 'line_id' or 'amount', not both"
