"""Payments (the money records): what the app factory wires in.

The jobs that move a payment along (windows, retries, reconciliation) are the
sale's: `server.sales`.
"""

from __future__ import annotations

from server.payments import sockets, views
from server.realtime.namespace import ConnectHook, SocketHandler

SOCKET_HANDLERS: dict[str, SocketHandler] = {"my_payments": sockets.my_payments}
CONNECT_HOOKS: list[ConnectHook] = [sockets.redeliver_payment_required]

setup_routes = views.setup_routes
