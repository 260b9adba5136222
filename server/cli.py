"""What the commands in `server.__main__` do."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from server.app import create_app
from server.core.connections import serve_app
from server.core.context import AppContext
from server.core.db import Database
from server.core.embedded_pg import EmbeddedPostgres
from server.core.logging import configure_logging
from server.core.migrations import upgrade
from server.settings import Settings

log = logging.getLogger("server")


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database, or the embedded one started for this command only."""
    embedded = None
    url = settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
    db = Database()
    db.open(url, pool_size=1)
    try:
        yield db
    finally:
        await db.dispose()
        if embedded is not None:
            embedded.stop()


async def migrate(settings: Settings) -> int:
    configure_logging(settings.log_level, json_logs=False)
    async with _database(settings) as db:
        await upgrade(db.engine)
    print("database migrated to head")
    return 0


async def seed(settings: Settings, *, first_close_minutes: float = 3.0) -> int:
    from server.devtools.seed import seed_demo
    from server.devtools.seed_images import add_demo_images
    from server.media.storage import LocalMediaStore

    configure_logging(settings.log_level, json_logs=False)
    async with _database(settings) as db:
        created = await seed_demo(db, first_close_minutes=first_close_minutes)
        pictured = await add_demo_images(db, LocalMediaStore(settings.data_dir / "media"))
    print(f"seeded {created} demo lots ({pictured} with a picture)")
    return 0


def _run(app: web.Application, settings: Settings, *, reuse_port: bool = False) -> int:
    """Serve until SIGINT or SIGTERM, then stop gracefully and return 0.

    Connections go through `server.core.connections` (slow clients are cut
    off, one address may hold only so many). On the signal aiohttp closes the
    listening socket, runs the app's
    `on_shutdown` (jobs finish, sockets are told goodbye), waits up to
    `shutdown_timeout` for in-flight requests, then runs the cleanup contexts.
    """
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is optional
        loop = asyncio.new_event_loop()

    async def announce_stop(app: web.Application) -> None:
        log.info("stopping: no new connections; finishing in-flight work")

    app.on_shutdown.insert(0, announce_stop)
    serve_app(app, settings, loop, reuse_port=reuse_port)
    log.info("stopped")
    return 0


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level)
    if settings.workers > 1:
        from server.workers import serve_workers

        return serve_workers(settings)
    return _run(create_app(settings), settings)


def serve_one_worker(settings: Settings) -> int:
    """One of `WORKERS` processes: the same server, its port shared (SO_REUSEPORT)."""
    configure_logging(settings.log_level)
    return _run(create_app(settings), settings, reuse_port=True)


def dev(settings: Settings, *, seed: bool = True) -> int:
    from server.devtools.seed import seed_demo
    from server.devtools.seed_images import add_demo_images
    from server.media.storage import LocalMediaStore

    configure_logging(settings.log_level, json_logs=False)
    for name, value in settings.extra.items():
        print(f"dev: generated {name}={value}", file=sys.stderr)

    async def migrate_and_seed(context: AppContext) -> None:
        await upgrade(context.db.engine)
        if seed:
            await seed_demo(context.db)
            await add_demo_images(context.db, LocalMediaStore(settings.data_dir / "media"))

    return _run(create_app(settings, prepare=[migrate_and_seed]), settings)
