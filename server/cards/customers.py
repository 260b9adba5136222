"""A Stripe Customer per user, created the first time they save a card.

No database row is locked while Stripe is asked. The idempotency key comes
from our user id, so two first requests at once (or a retry after a crash)
get the same Customer back from Stripe; the one that stores it first wins and
the other reads it. A Customer deleted at Stripe (the dashboard, support) is
replaced on the next card setup: the new one's key names the one it replaces.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select, update

from server.core.auth import Identity
from server.core.context import AppContext
from server.users.models import User

log = logging.getLogger(__name__)


def customer_key(user_id: str, replacing: str | None = None) -> str:
    """Stripe's idempotency key for this user's Customer (at most 255 characters)."""
    ours = user_id if len(user_id) <= 150 else hashlib.sha256(user_id.encode()).hexdigest()
    return f"customer-{ours}" + (f"-replacing-{replacing}" if replacing else "")


async def ensure_customer(context: AppContext, identity: Identity) -> str:
    """The user's Stripe Customer id, creating the Customer if they have none yet."""
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, identity)
        customer = await uow.session.scalar(
            select(User.stripe_customer_id).where(User.id == identity.sub)
        )
    if customer is not None:
        return customer
    return await _create(context, identity, replacing=None)


async def replace_customer(context: AppContext, identity: Identity, gone: str) -> str:
    """Stripe no longer knows `gone` (deleted there): create the user's next Customer."""
    log.warning("Stripe customer %s of user %s is gone; creating another", gone, identity.sub)
    return await _create(context, identity, replacing=gone)


async def _create(context: AppContext, identity: Identity, *, replacing: str | None) -> str:
    created = await context.stripe.create_customer(
        user_id=identity.sub,
        email=identity.email,
        name=identity.name,
        idempotency_key=customer_key(identity.sub, replacing),
    )
    async with context.db.unit_of_work() as uow:
        stored = await uow.session.scalar(
            update(User)
            .where(User.id == identity.sub, User.stripe_customer_id.is_not_distinct_from(replacing))
            .values(stripe_customer_id=created.id)
            .returning(User.stripe_customer_id)
        )
        if stored is None:  # another request stored one first: use theirs
            stored = await uow.session.scalar(
                select(User.stripe_customer_id).where(User.id == identity.sub)
            )
    assert stored is not None
    return str(stored)
