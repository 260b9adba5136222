"""The payments domain: what the app factory wires in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.core.context import AppContext
from server.realtime.namespace import ConnectHook, SocketHandler
from server.scheduling.scheduler import Scheduler

SOCKET_HANDLERS: dict[str, SocketHandler] = {}
CONNECT_HOOKS: list[ConnectHook] = []


def setup_routes(app: web.Application) -> None:
    """Add this domain's HTTP routes."""


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    """Add this domain's periodic sweeps."""


async def rebuild_schedule(context: AppContext) -> Any:
    """Recreate this domain's date jobs from the database at start-up."""
