"""Liveness, readiness against the real database, and the error format."""

from __future__ import annotations

from sqlalchemy import text

from server.core.migrations import head_revision


async def test_healthz_answers(server):
    status, body = await server.request("GET", "/healthz")
    assert (status, body) == (200, {"status": "ok"})


async def test_readyz_reports_the_migrated_head(server):
    status, body = await server.request("GET", "/readyz")
    assert status == 200
    assert body == {"status": "ready", "revision": head_revision()}


async def test_readyz_refuses_when_the_schema_is_behind(server, db):
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        status, body = await server.request("GET", "/readyz")
        assert status == 503
        assert body["database"] == "not migrated"
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()}
            )


async def test_readyz_refuses_when_the_database_is_unreachable(start_server):
    server = await start_server(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    status, body = await server.request("GET", "/readyz")
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"].startswith("unreachable")


async def test_unknown_route_is_a_json_404(server):
    status, body = await server.request("GET", "/api/nope")
    assert status == 404
    assert body["error"]["code"] == "not_found"


async def test_responses_carry_a_request_id(server):
    async with server.http.get(server.url + "/healthz", headers={"X-Request-Id": "abc-123"}) as r:
        assert r.headers["X-Request-Id"] == "abc-123"
    async with server.http.get(server.url + "/healthz") as r:
        assert len(r.headers["X-Request-Id"]) == 32


async def test_an_unreachable_database_is_unavailable_not_internal(start_server):
    server = await start_server(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    status, body = await server.request("GET", "/api/lots")
    assert (status, body["error"]["code"]) == (503, "unavailable")
    alice = await server.socket("alice")
    ack = await alice.call("place_bid", {"lot_id": 1, "amount": 100, "request_id": "r1"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "unavailable"
