"""Date jobs for a lot's opening and close, scheduled by name (`open`, `close`).

The jobs themselves are in `tasks`, defined on the scheduler at start-up; the
services that create, open or extend a lot schedule them here without
importing the module that runs them.
"""

from __future__ import annotations

from datetime import datetime

from server.auctions.models import LotStatus
from server.core.context import AppContext


def schedule_lot(
    context: AppContext, lot_id: int, status: str, starts_at: datetime, ends_at: datetime
) -> None:
    scheduler = context.scheduler
    if scheduler is None:
        return
    if status == LotStatus.SCHEDULED:
        scheduler.run_at("open", lot_id, starts_at)
    scheduler.run_at("close", lot_id, ends_at)
