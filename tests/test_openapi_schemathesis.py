"""Property-based tests of the HTTP API against its own OpenAPI document (schemathesis).

For every operation in `/api/openapi.json`, schemathesis generates requests
that fit the document and requests that do not (derandomized, a bounded number
of each per operation, so a run is repeatable and quick) and sends them to the
real app with a valid token of the role the operation is for.

- Every answer must be a non-5xx whose status, content type, headers and body
  the document describes, with no field the document does not name (`closed`).
- positive_data_acceptance: a request the document calls valid is not refused
  as malformed (no 400): the schema promises nothing the server refuses.
- negative_data_rejection: a request the document calls invalid is refused
  (4xx): the server accepts nothing the schema forbids.

Two kinds of rule cannot be said by a static schema, and the document says so
(`x-also-checked` on NewLot): times against the clock (`ends_at` in the
future, at most 90 days after the start) and one field against another
(`reserve_price` at least `starting_price`, `buy_now_price` at least both).
For valid lots, `fit_the_clock` moves the generated times into range and puts
the generated prices in that order; the result still fits the
schema, so it is still a valid request, and schemathesis re-checks that.
Webhook bodies are signed with the webhook secret, as Stripe would, unless the
case is about a missing signature; a body holding a NUL character anywhere in
Stripe's free-form object must be a 400 (PostgreSQL cannot store it; the
operation says so in words, as no schema can say it of a free-form object).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import bid, create_lot
from tests.support.sales import sold_lot
from tests.support.stripe import sign

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
EXAMPLES_PER_OPERATION = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 15}
WEBHOOK = "/api/payments/webhook"
UPLOAD = "/api/lots/{lot_id}/images"
TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
    b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)
OPEN_SCHEMAS = frozenset({"Error", "ErrorDetail", "StripeEvent", "StripeEventData"})


def closed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every response object closed: an undocumented field fails a check.

    The published document leaves them open (a new field must not break a strict
    client); here a field the server sends but no model names is drift. Error
    bodies stay open (refusals carry details) and so does the Stripe event, a
    request body with Stripe's own fields.
    """
    schemas = {
        name: (
            {**schema, "additionalProperties": False}
            if schema.get("additionalProperties") is True and name not in OPEN_SCHEMAS
            else schema
        )
        for name, schema in document["components"]["schemas"].items()
    }
    return {**document, "components": {**document["components"], "schemas": schemas}}


def role_for(method: str, path: str) -> tuple[str, str]:
    """The (sub, role) of a caller the operation is meant for."""
    if path.startswith("/api/admin") or path.endswith("/refund"):
        return "root", "admin"
    if (
        (method, path) in (("POST", "/api/lots"), ("POST", "/api/sales"))
        or "/images" in path
        or path.endswith(("/close", "/cancel"))
    ):
        return "sam", "seller"
    return "alice", "bidder"


def exercise(schema: Any, base_url: str, token: Callable[[str, str], str]) -> list[str]:
    """Run every operation; returns one report per operation and mode that failed a check."""
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            headers = {}
            if operation.definition.raw.get("security"):
                sub, role = role_for(operation.method.upper(), operation.path)
                headers["Authorization"] = f"Bearer {token(sub, role)}"
            raw = operation.definition.raw
            for mode in EXAMPLES_PER_OPERATION:
                if mode is GenerationMode.NEGATIVE and not (
                    raw.get("parameters") or raw.get("requestBody") or raw.get("security")
                ):
                    continue  # nothing in the request to get wrong
                try:
                    check_operation(operation, mode, base_url, session, headers)
                except Exception as error:
                    failures.append(f"{operation.label} ({mode.value}): {error}")
    return failures


PRICES_IN_ORDER = ("starting_price", "reserve_price", "buy_now_price")


def fit_the_clock(body: dict[str, Any]) -> None:
    """A valid lot's times and prices, moved into what the clock and each other allow."""
    now = datetime.now(UTC)
    body["ends_at"] = (now + timedelta(hours=1)).isoformat()
    if body.get("starts_at") is not None:
        body["starts_at"] = (now + timedelta(minutes=1)).isoformat()
    # starting_price <= reserve_price <= buy_now_price: the same values, in that order
    # (each currency branch gives the three prices the same limits).
    names = [name for name in PRICES_IN_ORDER if body.get(name) is not None]
    for name, value in zip(names, sorted(body[name] for name in names), strict=True):
        body[name] = value


def fit_the_sale_clock(body: dict[str, Any]) -> None:
    """A valid sale's times, moved into what the clock allows (`x-also-checked` on NewSale)."""
    now = datetime.now(UTC)
    body["lots_close_from"] = (now + timedelta(hours=1)).isoformat()
    if body.get("starts_at") is not None:
        body["starts_at"] = (now + timedelta(minutes=1)).isoformat()


def breaks_the_token(case: Any) -> bool:
    """A negative case about the Authorization header itself: send what it generated."""
    mutations = getattr(case.meta.phase.data, "mutations", None) or []
    return any(
        mutation.parameter_location == ParameterLocation.HEADER
        and (mutation.parameter or "").lower() == "authorization"
        for mutation in mutations
    )


def raw_body(case: Any) -> bytes:
    return case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()


def send(case: Any, base_url: str, session: requests.Session, headers: dict[str, str]) -> Any:
    if case.path == WEBHOOK and case.headers and "Stripe-Signature" in case.headers:
        payload = raw_body(case)
        signed = {
            **headers,
            "Content-Type": "application/json",
            "Stripe-Signature": sign(payload, WEBHOOK_SECRET),
        }
        return session.post(base_url + WEBHOOK, data=payload, headers=signed, timeout=10)
    return case.call(base_url=base_url, session=session, headers=headers, timeout=10)


def check_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        if (
            mode is GenerationMode.POSITIVE
            and (case.method, case.path) == ("POST", "/api/lots")
            and isinstance(case.body, dict)
        ):
            fit_the_clock(case.body)
        if (
            mode is GenerationMode.POSITIVE
            and case.method == "POST"
            and case.path == UPLOAD
            and isinstance(case.body, dict)
        ):
            # No schema can say "the bytes are a JPEG, PNG or WebP image": a valid upload
            # carries one (tests/test_lot_images.py covers every refusal of the bytes).
            case.body["file"] = TINY_PNG
        if (
            mode is GenerationMode.POSITIVE
            and (case.method, case.path) == ("POST", "/api/sales")
            and isinstance(case.body, dict)
        ):
            fit_the_sale_clock(case.body)
        response = send(case, base_url, session, {} if breaks_the_token(case) else headers)
        if case.path == WEBHOOK and b"\\u0000" in raw_body(case):
            # No schema says "no NUL anywhere in a free-form object"; the document says so in words.
            assert response.status_code == 400, response.text
            return
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


async def test_every_operation_answers_as_documented(server, localstripe):
    # Something to find: a paid lot (payment 1), an open lot with a bid, a lot to close.
    await sold_lot(server, localstripe.url)
    open_lot = await create_lot(server, title="Open")
    bob = await server.socket("bob")
    assert (await bob.call("place_bid", bid(open_lot["id"], open_lot["starting_price"])))["ok"]
    await create_lot(server, title="Another")

    status, document = await server.request("GET", "/api/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(closed(document))
    operations = [result.ok().label for result in schema.get_all_operations()]
    assert len(operations) >= 16, operations  # every SPEC row at least

    failures = await asyncio.to_thread(exercise, schema, server.url, server.make_token)
    assert not failures, "\n\n".join(failures)
