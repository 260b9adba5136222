"""A crash between Stripe's answer and our commit, made by the database itself.

`crash_once_on_saving_the_intent(db)` makes the FIRST update that stores a payment's
`stripe_payment_intent_id` fail inside PostgreSQL (as if the process died after Stripe
created the intent and before our commit); every later attempt passes. The trigger,
function and sequence are dropped again on leaving the block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from server.core.db import Database


@asynccontextmanager
async def crash_once_on_saving_the_intent(db: Database) -> AsyncIterator[None]:
    async with db.engine.begin() as conn:
        # Sequences are not transactional: the first activation fails, later ones pass.
        await conn.execute(text("CREATE SEQUENCE crash_counter"))
        await conn.execute(
            text(
                "CREATE FUNCTION crash_once() RETURNS trigger AS $$ BEGIN "
                "IF nextval('crash_counter') = 1 THEN RAISE EXCEPTION 'simulated crash'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER crash_once BEFORE UPDATE ON payments FOR EACH ROW "
                "WHEN (NEW.stripe_payment_intent_id IS NOT NULL AND "
                "OLD.stripe_payment_intent_id IS NULL) EXECUTE FUNCTION crash_once()"
            )
        )
    try:
        yield
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER crash_once ON payments"))
            await conn.execute(text("DROP FUNCTION crash_once()"))
            await conn.execute(text("DROP SEQUENCE crash_counter"))
