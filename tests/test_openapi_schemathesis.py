"""Property-based tests of the HTTP API against its own OpenAPI document (schemathesis).

For every operation in `/api/openapi.json`, schemathesis generates requests
that fit the document (25 per operation, derandomized so a run is repeatable)
and sends them to the real app with a valid token of the role the operation
is for. Every answer must be a non-5xx whose status, content type, headers
and body the document describes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.factories import bid, create_lot
from tests.support.sales import sold_lot

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


def role_for(method: str, path: str) -> tuple[str, str]:
    """The (sub, role) of a caller the operation is meant for."""
    if path.startswith("/api/admin") or path.endswith("/refund"):
        return "root", "admin"
    if (method, path) == ("POST", "/api/lots") or path.endswith(("/close", "/cancel")):
        return "sam", "seller"
    return "alice", "bidder"


def exercise(schema: Any, base_url: str, token: Callable[[str, str], str]) -> list[str]:
    """Run every operation; returns one report per operation that failed a check."""
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            headers = {}
            if operation.definition.raw.get("security"):
                sub, role = role_for(operation.method.upper(), operation.path)
                headers["Authorization"] = f"Bearer {token(sub, role)}"
            try:
                check_operation(operation, base_url, session, headers)
            except Exception as error:
                failures.append(f"{operation.label}: {error}")
    return failures


def check_operation(
    operation: Any, base_url: str, session: requests.Session, headers: dict[str, str]
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=10)
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
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok().label for result in schema.get_all_operations()]
    assert len(operations) >= 16, operations  # every SPEC row at least

    failures = await asyncio.to_thread(exercise, schema, server.url, server.make_token)
    assert not failures, "\n\n".join(failures)
