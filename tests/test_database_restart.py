"""PostgreSQL restarts under a running server: one unit of work may fail, the next recovers.

The engine does not ping each connection before use (server.core.db), so this
proves what replaces the ping: a dead pooled connection fails on first use with
`unavailable` (never `internal`), SQLAlchemy discards the pool's stale
connections, and the following requests connect afresh. The test restarts a
PostgreSQL of its own (the embedded one, pgserver, in a temporary directory),
never the shared one other tests use.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from server.core.db import Database
from server.core.embedded_pg import EmbeddedPostgres
from server.core.migrations import upgrade
from tests.support.factories import bid, create_lot

pgserver = pytest.importorskip(
    "pgserver",
    reason="pgserver is not installed (no Python 3.13 build); this test restarts a pgserver "
    "PostgreSQL of its own with pgserver's pg_ctl, never the shared server",
)


def _restart(embedded: EmbeddedPostgres) -> None:
    """Stop PostgreSQL ("fast": it terminates every session), then start it again."""
    from pgserver._commands import pg_ctl
    from pgserver.postgres_server import PostgresServer

    server: Any = embedded._server
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    with PostgresServer._lock:
        server.ensure_postgres_running()


@pytest.fixture
async def own_postgres() -> Any:
    # Not under pytest's tmp_path: pytest makes its parent private again whenever another
    # run starts, and pgserver's PostgreSQL runs as another user when we are root.
    directory = Path(tempfile.mkdtemp(prefix="auction-pg-restart-"))
    embedded = EmbeddedPostgres(directory)
    url = await asyncio.to_thread(embedded.start)
    db = Database()
    db.open(url, pool_size=1)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()
    yield embedded, url
    await asyncio.to_thread(embedded.stop)
    shutil.rmtree(directory, ignore_errors=True)


async def test_the_server_recovers_when_postgresql_restarts(start_server, own_postgres):
    embedded, url = own_postgres
    # No background jobs: the first use of a dead connection is the request's own.
    server = await start_server(
        database_url=url,
        sweep_interval_seconds=3600.0,
        outbox_interval_seconds=3600.0,
        reconcile_interval_seconds=3600.0,
    )
    lot = await create_lot(server, starting_price=100, bid_increment=1)
    alice = await server.socket("alice")
    first = await alice.call("place_bid", bid(lot["id"], 100))
    assert first["ok"], first
    # Several connections in the pool, each about to be stale.
    status, _ = await server.request("GET", f"/api/lots/{lot['id']}")
    assert status == 200

    # Connected before the restart: a connect reads the database too (payments awaiting bob).
    bob = await server.socket("bob")

    await asyncio.to_thread(_restart, embedded)

    acks = []
    for amount in range(200, 205):
        ack = await bob.call("place_bid", bid(lot["id"], amount))
        acks.append(ack)
        if ack["ok"]:
            break
    failures = [a["error"]["code"] for a in acks if not a["ok"]]
    assert acks[-1]["ok"], acks
    assert failures in ([], ["unavailable"]), acks
    status, body = await server.request("GET", f"/api/lots/{lot['id']}")
    assert status == 200 and body["current_bid"] == acks[-1]["bid"]["amount"]
    status, _ = await server.request("GET", "/readyz")
    assert status == 200
