"""Lots and live bidding: what the app factory wires in."""

from __future__ import annotations

from server.auctions import sockets, tasks, views
from server.core.context import AppContext
from server.realtime.namespace import ConnectHook, SocketHandler
from server.scheduling.scheduler import Scheduler

SOCKET_HANDLERS: dict[str, SocketHandler] = {
    "join_lot": sockets.join_lot,
    "leave_lot": sockets.leave_lot,
    "place_bid": sockets.place_bid,
    "set_max_bid": sockets.set_max_bid,
    "buy_now": sockets.buy_now,
}
CONNECT_HOOKS: list[ConnectHook] = []
latest_seqs = sockets.latest_seqs

setup_routes = views.setup_routes
rebuild_schedule = tasks.rebuild_schedule


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    tasks.install_jobs(context, scheduler)
