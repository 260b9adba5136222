"""Demo data for `python -m server seed` and `scripts/dev`."""

from __future__ import annotations

from server.core.db import Database


async def seed_demo(db: Database, *, first_close_minutes: float = 3.0) -> int:
    """Create demo users and lots that close within minutes. Returns how many lots."""
    return 0
