"""Invoices of per_sale sales over HTTP (SPEC 15): what a buyer and an admin read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from server.contract.base import NO_NUL, Id, Resource
from server.contract.common import Cursor
from server.contract.lots import MONEY, CurrencyCode
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
    issued_at: datetime | None
    end_reason: Annotated[str | None, Field(description="Why it ended unpaid (EXPIRED, VOID)")]
    created_at: datetime


class InvoicePage(Resource):
    items: Annotated[list[Invoice], Field(description="Newest first")]
    next_cursor: Annotated[str | None, Field(description="Null on the last page")]
