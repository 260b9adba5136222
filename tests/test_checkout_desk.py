"""The checkout desk (SPEC 15): money taken outside Stripe, and refunds booked to lines."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from sqlalchemy import update

from server.auctions.models import Lot
from tests.support.factories import add_lot, bid, create_sale
from tests.test_invoices import issue, put_on_invoice

ADMIN = {"as_user": "root", "role": "admin"}


async def issued_invoice(server: Any, db: Any, hammers: list[int], buyer: str = "alice"):
    """An ISSUED invoice of `buyer` for lots won at `hammers`, the lots awaiting payment."""
    sale = await create_sale(server, buyer_premium_bps=1000)
    client = await server.socket(buyer)
    lots = []
    for hammer in hammers:
        lot = await add_lot(server, sale, starting_price=hammer)
        ack = await client.call("place_bid", bid(lot["id"], hammer))
        assert ack["ok"], ack
        lots.append(lot)
    invoice_id = 0
    for lot in lots:
        invoice_id = await put_on_invoice(server, lot["id"])
    await issue(server, invoice_id)
    async with db.engine.begin() as conn:
        # As the hammer leaves them until the invoice is paid (the per_sale flow's close).
        await conn.execute(
            update(Lot)
            .where(Lot.id.in_([lot["id"] for lot in lots]))
            .values(status="PENDING_PAYMENT", winner_id=buyer, hammer_price=Lot.current_bid)
        )
    return invoice_id, lots


async def test_cash_at_the_desk_pays_the_invoice_and_sells_its_lots(server, db):
    invoice_id, lots = await issued_invoice(server, db, [10_000, 20_000])
    watcher = await server.socket()
    for lot in lots:
        assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    status, invoice = await server.request(
        "POST",
        f"/api/admin/invoices/{invoice_id}/mark-paid",
        json={"method": "cash", "reference": "till 3, slip 118"},
        **ADMIN,
    )
    assert status == 200, invoice
    assert invoice["status"] == "PAID"
    assert invoice["payment"]["method"] == "cash"
    assert invoice["payment"]["reference"] == "till 3, slip 118"
    assert invoice["payment"]["receipt_number"]
    for lot in lots:
        event = await watcher.wait_for(
            "lot_status", lambda e, lot_id=lot["id"]: e["lot_id"] == lot_id
        )
        assert (event["status"], event["reason"]) == ("SOLD", "paid_at_desk")
        _, now = await server.request("GET", f"/api/lots/{lot['id']}")
        assert now["status"] == "SOLD"
    status, error = await server.request(
        "POST", f"/api/admin/invoices/{invoice_id}/mark-paid", json={"method": "cash"}, **ADMIN
    )
    assert (status, error["error"]["code"]) == (409, "invoice_not_payable")


async def test_mark_paid_is_for_admins_and_checks_its_body(server, db):
    invoice_id, _ = await issued_invoice(server, db, [5_000])
    path = f"/api/admin/invoices/{invoice_id}/mark-paid"
    status, error = await server.request("POST", path, json={"method": "cash"}, as_user="alice")
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, error = await server.request(
        "POST", path, json={"method": "cheque", "reference": " ", "tip": 1}, **ADMIN
    )
    assert (status, error["error"]["code"]) == (400, "validation_error")
    assert set(error["error"]["fields"]) == {"method", "reference", "tip"}
    status, error = await server.request(
        "POST", "/api/admin/invoices/99999/mark-paid", json={"method": "cash"}, **ADMIN
    )
    assert (status, error["error"]["code"]) == (404, "not_found")
    _, invoice = await server.request("GET", f"/api/invoices/{invoice_id}", **ADMIN)
    assert invoice["status"] == "ISSUED"


async def paid_at_desk(server: Any, db: Any, hammers: list[int]) -> dict[str, Any]:
    invoice_id, _ = await issued_invoice(server, db, hammers)
    status, invoice = await server.request(
        "POST",
        f"/api/admin/invoices/{invoice_id}/mark-paid",
        json={"method": "bank_transfer", "reference": "TRX-1"},
        **ADMIN,
    )
    assert status == 200, invoice
    return invoice


async def refund(server: Any, invoice: dict[str, Any], **body: Any) -> tuple[int, Any]:
    return await server.request(
        "POST", f"/api/admin/invoices/{invoice['id']}/refund", json=body, **ADMIN
    )


async def test_a_returned_lot_is_refunded_by_its_line(server, db):
    invoice = await paid_at_desk(server, db, [10_000, 20_000, 30_000])
    middle = invoice["lines"][1]
    status, after = await refund(server, invoice, line_id=middle["id"], reason="damaged")
    assert status == 201, after
    lines = {line["id"]: line for line in after["lines"]}
    assert lines[middle["id"]]["refunded"] == middle["total"] == 22_000
    assert lines[middle["id"]]["returned_at"] is not None
    assert [line["refunded"] for line in after["lines"]] == [0, 22_000, 0]
    assert after["totals"]["refunded"] == 22_000
    assert after["status"] == "PARTIALLY_REFUNDED"
    status, error = await refund(server, after, line_id=middle["id"])
    assert (status, error["error"]["code"]) == (409, "line_refunded")


async def test_an_amount_comes_from_the_newest_lines_first(server, db):
    invoice = await paid_at_desk(server, db, [10_000, 20_000, 30_000])
    status, after = await refund(server, invoice, amount=40_000)
    assert status == 201, after
    # The newest line (33,000 with its premium) first, then 7,000 of the one before.
    assert [line["refunded"] for line in after["lines"]] == [0, 7_000, 33_000]
    assert all(line["returned_at"] is None for line in after["lines"])
    status, error = await refund(server, after, amount=26_001)
    assert (status, error["error"]["code"]) == (409, "refund_exceeds_payment")
    assert error["error"]["refundable"] == 26_000
    status, done = await refund(server, after)
    assert status == 201, done
    assert [line["refunded"] for line in done["lines"]] == [11_000, 22_000, 33_000]
    assert (done["status"], done["totals"]["refunded"]) == ("REFUNDED", 66_000)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"line_id": 1, "amount": 100}, 400),
        ({"amount": 0}, 400),
        ({"amount": "5"}, 400),
        ({"line_id": 999_999}, 400),
        ({"reason": ""}, 400),
    ],
)
async def test_a_bad_refund_changes_nothing(server, db, body, code):
    invoice = await paid_at_desk(server, db, [10_000])
    status, error = await refund(server, invoice, **body)
    assert (status, error["error"]["code"]) == (code, "validation_error"), error
    _, same = await server.request("GET", f"/api/invoices/{invoice['id']}", **ADMIN)
    assert (same["status"], same["totals"]["refunded"]) == ("PAID", 0)


async def test_an_unpaid_invoice_is_not_refunded(server, db):
    invoice_id, _ = await issued_invoice(server, db, [10_000])
    status, error = await server.request(
        "POST", f"/api/admin/invoices/{invoice_id}/refund", json={}, **ADMIN
    )
    assert (status, error["error"]["code"]) == (409, "invoice_not_paid")


def closed_validator(document: dict[str, Any], name: str) -> Any:
    """The component schema with every object closed: a field the document does not name fails."""
    schemas = {
        key: {**schema, "additionalProperties": False}
        if schema.get("additionalProperties") is True
        else schema
        for key, schema in document["components"]["schemas"].items()
    }
    closed = {**document, "components": {**document["components"], "schemas": schemas}}
    return jsonschema.Draft202012Validator({**closed, "$ref": f"#/components/schemas/{name}"})


async def test_real_invoices_and_sales_match_their_published_schemas(server, db):
    invoice = await paid_at_desk(server, db, [10_000, 20_000])
    _, refunded = await refund(server, invoice, line_id=invoice["lines"][0]["id"])
    status, document = await server.request("GET", "/api/openapi.json")
    assert status == 200
    validator = closed_validator(document, "Invoice")
    for body in (invoice, refunded):
        validator.validate(body)
    _, page = await server.request("GET", "/api/admin/invoices", **ADMIN)
    closed_validator(document, "InvoicePage").validate(page)
    _, sales = await server.request("GET", "/api/sales")
    closed_validator(document, "SalePage").validate(sales)
    _, sale = await server.request("GET", f"/api/sales/{invoice['sale_id']}")
    closed_validator(document, "SaleDetail").validate(sale)
