"""Winner payments: what the app factory wires in."""

from __future__ import annotations

from server.core.context import AppContext
from server.payments import sockets, tasks, views
from server.realtime.namespace import ConnectHook, SocketHandler
from server.scheduling.scheduler import Scheduler

SOCKET_HANDLERS: dict[str, SocketHandler] = {"my_payments": sockets.my_payments}
CONNECT_HOOKS: list[ConnectHook] = [sockets.redeliver_payment_required]

setup_routes = views.setup_routes


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    tasks.install_jobs(context, scheduler)


async def rebuild_schedule(context: AppContext) -> None:
    await tasks.rebuild_schedule(context)
    await tasks.reconcile_at_startup(context)
