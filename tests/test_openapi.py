"""`GET /api/openapi.json`: a valid OpenAPI document that covers the whole HTTP API.

The document is fetched from the real app, validated with openapi-spec-validator,
compared with the SPEC's endpoint table and the app's own routes, and real
responses are checked against its schemas.
"""

from __future__ import annotations

import re

import jsonschema
import pytest
from openapi_spec_validator import validate

from server.devtools.seed import seed_demo

# SPEC section 6, method and path for every row of the table.
SPEC_ENDPOINTS = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("post", "/api/lots"),
    ("get", "/api/lots"),
    ("get", "/api/lots/{}"),
    ("get", "/api/lots/{}/bids"),
    ("post", "/api/sales"),
    ("get", "/api/sales"),
    ("get", "/api/sales/{}"),
    ("post", "/api/lots/{}/close"),
    ("post", "/api/lots/{}/cancel"),
    ("post", "/api/payments/create-intent"),
    ("get", "/api/payments/my-payments"),
    ("get", "/api/payments/{}"),
    ("get", "/api/payments/{}/receipt"),
    ("post", "/api/payments/{}/refund"),
    ("post", "/api/payments/webhook"),
}
ANYONE = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/asyncapi.json"),
    ("get", "/api/lots"),
    ("get", "/api/lots/{}"),
    ("get", "/api/lots/{}/bids"),
    ("get", "/api/sales"),
    ("get", "/api/sales/{}"),
    ("post", "/api/payments/webhook"),
    ("get", "/api/demo/config"),
    ("post", "/api/dev/login"),
}
LOT_FIELDS = {
    "id",
    "title",
    "description",
    "seller_id",
    "currency",
    "starting_price",
    "reserve_met",
    "bid_increment",
    "current_bid",
    "bid_count",
    "high_bidder",
    "hammer_price",
    "winner",
    "min_next_bid",
    "starts_at",
    "ends_at",
    "status",
    "seq",
}
PAYMENT_INFO_FIELDS = {
    "payment_id",
    "lot_id",
    "status",
    "amount",
    "currency",
    "breakdown",
    "client_secret",
    "publishable_key",
    "expires_at",
    "attempt",
    "attempts_left",
}
METHODS = {"get", "post", "put", "patch", "delete"}


def _shape(path: str) -> str:
    """`/api/lots/{lot_id}` and `/api/lots/{id}` are the same endpoint."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _operations(document) -> dict[tuple[str, str], dict]:
    return {
        (method, _shape(path)): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def _validator(document, name):
    """A JSON Schema validator for one component schema, resolving $refs inside the document."""
    schema = {**document, "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
async def document(server):
    status, body = await server.request("GET", "/api/openapi.json")
    assert status == 200
    return body


async def test_the_document_is_valid_openapi(document):
    assert document["openapi"].startswith("3.")
    validate(document)


async def test_every_spec_endpoint_is_described(document):
    missing = SPEC_ENDPOINTS - set(_operations(document))
    assert not missing, f"not in the document: {sorted(missing)}"


async def test_every_route_of_the_app_is_described(server, document):
    """Every REST route, so a new one cannot go undocumented (pages and Socket.IO aside)."""
    routes = {
        (route.method.lower(), _shape(route.resource.canonical))
        for route in server.app.router.routes()
        if route.resource is not None
        and route.method.lower() in METHODS
        and (
            route.resource.canonical.startswith("/api/")
            or route.resource.canonical in ("/healthz", "/readyz", "/metrics")
        )
    }
    assert ("post", "/api/lots") in routes
    undocumented = routes - set(_operations(document))
    assert not undocumented, f"routes missing from the document: {sorted(undocumented)}"


async def test_operations_declare_who_may_call_them(document):
    for key, operation in _operations(document).items():
        if key in ANYONE:
            assert "security" not in operation, key
        else:
            assert operation.get("security") == [{"bearerAuth": []}], key
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_error_responses_use_the_error_shape(document):
    schemas = document["components"]["schemas"]
    detail = schemas["Error"]["properties"]["error"]["$ref"].rsplit("/", 1)[-1]
    assert schemas[detail]["required"] == ["code", "message"]
    for key, operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if 400 <= int(status) < 500:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (key, status)
    create_intent = _operations(document)[("post", "/api/payments/create-intent")]
    assert {"200", "401", "409"} <= set(create_intent["responses"])
    assert "201" in _operations(document)[("post", "/api/lots")]["responses"]


async def test_the_schemas_hold_the_spec_fields_and_say_what_may_be_null(document):
    schemas = document["components"]["schemas"]
    lot, info = schemas["Lot"], schemas["PaymentInfo"]
    assert set(lot["required"]) >= LOT_FIELDS
    assert set(info["required"]) >= PAYMENT_INFO_FIELDS
    for field in ("current_bid", "high_bidder", "bid_increment", "hammer_price", "winner"):
        assert "null" in lot["properties"][field]["type"], field
    for field in ("id", "starting_price", "bid_count", "min_next_bid", "seq"):
        assert lot["properties"][field]["type"] == "integer", field
    status = lot["properties"]["status"]["$ref"].rsplit("/", 1)[-1]
    assert set(schemas[status]["enum"]) == {
        "SCHEDULED",
        "OPEN",
        "PENDING_PAYMENT",
        "SOLD",
        "UNSOLD",
        "CANCELED",
    }
    assert set(schemas["Breakdown"]["required"]) == {"hammer", "premium", "total"}

    lot_validator = _validator(document, "Lot")
    good = {
        "id": 1,
        "title": "t",
        "description": "",
        "seller_id": "sam",
        "currency": "usd",
        "starting_price": 100,
        "reserve_met": True,
        "bid_increment": None,
        "current_bid": None,
        "bid_count": 0,
        "high_bidder": None,
        "hammer_price": None,
        "winner": None,
        "min_next_bid": 100,
        "buy_now_price": None,
        "starts_at": "2026-01-01T00:00:00+00:00",
        "ends_at": "2026-01-01T01:00:00+00:00",
        "status": "OPEN",
        "seq": 0,
        "has_reserve": False,
        "closed_at": None,
        "images": [],
        "sale_id": None,
        "lot_number": None,
    }
    lot_validator.validate(good)
    assert not lot_validator.is_valid({**good, "starting_price": 1.5}), "amounts are integers"
    assert not lot_validator.is_valid({**good, "status": "GONE"})


async def test_real_lots_match_the_lot_schema(server, db, document):
    await seed_demo(db)
    status, page = await server.request("GET", "/api/lots")
    assert status == 200
    assert len(page["items"]) == 8  # five standalone lots, three of the demo sale
    _validator(document, "LotPage").validate(page)

    lot_id = page["items"][0]["id"]
    status, lot = await server.request("GET", f"/api/lots/{lot_id}")
    assert status == 200
    _validator(document, "Lot").validate(lot)

    status, bids = await server.request("GET", f"/api/lots/{lot_id}/bids")
    assert status == 200
    _validator(document, "BidList").validate(bids)

    status, error = await server.request("GET", "/api/lots/999999")
    assert status == 404
    _validator(document, "Error").validate(error)


async def test_a_real_payment_matches_the_payment_schemas(server, db, document):
    await seed_demo(db)
    _, page = await server.request("GET", "/api/lots?status=OPEN")
    # The chronometer has no reserve, so the first bid wins it.
    lot = next(item for item in page["items"] if item["title"].startswith("Brass"))
    alice = await server.socket("alice")
    ack = await alice.call(
        "place_bid", {"lot_id": lot["id"], "amount": lot["min_next_bid"], "request_id": "r1"}
    )
    assert ack["ok"], ack
    status, closed = await server.request(
        "POST", f"/api/lots/{lot['id']}/close", as_user="sam", role="seller"
    )
    assert status == 200, closed
    _validator(document, "Lot").validate(closed)

    status, info = await server.request(
        "POST", "/api/payments/create-intent", as_user="alice", json={"lot_id": lot["id"]}
    )
    assert status == 200, info
    _validator(document, "PaymentInfo").validate(info)

    status, payment = await server.request(
        "GET", f"/api/payments/{info['payment_id']}", as_user="alice"
    )
    assert status == 200, payment
    _validator(document, "Payment").validate(payment)

    status, mine = await server.request("GET", "/api/payments/my-payments", as_user="alice")
    assert status == 200
    assert len(mine["items"]) == 1
    _validator(document, "PaymentPage").validate(mine)

    status, everyone = await server.request(
        "GET", "/api/admin/payments", as_user="root", role="admin"
    )
    assert status == 200
    _validator(document, "PaymentPage").validate(everyone)

    status, user = await server.request(
        "GET", "/api/admin/users/alice", as_user="root", role="admin"
    )
    assert status == 200
    _validator(document, "User").validate(user)

    status, error = await server.request(
        "POST", "/api/payments/create-intent", as_user="bob", json={"lot_id": lot["id"]}
    )
    assert status == 409
    _validator(document, "Error").validate(error)
