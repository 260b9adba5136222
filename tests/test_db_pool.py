"""DB_POOL_SIZE: how many database connections a server process keeps between bursts.

A burst of requests may open as many connections again as the pool keeps; those are
closed when they come back, so what stays open afterwards is at most DB_POOL_SIZE.
"""

from __future__ import annotations

import asyncio
import itertools

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


async def test_sequential_work_stays_on_the_connection_returned_last(start_server):
    """A warm connection is lent again: its prepared statements are not paid for anew.

    After a burst has left four connections in the pool, sequential units of work
    keep getting the one returned last. A first-in first-out pool would lend each of
    the four in turn. The server's own once-a-second jobs may borrow in between, so
    the test counts how often a checkout got the same connection as the one before.
    """
    server = await start_server(db_pool_size=4)
    sessions = server.app[CONTEXT].db.sessions

    async def backend(pause: float) -> int:
        async with sessions() as session:
            pid = await session.scalar(
                text("SELECT pg_backend_pid() FROM pg_sleep(:s)"), {"s": pause}
            )
            return int(pid)

    burst = await asyncio.gather(*(backend(0.1) for _ in range(4)))
    assert len(set(burst)) == 4  # four connections are now pooled
    pids = [await backend(0) for _ in range(20)]
    again = sum(1 for before, now in itertools.pairwise(pids) if before == now)
    assert again >= 15, pids
