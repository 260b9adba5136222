"""Refund refusals speak in major units with the currency, as people read amounts."""

from __future__ import annotations

from tests.support.sales import sold_lot


async def test_a_refund_over_what_is_left_names_the_limit_in_major_units(server, localstripe):
    _, info, _ = await sold_lot(server, localstripe.url, amount=10_000)
    status, error = await server.request(
        "POST",
        f"/api/payments/{info['payment_id']}/refund",
        as_user="root",
        role="admin",
        json={"amount": 20_000},
    )
    assert (status, error["error"]["code"]) == (409, "refund_exceeds_payment")
    assert error["error"]["message"] == "At most 100.00 USD can be refunded"
    assert error["error"]["refundable"] == 10_000


async def test_a_refund_off_the_currencys_step_names_the_step(server, localstripe):
    _, info, _ = await sold_lot(server, localstripe.url, amount=10_000, currency="kwd")
    status, error = await server.request(
        "POST",
        f"/api/payments/{info['payment_id']}/refund",
        as_user="root",
        role="admin",
        json={"amount": 1_005},
    )
    assert (status, error["error"]["code"]) == (400, "validation_error"), error
    assert error["error"]["message"] == "Refunds in KWD must be multiples of 0.010 KWD"
