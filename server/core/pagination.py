"""Cursors for keyset pagination (newest first, by id).

A cursor is the id the next page starts below, written in decimal. Clients
treat it as opaque; it is plain so that the published schema can say exactly
which cursors exist (`server.contract.common.Cursor`), and a cursor that does
not fit is refused by the query model before it gets here.
"""

from __future__ import annotations


def encode_cursor(last_id: int) -> str:
    return str(last_id)


def decode_cursor(cursor: str | None) -> int | None:
    return int(cursor) if cursor else None
