"""A refund asked through an invoice's payment (`POST /api/payments/{id}/refund`, the admin
desk's refund list) is booked to the invoice's lines, as one asked through the invoice is:
the invoice, its lines and the payment agree at once (localstripe sends no charge.refunded
that would book it later, and Stripe's would book it as a refund made in its dashboard).
"""

from __future__ import annotations

from tests.support.sales import pay
from tests.test_invoice_card_money import ADMIN, get_invoice, invoice_due


async def test_a_refund_of_an_invoices_payment_is_booked_to_its_lines(server, localstripe):
    info, _lots, alice = await invoice_due(server, [10_000, 20_000])
    await pay(localstripe.url, info, alice)
    status, body = await server.request(
        "POST",
        f"/api/payments/{info['payment_id']}/refund",
        json={"amount": 3_000, "reason": "damaged in transit"},
        **ADMIN,
    )
    assert status == 201, body
    assert (body["refund"]["amount"], body["payment"]["refunded_amount"]) == (3_000, 3_000)
    invoice = await get_invoice(server, info["invoice_id"])
    assert invoice["totals"]["refunded"] == 3_000
    # Newest line first, as every amount refund of an invoice.
    assert [line["refunded"] for line in invoice["lines"]] == [0, 3_000]
    assert invoice["status"] == "PARTIALLY_REFUNDED"

    # What is left, in one go: the whole invoice is refunded, lines and payment alike.
    status, body = await server.request(
        "POST", f"/api/payments/{info['payment_id']}/refund", json={}, **ADMIN
    )
    assert status == 201, body
    invoice = await get_invoice(server, info["invoice_id"])
    assert [line["refunded"] for line in invoice["lines"]] == [
        line["total"] for line in invoice["lines"]
    ]
    assert (invoice["status"], body["payment"]["status"]) == ("REFUNDED", "REFUNDED")
    assert invoice["totals"]["refunded"] == body["payment"]["refunded_amount"] == info["amount"]
