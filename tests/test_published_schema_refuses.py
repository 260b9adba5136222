"""The seven bodies issue 11 names: refused by the published schema, and by the server.

Each body is validated against the schema `/api/openapi.json` publishes for the
operation (a JSON Schema validator with format checks) and must fail there;
then it is sent and must be a 400 `validation_error` naming the field, with
nothing created or refunded. A good body passes both, so the schema is not
simply refusing everything.
"""

from __future__ import annotations

import jsonschema
import pytest

from tests.support.factories import in_seconds, iso
from tests.support.sales import sold_lot


def lot(**change):
    body = {
        "title": "Pocket watch",
        "currency": "usd",
        "starting_price": 1000,
        "ends_at": iso(in_seconds(3600)),
    }
    return {**body, **change}


BAD_LOTS = [
    ("title", lot(title="   ")),
    ("title", lot(title="x" * 201)),
    ("description", lot(description="d" * 10_001)),
    ("starting_price", lot(starting_price=10**16)),
    ("starting_price", lot(currency="kwd", starting_price=1005)),
    ("ends_at", lot(ends_at="9999-01-01T00:00:00Z")),
]


def request_schema(document, method: str, path: str) -> jsonschema.Draft202012Validator:
    operation = document["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator(
        {**document, **schema}, format_checker=jsonschema.FormatChecker()
    )


@pytest.fixture
async def document(server):
    status, body = await server.request("GET", "/api/openapi.json")
    assert status == 200
    return body


@pytest.mark.parametrize(("field", "body"), BAD_LOTS, ids=[f for f, _ in BAD_LOTS])
async def test_a_bad_lot_is_refused_by_the_schema_and_the_server(server, document, field, body):
    validator = request_schema(document, "post", "/api/lots")
    assert validator.is_valid(lot()), "a good lot fits the schema"
    assert validator.is_valid(lot(currency="kwd", starting_price=1000))
    assert not validator.is_valid(body)

    status, answer = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert (status, answer["error"]["code"]) == (400, "validation_error"), answer
    assert field in answer["error"]["fields"], answer
    status, listing = await server.request("GET", "/api/lots")
    assert listing["items"] == []


async def test_every_bad_field_is_named_at_once(server):
    body = lot(title="", description="d" * 10_001, starting_price=10**16, colour="red")
    status, answer = await server.request(
        "POST", "/api/lots", as_user="sam", role="seller", json=body
    )
    assert status == 400
    assert set(answer["error"]["fields"]) == {"title", "description", "starting_price", "colour"}
    assert "'colour' is not a field of this request" in answer["error"]["message"]


async def test_an_empty_refund_reason_is_refused_by_the_schema_and_the_server(
    server, document, localstripe
):
    _lot, info, _ = await sold_lot(server, localstripe.url)
    path = "/api/payments/{payment_id}/refund"
    validator = request_schema(document, "post", path)
    assert validator.is_valid({"reason": "damaged in transit"})
    assert validator.is_valid({})
    assert not validator.is_valid({"reason": ""})

    url = f"/api/payments/{info['payment_id']}/refund"
    status, answer = await server.request(
        "POST", url, as_user="root", role="admin", json={"reason": ""}
    )
    assert (status, answer["error"]["code"]) == (400, "validation_error"), answer
    assert answer["error"]["fields"] == {"reason": "'reason' must not be empty"}
    status, payment = await server.request(
        "GET", f"/api/payments/{info['payment_id']}", as_user="root", role="admin"
    )
    assert (payment["refunded_amount"], payment["refunds"]) == (0, [])
