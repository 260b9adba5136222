"""Users: upserted from verified token claims."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.auth import Identity
from server.core.db import UnitOfWork
from server.users.models import User


async def upsert_user(session: AsyncSession, identity: Identity) -> None:
    """Create the user on first sight; keep role, e-mail and name in step with the token."""
    values = {"id": identity.sub, "role": identity.role}
    updates = {"role": identity.role}
    if identity.email is not None:
        values["email"] = updates["email"] = identity.email
    if identity.name is not None:
        values["name"] = updates["name"] = identity.name
    statement = insert(User).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[User.id],
        set_=updates,
        where=_differs(statement, updates),
    )
    await session.execute(statement)


def _differs(statement: Insert, updates: dict[str, str]) -> ColumnElement[bool]:
    excluded = statement.excluded
    return or_(*(getattr(User, name).is_distinct_from(excluded[name]) for name in updates))


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id))


class SeenUsers:
    """Claims already written to the users table by this process; skips repeat upserts."""

    def __init__(self, limit: int = 100_000) -> None:
        self._seen: dict[str, Identity] = {}
        self._limit = limit

    async def ensure(self, uow: UnitOfWork, identity: Identity) -> None:
        if self._seen.get(identity.sub) == identity:
            return
        await upsert_user(uow.session, identity)

        async def remember() -> None:
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen[identity.sub] = identity

        uow.after_commit(remember)

    def forget(self, sub: str) -> None:
        self._seen.pop(sub, None)
