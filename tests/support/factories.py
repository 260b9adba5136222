"""Small keyword-only factories for arranging tests through the real API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def in_seconds(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def create_lot(
    server: Any,
    *,
    seller: str = "sam",
    title: str = "Lot",
    currency: str = "usd",
    starting_price: int = 1000,
    ends_in: float = 3600,
    starts_in: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "currency": currency,
        "starting_price": starting_price,
        "ends_at": iso(in_seconds(ends_in)),
        **fields,
    }
    if starts_in is not None:
        body["starts_at"] = iso(in_seconds(starts_in))
    status, lot = await server.request(
        "POST", "/api/lots", as_user=seller, role="seller", json=body
    )
    assert status == 201, lot
    return lot


def bid(lot_id: int, amount: int, request_id: str | None = None) -> dict[str, Any]:
    return {"lot_id": lot_id, "amount": amount, "request_id": request_id or uuid.uuid4().hex}


async def create_sale(
    server: Any,
    *,
    seller: str = "sam",
    title: str = "Sale",
    currency: str = "usd",
    settlement: str = "per_sale",
    closes_in: float = 3600,
    interval: int = 60,
    starts_in: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A sale whose lot 1 closes in `closes_in` seconds, each next lot `interval` later."""
    body: dict[str, Any] = {
        "title": title,
        "currency": currency,
        "settlement": settlement,
        "lots_close_from": iso(in_seconds(closes_in)),
        "lot_interval_seconds": interval,
        **fields,
    }
    if starts_in is not None:
        body["starts_at"] = iso(in_seconds(starts_in))
    status, sale = await server.request(
        "POST", "/api/sales", as_user=seller, role="seller", json=body
    )
    assert status == 201, sale
    return sale


async def add_lot(
    server: Any,
    sale: dict[str, Any],
    *,
    seller: str = "sam",
    title: str = "Lot",
    starting_price: int = 1000,
    **fields: Any,
) -> dict[str, Any]:
    """The sale's next lot: its number and close come from the sale."""
    body = {
        "title": title,
        "currency": sale["currency"],
        "starting_price": starting_price,
        "sale_id": sale["id"],
        **fields,
    }
    status, lot = await server.request(
        "POST", "/api/lots", as_user=seller, role="seller", json=body
    )
    assert status == 201, lot
    return lot
