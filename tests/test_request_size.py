"""Request bodies over `max_request_bytes` (1 MiB) get a 413 JSON error, not a crash."""

from __future__ import annotations

import io

import pytest

TOO_BIG = b"{" + b" " * (1024 * 1024) + b"}"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/payments/webhook", {"Stripe-Signature": "t=1,v1=00"}),
        ("/api/lots", {}),
    ],
)
async def test_a_body_over_one_mebibyte_is_refused_with_413(server, path, headers):
    status, body = await server.request(
        "POST",
        path,
        as_user="sam",
        role="seller",
        data=io.BytesIO(TOO_BIG),
        headers={"Content-Type": "application/json", **headers},
    )
    assert status == 413
    assert body["error"]["code"] == "validation_error"
    assert "too large" in body["error"]["message"].lower()


async def test_a_body_just_under_the_limit_is_read(server):
    # Same route, a body that fits: refused for what it says, not for its size.
    status, body = await server.request(
        "POST",
        "/api/lots",
        as_user="sam",
        role="seller",
        data=io.BytesIO(b"[" + b" " * (1024 * 1024 - 16) + b"]"),
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert body["error"]["code"] == "validation_error"
    assert "too large" not in body["error"]["message"].lower()
