"""Cards on file (SPEC section 14): what a bidder saves for charges at the hammer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from server.contract.base import Contract, Resource, matching


class SavedCard(Resource):
    """A saved card: brand, last four digits and expiry only; the rest stays at Stripe."""

    id: Annotated[str, Field(description="Stripe's PaymentMethod id (pm_...)")]
    brand: Annotated[str | None, Field(description="visa, mastercard, amex, ...")]
    last4: str
    exp_month: Annotated[int, Field(ge=1, le=12)]
    exp_year: int
    default: Annotated[bool, Field(description="The card charged at the hammer")]


class CardList(Resource):
    items: list[SavedCard]


class CardSetup(Resource):
    """A SetupIntent (usage off_session) for Stripe.js `confirmCardSetup`: the caller's only."""

    client_secret: str
    publishable_key: str


class SaveCard(Contract):
    """`POST /api/me/cards`: store the card a confirmed SetupIntent saved (the page's
    re-fetch on return; the `setup_intent.succeeded` webhook does the same)."""

    setup_intent_id: Annotated[
        str,
        Field(max_length=255),
        matching(r"^seti_[A-Za-z0-9_]+$", "must be a SetupIntent id (seti_...)"),
    ]
