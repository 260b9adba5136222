"""The notifications domain: what the app factory wires in.

Callers enqueue e-mails with `outbox.enqueue_email` and the builders in
`messages`; `install_jobs` adds the job that delivers them.
"""

from __future__ import annotations

from aiohttp import web

from server.core.context import AppContext
from server.notifications.mailer import mailer_for
from server.notifications.worker import deliver_due_emails
from server.realtime.namespace import ConnectHook, SocketHandler
from server.scheduling.scheduler import Scheduler
from server.settings import SettingsError

SOCKET_HANDLERS: dict[str, SocketHandler] = {}
CONNECT_HOOKS: list[ConnectHook] = []


def setup_routes(app: web.Application) -> None:
    """Add this domain's HTTP routes."""


def install_jobs(context: AppContext, scheduler: Scheduler) -> None:
    """Add this domain's periodic sweeps: outbox delivery."""
    try:
        mailer_for(context.settings.smtp_url)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    scheduler.every("outbox", context.settings.outbox_interval_seconds, deliver_due_emails, context)
