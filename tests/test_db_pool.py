"""DB_POOL_SIZE: how many database connections a server process keeps between bursts.

A burst of requests may open as many connections again as the pool keeps; those are
closed when they come back, so what stays open afterwards is at most DB_POOL_SIZE.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from server.core.context import CONTEXT


async def test_a_server_keeps_at_most_db_pool_size_connections_after_a_burst(start_server):
    server = await start_server(db_pool_size=2)
    pool = server.app[CONTEXT].db.engine.pool
    assert pool.size() == 2  # type: ignore[attr-defined]

    async def one_query() -> None:
        async with server.app[CONTEXT].db.sessions() as session:
            await session.execute(text("SELECT pg_sleep(0.2)"))

    await asyncio.gather(*(one_query() for _ in range(6)))
    # Six at once took two pooled and up to four overflow connections; the overflow is
    # closed on its way back. The server's own once-a-second jobs may hold connections at
    # any moment, so look when none is out.
    for _ in range(200):
        if pool.checkedout() == 0:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert pool.checkedin() <= 2  # type: ignore[attr-defined]
