"""Saving, listing, removing and choosing cards on file.

A card is saved with a SetupIntent the browser confirms with Stripe.js (card
data goes from the page to Stripe, never here). Its PaymentMethod is then
stored, by the `setup_intent.succeeded` webhook or by the page's re-fetch on
return, whichever comes first; both are idempotent (the PaymentMethod id is
the card's primary key). A newly saved card becomes the default; a card seen
again changes nothing, so a late webhook never undoes a later choice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards import customers
from server.cards.models import Card, RemovedCard
from server.core.auth import Identity
from server.core.context import AppContext
from server.core.errors import NotFound, conflict
from server.payments.gateway import StripeRejected
from server.users.models import User

log = logging.getLogger(__name__)


def card_view(card: Card) -> dict[str, Any]:
    return {
        "id": card.id,
        "brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "default": card.is_default,
    }


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object (or what a webhook carried) as a plain dict."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()  # type: ignore[no-any-return]
    return dict(obj) if isinstance(obj, Mapping) else {}


# --- saving a card ----------------------------------------------------------------------------


async def start_setup(context: AppContext, identity: Identity) -> dict[str, Any]:
    """A SetupIntent for the caller's Customer (created now if need be)."""
    customer = await customers.ensure_customer(context, identity)
    key = f"setup-{customer}-{uuid.uuid4().hex}"  # each setup is new; the key guards its retry
    try:
        intent = await context.stripe.create_setup_intent(
            customer=customer, user_id=identity.sub, idempotency_key=key
        )
    except StripeRejected as error:
        if error.details.get("stripe_status") != 404:
            raise
        customer = await customers.replace_customer(context, identity, customer)
        intent = await context.stripe.create_setup_intent(
            customer=customer, user_id=identity.sub, idempotency_key=key + "-again"
        )
    return {
        "client_secret": intent.client_secret,
        "publishable_key": context.settings.stripe_publishable_key,
    }


async def save_from_setup_intent(
    context: AppContext, identity: Identity, setup_intent_id: str
) -> dict[str, Any]:
    """Store the card a confirmed SetupIntent of the caller saved (the re-fetch on return)."""
    async with context.db.unit_of_work() as uow:
        await context.seen_users.ensure(uow, identity)
        customer = await uow.session.scalar(
            select(User.stripe_customer_id).where(User.id == identity.sub)
        )
    if customer is None:
        raise NotFound("Setup not found")
    try:
        intent = as_dict(await context.stripe.retrieve_setup_intent(setup_intent_id))
    except StripeRejected as error:
        if error.details.get("stripe_status") == 404:
            raise NotFound("Setup not found") from None
        raise
    if intent.get("customer") != customer:
        raise NotFound("Setup not found")  # another user's: as if it did not exist
    if intent.get("status") != "succeeded":
        raise conflict(
            "setup_incomplete",
            f"The card has not been confirmed yet (the setup is {intent.get('status')})",
        )
    method = await fetch_method(context, intent.get("payment_method"))
    if method is None or method.get("customer") != customer:
        raise conflict("setup_incomplete", "The card was not saved to your account at Stripe")
    async with context.db.unit_of_work() as uow:
        card = await store_card(uow.session, identity.sub, method)
        if card is None:
            raise conflict("setup_incomplete", "Only cards can be saved")
        return card_view(card)


async def fetch_method(
    context: AppContext, method: Any, *, background: bool = False
) -> dict[str, Any] | None:
    """The PaymentMethod named (or expanded) in a SetupIntent, as a dict."""
    if isinstance(method, Mapping) or hasattr(method, "to_dict"):
        return as_dict(method)
    if not isinstance(method, str):
        return None
    return as_dict(await context.stripe.retrieve_payment_method(method, background=background))


async def _lock_card_changes(session: AsyncSession, user_id: str) -> None:
    """One card change per user at a time: the webhook, the re-fetch and a removal may race.

    `FOR NO KEY UPDATE`: it serialises card changes without blocking the user's bids,
    whose writes only take a key-share lock on the user (their foreign keys).
    """
    await session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


async def store_card(session: AsyncSession, user_id: str, method: Mapping[str, Any]) -> Card | None:
    """Insert the card as the user's default when new; a known card is left as it is."""
    card = method.get("card")
    if method.get("type") != "card" or not isinstance(card, Mapping):
        return None
    await _lock_card_changes(session, user_id)
    if await session.get(RemovedCard, method["id"]) is not None:
        # Removed since the event's PaymentMethod was fetched: Stripe will never
        # attach it again, so the event is stale.
        return None
    brand = card.get("brand")
    inserted = await session.scalar(
        insert(Card)
        .values(
            id=method["id"],
            user_id=user_id,
            brand=brand.lower()[:32] if isinstance(brand, str) else None,
            last4=str(card.get("last4"))[-4:],
            exp_month=int(card["exp_month"]),
            exp_year=int(card["exp_year"]),
            is_default=False,
        )
        .on_conflict_do_nothing(index_elements=[Card.id])
        .returning(Card.id)
    )
    if inserted is not None:
        await _make_default(session, user_id, inserted)
    stored = await session.get(Card, method["id"], populate_existing=True)
    return stored if stored is not None and stored.user_id == user_id else None


# --- reading and changing ---------------------------------------------------------------------


async def list_cards(context: AppContext, user_id: str) -> list[dict[str, Any]]:
    async with context.db.unit_of_work() as uow:
        cards = (
            await uow.session.scalars(
                select(Card).where(Card.user_id == user_id).order_by(Card.created_at, Card.id)
            )
        ).all()
        return [card_view(card) for card in cards]


async def _own_card(session: AsyncSession, user_id: str, card_id: str) -> Card:
    card = await session.scalar(
        select(Card).where(Card.id == card_id, Card.user_id == user_id).with_for_update()
    )
    if card is None:
        raise NotFound("Card not found")  # another user's card is a 404 too
    return card


async def remove_card(context: AppContext, identity: Identity, card_id: str) -> None:
    """Detach the card at Stripe, then forget it; the newest other card becomes the default."""
    async with context.db.unit_of_work() as uow:
        await _own_card(uow.session, identity.sub, card_id)
    try:
        await context.stripe.detach_payment_method(card_id)
    except StripeRejected as error:
        # Already detached, or gone at Stripe: there is nothing left to detach.
        log.info("card %s: Stripe refused the detachment (%s); forgetting it", card_id, error)
    async with context.db.unit_of_work() as uow:
        await forget_card(uow.session, card_id)


async def forget_card(session: AsyncSession, card_id: str) -> str | None:
    """Delete a card row (detached at Stripe); returns its user when there was one.

    The id is remembered (`removed_cards`) even when no row was left, so that a
    delayed success event for it does not store it again.
    The user's card lock is taken first, as `store_card` takes it: a success event
    being stored meanwhile either finished before (and its card is deleted here) or
    waits and then finds the id removed.
    """
    owner = await session.scalar(select(Card.user_id).where(Card.id == card_id))
    if owner is not None:
        await _lock_card_changes(session, owner)
    await session.execute(
        insert(RemovedCard).values(id=card_id).on_conflict_do_nothing(index_elements=["id"])
    )
    card = await session.scalar(select(Card).where(Card.id == card_id).with_for_update())
    if card is None:
        return None
    user_id, was_default = card.user_id, card.is_default
    await session.execute(delete(Card).where(Card.id == card_id))
    if was_default:
        newest = await session.scalar(
            select(Card.id)
            .where(Card.user_id == user_id)
            .order_by(Card.created_at.desc(), Card.id.desc())
        )
        if newest is not None:
            await _make_default(session, user_id, newest)
    return user_id


async def choose_default(context: AppContext, identity: Identity, card_id: str) -> dict[str, Any]:
    async with context.db.unit_of_work() as uow:
        card = await _own_card(uow.session, identity.sub, card_id)
        await _make_default(uow.session, identity.sub, card.id)
        await uow.session.refresh(card)
        return card_view(card)


async def _make_default(session: AsyncSession, user_id: str, card_id: str) -> None:
    # Two statements: the partial unique index allows one default at any moment.
    await session.execute(
        update(Card)
        .where(Card.user_id == user_id, Card.is_default, Card.id != card_id)
        .values(is_default=False)
    )
    await session.execute(
        update(Card).where(Card.id == card_id, Card.user_id == user_id).values(is_default=True)
    )
