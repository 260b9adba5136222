"""Users: upserted from verified token claims."""

from __future__ import annotations

from sqlalchemy import ColumnElement, TextClause, or_, select, text
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.auth import Identity
from server.core.db import DriverStatement, DriverUnitOfWork, UnitOfWork
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


#: `upsert_user` for many users in one statement (a batch of bids): the same rule, each
#: claim given (not None) is kept in step with the token, rows in the order given.
UPSERT_USERS: TextClause = text(
    """
    INSERT INTO users (id, role, email, name)
    SELECT u.id, u.role, u.email, u.name
    FROM unnest(
        CAST(:ids AS varchar[]),
        CAST(:roles AS varchar[]),
        CAST(:emails AS text[]),
        CAST(:names AS text[])
    ) WITH ORDINALITY AS u(id, role, email, name, n)
    ORDER BY u.n
    ON CONFLICT (id) DO UPDATE SET
        role = EXCLUDED.role,
        email = coalesce(EXCLUDED.email, users.email),
        name = coalesce(EXCLUDED.name, users.name)
    WHERE users.role IS DISTINCT FROM EXCLUDED.role
       OR (EXCLUDED.email IS NOT NULL AND users.email IS DISTINCT FROM EXCLUDED.email)
       OR (EXCLUDED.name IS NOT NULL AND users.name IS DISTINCT FROM EXCLUDED.name)
    """
)

_UPSERT_USERS_DRIVER = DriverStatement(UPSERT_USERS)


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

    async def ensure_many(self, uow: DriverUnitOfWork, identities: list[Identity]) -> None:
        """`ensure` for several users at once (the bid batch): one statement for those not
        yet seen, or none.

        Rows are written in the order given; callers that may run at once on
        shared users pass them sorted by id, so two batches never wait on each other.
        """
        unseen = [who for who in identities if self._seen.get(who.sub) != who]
        if not unseen:
            return
        params = {
            "ids": [who.sub for who in unseen],
            "roles": [who.role for who in unseen],
            "emails": [who.email for who in unseen],
            "names": [who.name for who in unseen],
        }
        await _UPSERT_USERS_DRIVER.fetch(uow, params)

        async def remember() -> None:
            if len(self._seen) + len(unseen) > self._limit:
                self._seen.clear()
            for who in unseen:
                self._seen[who.sub] = who

        uow.after_commit(remember)

    def forget(self, sub: str) -> None:
        self._seen.pop(sub, None)
