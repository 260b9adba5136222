"""Saving a card as a bidder's browser does: setup at our server, confirm at Stripe."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from server.cards.models import Card
from tests.support import stripe as fake_browser


async def save_card(
    server: Any,
    standin_url: str,
    user: str,
    number: str = fake_browser.CARD_OK,
    *,
    refetch: bool = True,
    **expiry: int,
) -> dict[str, Any]:
    """Setup → `confirmCardSetup` at the stand-in → (the page's re-fetch) → the stored card."""
    status, setup = await server.request("POST", "/api/me/cards/setup", as_user=user)
    assert status == 200, setup
    status, confirmed = await fake_browser.confirm_setup(standin_url, setup, number, **expiry)
    if status == 200 and confirmed["status"] == "requires_action":  # the bank's 3-D Secure
        confirmed = await fake_browser.complete_setup_3ds(standin_url, setup)
    assert status == 200 and confirmed["status"] == "succeeded", confirmed
    if not refetch:
        return confirmed
    status, card = await server.request(
        "POST", "/api/me/cards", as_user=user, json={"setup_intent_id": confirmed["id"]}
    )
    assert status == 201, card
    return card


async def wait_for_card(db: Any, card_id: str, *, present: bool = True, timeout: float = 15.0):
    """The card row once the webhook stored (or forgot) it."""
    for _ in range(int(timeout / 0.05)):
        async with db.sessions() as session:
            card = await session.scalar(select(Card).where(Card.id == card_id))
        if (card is not None) == present:
            return card
        await asyncio.sleep(0.05)
    raise AssertionError(f"card {card_id} {'never stored' if present else 'still stored'}")
