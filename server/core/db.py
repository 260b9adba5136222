"""Database plumbing: the declarative base, the engine and the unit of work.

A unit of work is one transaction. Services flush; the edge (a request, a
socket event, a scheduled job, a webhook) commits. Side effects that leave
the process are queued on the unit of work with `after_commit` and run only
once the transaction has committed, never for a rolled-back change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, nullcontext, suppress
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import BigInteger, DateTime, MetaData, TextClause, func
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.core.errors import Unavailable

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values: Iterable[str]) -> str:
    """The SQL of a CHECK that `column` holds one of the enum's values.

    Models and migrations both build their CHECKs with it, so a status is
    spelled once: in its Python enum.
    """
    quoted = ", ".join("'" + str(value).replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: BigInteger,
        datetime: DateTime(timezone=True),
    }


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """The engine; no `pool_pre_ping`.

    A ping is one more round trip on every checkout, for every bid. Without it a
    connection that died (PostgreSQL restarted) fails on its first use: asyncpg
    reports it, SQLAlchemy sees a disconnect and throws away every connection
    pooled before it, and that one unit of work answers `unavailable` (try again);
    the next one connects afresh (tests/test_database_restart.py).

    Connections are lent last-in first-out (tests/test_db_pool.py).
    """
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        # The connection returned last is lent first: sequential bids stay on the
        # connections that already prepared their statements and learnt their types,
        # instead of cycling through every pooled one (a fresh connection's first
        # lock-and-check took 14-34 ms against ~1.5 ms warm; BENCHMARKS, session 5).
        pool_use_lifo=True,
        connect_args={"server_settings": {"application_name": "auction-server"}},
    )


AfterCommit = Callable[[], Awaitable[Any]]


class AfterCommitQueue:
    """The side effects to run once a transaction commits."""

    def __init__(self) -> None:
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, effect: AfterCommit) -> None:
        self._after_commit.append(effect)

    async def run_after_commit(self) -> None:
        effects, self._after_commit = self._after_commit, []
        for effect in effects:
            try:
                await effect()
            except Exception:
                # The state change is durable; a lost notification is recovered by
                # clients re-joining (seq gaps) and by redelivery on connect.
                log.exception("after-commit effect failed")


class UnitOfWork(AfterCommitQueue):
    """One transaction (an ORM session) plus the side effects to run once it commits."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session


class DriverUnitOfWork(AfterCommitQueue):
    """One transaction on the pooled connection's own asyncpg connection, no ORM.

    For the bid batch only: it is a handful of prepared statements, and SQLAlchemy's
    async adapter (a greenlet hop, a cursor, result processing) added ~0.5 ms of CPU
    to a BEGIN, one statement and a COMMIT (1.4 against 0.85 ms on the 2-core bench
    machine). Statements are `DriverStatement`s.
    """

    def __init__(self, conn: Any) -> None:
        super().__init__()
        #: The asyncpg connection, in a transaction.
        self.conn = conn


_ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A `text()` statement compiled once for asyncpg (`$n`), bound by name like SQLAlchemy."""

    def __init__(self, clause: TextClause) -> None:
        compiled = clause.compile(dialect=_ASYNCPG)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())

    async def fetch(self, uow: DriverUnitOfWork, params: Mapping[str, Any]) -> list[Any]:
        """The rows (asyncpg Records: `row["name"]`)."""
        return list(await uow.conn.fetch(self.sql, *(params[name] for name in self.names)))


#: What a dead or unreachable database raises from asyncpg itself.
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # administrator shutdown, starting up
    ConnectionError,
    OSError,
)


class Database:
    """The engine and a factory of units of work; opened at start-up, disposed at exit."""

    def __init__(self, engine: AsyncEngine | None = None) -> None:
        self._engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    def open(self, url: str, *, pool_size: int = 10) -> None:
        self._engine = make_engine(url, pool_size=pool_size)
        self.sessions.configure(bind=self._engine)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the database is not open yet")
        return self._engine

    @asynccontextmanager
    async def unit_of_work(
        self, *, slots: asyncio.Semaphore | None = None
    ) -> AsyncIterator[UnitOfWork]:
        """One transaction; with `slots`, it waits for one of them and gives it back at commit.

        The after-commit effects run once the slot is free: they may open units of work
        that need a slot themselves.
        """
        async with slots if slots is not None else nullcontext(), self.sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        await uow.run_after_commit()

    @asynccontextmanager
    async def driver_unit_of_work(self) -> AsyncIterator[DriverUnitOfWork]:
        """`unit_of_work` on the bare asyncpg connection of a pooled connection.

        The connection comes from (and goes back to) SQLAlchemy's pool. A connection
        found dead is shown to SQLAlchemy (one statement through it), which then drops
        it and every connection pooled before it, as on its own path; the caller gets
        `Unavailable` (try again).
        """
        async with self.engine.connect() as pooled:
            driver = (await pooled.get_raw_connection()).driver_connection
            assert driver is not None
            uow = DriverUnitOfWork(driver)
            try:
                async with driver.transaction():
                    yield uow
            except _CONNECTION_LOST as error:
                with suppress(DBAPIError):
                    await pooled.exec_driver_sql("SELECT 1")
                raise Unavailable(
                    "The server is busy or its database is unreachable; try again"
                ) from error
        await uow.run_after_commit()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement is its own transaction: no BEGIN, no COMMIT.

        Only for work that is one statement (a read, an `UPDATE ... RETURNING`): it saves
        two round trips, which is most of what the once-a-second sweeps cost when idle.
        """
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            async with self.sessions(bind=conn) as session:
                yield session

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
