"""Stripe events about saved cards and Customers.

- `setup_intent.succeeded`: store the PaymentMethod it saved, as the page's
  re-fetch on return does (whichever comes first; the second changes nothing).
  Its PaymentMethod is fetched before the event's transaction opens
  (`prepare_event`), so no transaction waits on Stripe.
- `payment_method.detached`: the card is gone (removed here, or at Stripe).
- `payment_method.updated` / `payment_method.automatically_updated`: a new expiry.
- `customer.deleted`: the user's cards are gone with it; the next setup makes
  another Customer (server.cards.customers).

A SetupIntent or Customer we do not know is recorded as ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from server.cards import service
from server.cards.models import Card
from server.core.context import AppContext
from server.core.db import UnitOfWork
from server.payments.gateway import StripeRejected
from server.users.models import User

log = logging.getLogger(__name__)


async def prepare_event(context: AppContext, event: dict[str, Any]) -> None:
    """Expand the PaymentMethod of a SetupIntent success (a Stripe call; no lock is held)."""
    if event.get("type") != "setup_intent.succeeded":
        return
    intent = event["data"]["object"]
    method = intent.get("payment_method")
    if isinstance(method, str) and isinstance(intent.get("customer"), str):
        try:
            intent["payment_method"] = await service.fetch_method(context, method, background=True)
        except StripeRejected as error:
            # Gone at Stripe: nothing to store. (Unreachable: the error answers the
            # webhook with a 503, and Stripe sends it again.)
            log.warning("payment method %s of a setup is unavailable: %s", method, error)


async def _user_of_customer(uow: UnitOfWork, customer: Any) -> str | None:
    if not isinstance(customer, str):
        return None
    return await uow.session.scalar(select(User.id).where(User.stripe_customer_id == customer))


async def on_setup_succeeded(
    uow: UnitOfWork, context: AppContext, intent: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    user_id = await _user_of_customer(uow, intent.get("customer"))
    method = intent.get("payment_method")
    if user_id is None or not isinstance(method, dict):
        return "ignored", None
    if method.get("customer") != intent.get("customer"):
        return "ignored", None  # detached again since: not a card on file
    card = await service.store_card(uow.session, user_id, method)
    return ("applied" if card is not None else "ignored"), None


async def on_method_detached(
    uow: UnitOfWork, context: AppContext, method: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    card_id = method.get("id")
    if not isinstance(card_id, str) or await service.forget_card(uow.session, card_id) is None:
        return "ignored", None
    return "applied", None


async def on_method_updated(
    uow: UnitOfWork, context: AppContext, method: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    card = method.get("card")
    if not isinstance(method.get("id"), str) or not isinstance(card, dict):
        return "ignored", None
    month, year = card.get("exp_month"), card.get("exp_year")
    if not isinstance(month, int) or not isinstance(year, int) or not 1 <= month <= 12:
        return "ignored", None
    changed = await uow.session.scalar(
        update(Card)
        .where(Card.id == method["id"])
        .values(exp_month=month, exp_year=year)
        .returning(Card.id)
    )
    return ("applied" if changed else "ignored"), None


async def on_customer_deleted(
    uow: UnitOfWork, context: AppContext, customer: dict[str, Any], event_id: str
) -> tuple[str, int | None]:
    user_id = await _user_of_customer(uow, customer.get("id"))
    if user_id is None:
        return "ignored", None
    cards = (await uow.session.scalars(select(Card.id).where(Card.user_id == user_id))).all()
    for card_id in cards:
        await service.forget_card(uow.session, card_id)
    log.warning("Stripe customer of user %s was deleted; %s cards forgotten", user_id, len(cards))
    return "applied", None


HANDLERS = {
    "setup_intent.succeeded": on_setup_succeeded,
    "payment_method.detached": on_method_detached,
    "payment_method.updated": on_method_updated,
    "payment_method.automatically_updated": on_method_updated,
    "customer.deleted": on_customer_deleted,
}
