"""Socket.IO transport for payments: what awaits the caller, redelivered on connect."""

from __future__ import annotations

from typing import Any

from server.contract.base import parse
from server.contract.events import MyPayments
from server.core.context import AppContext
from server.realtime.namespace import Caller
from server.sales import awaiting


async def my_payments(context: AppContext, caller: Caller, payload: Any) -> dict[str, Any]:
    identity = caller.require_user()
    parse(MyPayments, {} if payload is None else payload)
    return {"ok": True, "payments": await awaiting.payments_awaiting(context, identity.sub)}


async def redeliver_payment_required(context: AppContext, caller: Caller) -> None:
    """`payment_required` again on every connect while a payment awaits this user."""
    if caller.identity is not None:
        await awaiting.redeliver_on_connect(context, caller.sid, caller.identity.sub)
