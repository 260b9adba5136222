"""The card behind a payment, as a receipt may show it: brand and last four digits only.

Stripe reports the card on the charge (`payment_method_details.card`). A
PaymentIntent fetched with `expand=["latest_charge"]` carries that charge; a
webhook's intent names it by id only, so the charge is fetched once, here,
before the event's transaction opens.
Nothing else about the card is read or kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from server.core.context import AppContext
from server.core.errors import AppError

log = logging.getLogger(__name__)

_BRAND = re.compile(r"[a-z_]{1,32}")
_LAST4 = re.compile(r"\d{4}")


class CardSummary(NamedTuple):
    brand: str | None
    last4: str | None


NO_CARD = CardSummary(None, None)


def card_of_charge(charge: Mapping[str, Any]) -> CardSummary:
    """Brand and last four digits from a Stripe charge; anything malformed is dropped."""
    details = charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, Mapping) else None
    if not isinstance(card, Mapping):
        return NO_CARD
    brand, last4 = card.get("brand"), card.get("last4")
    brand = brand.lower() if isinstance(brand, str) else None
    return CardSummary(
        brand if brand is not None and _BRAND.fullmatch(brand) else None,
        last4 if isinstance(last4, str) and _LAST4.fullmatch(last4) else None,
    )


def card_in_intent(intent: Mapping[str, Any]) -> CardSummary:
    """The card that paid `intent`, when its latest charge is expanded; else none."""
    charge = intent.get("latest_charge")
    return card_of_charge(charge) if isinstance(charge, Mapping) else NO_CARD


async def expand_latest_charge(context: AppContext, intent: dict[str, Any]) -> None:
    """Replace the charge id in a webhook's intent with the charge's card summary.

    Called before the event's transaction opens, so no row lock waits on Stripe.
    Only the card's brand and last four digits are kept. A receipt without a
    card line is better than a payment left unrecorded: a charge that cannot be
    fetched is logged and skipped, never raised.
    """
    charge_id = intent.get("latest_charge")
    if not isinstance(charge_id, str):
        return
    try:
        fetched = await context.stripe.retrieve_charge(charge_id, background=True)
    except AppError as error:
        log.warning("card details of charge %s unavailable: %s", charge_id, error.message)
        return
    charge = fetched.to_dict() if hasattr(fetched, "to_dict") else fetched
    brand, last4 = card_of_charge(charge) if isinstance(charge, Mapping) else NO_CARD
    intent["latest_charge"] = {
        "id": charge_id,
        "payment_method_details": {"card": {"brand": brand, "last4": last4}},
    }
