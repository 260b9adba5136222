"""Another user's payment is a 404, never a 403 (SPEC 6), on every payment endpoint.

One table: each endpoint is called by a stranger (a plain bidder) once for a
real payment of someone else and once for an id that names nothing. The two
answers must be the same status and the same body, so the stranger cannot tell
a payment exists. Both a paid payment and one still awaiting its buyer are tried.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.sales import sold_lot, won_lot

STRANGER = "mallory"

#: (method, path with {payment} or {lot}, JSON body, extra headers)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
    ("GET", "/api/payments/{payment}", None, {}),
    ("GET", "/api/payments/{payment}/receipt", None, {}),
    ("GET", "/api/payments/{payment}/receipt", None, {"Accept": "text/html"}),
    ("POST", "/api/payments/{payment}/refund", {}, {}),
    ("POST", "/api/payments/{payment}/refund", {"amount": 100, "reason": "why not"}, {}),
    ("POST", "/api/payments/create-intent", {"lot_id": "{lot}"}, {}),
    ("POST", "/api/payments/{payment}/decline", None, {}),
]


def _fill(template: Any, payment_id: int, lot_id: int) -> Any:
    if isinstance(template, str):
        if template == "{lot}":
            return lot_id
        return template.format(payment=payment_id, lot=lot_id)
    if isinstance(template, dict):
        return {key: _fill(value, payment_id, lot_id) for key, value in template.items()}
    return template


@pytest.fixture
async def sales(server, localstripe) -> list[tuple[int, int]]:
    """(payment id, lot id) of alice's paid lot and of bob's lot awaiting payment."""
    paid_lot, paid, _ = await sold_lot(server, localstripe.url, buyer="alice")
    pending_lot, pending, _ = await won_lot(server, buyer="bob")
    return [(paid["payment_id"], paid_lot["id"]), (pending["payment_id"], pending_lot["id"])]


@pytest.mark.parametrize(("method", "path", "body", "headers"), ENDPOINTS)
async def test_a_strangers_answer_is_the_same_as_for_nothing(
    server, sales, method, path, body, headers
):
    missing_payment, missing_lot = 987_654, 876_543
    for payment_id, lot_id in sales:
        answers = []
        for pid, lid in ((payment_id, lot_id), (missing_payment, missing_lot)):
            answers.append(
                await server.request(
                    method,
                    _fill(path, pid, lid),
                    as_user=STRANGER,
                    headers=headers,
                    **({"json": _fill(body, pid, lid)} if body is not None else {}),
                )
            )
        real, nothing = answers
        assert real == nothing, f"{method} {path}: {real} vs {nothing}"
        if "{payment}" in path:
            assert real[0] == 404, real
            assert real[1]["error"]["code"] == "not_found"
        else:
            assert real[0] == 409, real
            assert real[1]["error"]["code"] == "no_pending_payment"


async def test_the_buyer_is_told_refunds_are_for_admins(server, localstripe):
    _lot, paid, _ = await sold_lot(server, localstripe.url, buyer="alice")
    status, body = await server.request(
        "POST", f"/api/payments/{paid['payment_id']}/refund", as_user="alice", json={}
    )
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await server.request(
        "POST", f"/api/payments/{paid['payment_id']}/refund", as_user="admin", role="admin"
    )
    assert status == 201, body
