"""Database plumbing: the declarative base, the engine and the unit of work.

A unit of work is one transaction. Services flush; the edge (a request, a
socket event, a scheduled job, a webhook) commits. Side effects that leave
the process are queued on the unit of work with `after_commit` and run only
once the transaction has committed, never for a rolled-back change.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, MetaData, func
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
    """
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        connect_args={"server_settings": {"application_name": "auction-server"}},
    )


AfterCommit = Callable[[], Awaitable[Any]]


class UnitOfWork:
    """One transaction plus the side effects to run once it commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
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
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with self.sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
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
