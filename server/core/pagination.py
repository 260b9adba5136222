"""Cursors for keyset pagination (newest first, by id).

A cursor is the id the next page starts below, written in decimal. Clients
treat it as opaque; it is plain so that the published schema can say exactly
which cursors exist (`server.contract.common.Cursor`), and a cursor that does
not fit is refused by the query model before it gets here.
"""

from __future__ import annotations

from typing import Any


def encode_cursor(last_id: int) -> str:
    return str(last_id)


def decode_cursor(cursor: str | None) -> int | None:
    return int(cursor) if cursor else None


def page(items: list[Any], next_id: int | None) -> dict[str, Any]:
    """A page as the API answers it: `{items, next_cursor}`, the cursor null on the last page."""
    return {"items": items, "next_cursor": encode_cursor(next_id) if next_id is not None else None}
