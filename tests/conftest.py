"""Fixtures: the real app on a real port, real PostgreSQL, Redis and localstripe.

One database per run, migrated with Alembic once; every table is emptied
before each test. localstripe runs in a child process for the whole run.

`scripts/test` runs the suite in several pytest-xdist workers (`--dist loadgroup`).
Session fixtures are per worker: each worker has its own database and its own
localstripe (its webhook goes to one URL at a time), and every test its own
Socket.IO channel, so workers never see each other's rows or events. Tests that
start server processes, a browser, nginx or a redis-server of their own, or that
count what happens within seconds, are grouped (`SERIAL_GROUPS`) so that one
worker runs them one after another rather than all at once; a long group runs in
two lanes (`SECOND_LANE`), two workers' queues.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from server.app import create_app
from server.core.auth import issue_token
from server.core.context import CONTEXT, AppContext
from server.core.db import Database
from server.core.migrations import upgrade
from server.settings import Settings
from tests.support.clients import ServerHandle, SocketClient
from tests.support.services import LocalStripe, TestDatabase, redis_url
from tests.support.stripe_proxy import StripeProxy

#: The module-scoped `browser` fixture (headless Chromium) lives with the page helpers.
pytest_plugins = ["tests.support.browser"]

WEBHOOK_SECRET = "whsec_test_" + "a" * 24
JWT_SECRET = "test-jwt-secret-" + "b" * 24
METRICS_TOKEN = "test-metrics-token-" + "m" * 16
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


#: Markers whose tests one worker runs one after another (pytest-xdist `--dist loadgroup`):
#: heavy on the 2-core machine, or counting what happens within seconds.
SERIAL_GROUPS = {
    "serial": "serial",
    "multiprocess": "serial",
    "packaging": "packaging",
    "browser": "browser",
}

#: A group too long for one worker runs in two lanes, each one worker's queue: these modules
#: form its second lane (`<group>-2`), the others its first. So at most two Chromiums, or two
#: tests with server processes of their own, run at once. Chosen so that the lanes take about
#: as long (`scripts/test --durations=0`, summed by module); a new module joins the first.
SECOND_LANE = {
    "browser": {
        "test_admin_desk",
        "test_browser",
        "test_browser_cards",
        "test_catalogue_page",
        "test_desk_sale",
        "test_seller_desk",
    },
    "serial": {"test_log_noise", "test_slow_clients", "test_workers"},
}


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"redis: {redis_url() or 'not available'}"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each heavy test in its xdist group (a test's own `xdist_group` wins)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        for marker, group in SERIAL_GROUPS.items():
            if item.get_closest_marker(marker) is not None:
                if item.path.stem in SECOND_LANE.get(group, ()):
                    group += "-2"
                item.add_marker(pytest.mark.xdist_group(group))
                break


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Under `--dist loadgroup`, pytest-xdist must have put each group into the test's id.

    It does so by rewriting node ids, which some pytest versions ignore (pytest-xdist
    #1386): the groups would then silently run all at once on every worker.
    """
    if not session.config.getoption("loadgroup", default=False):
        return
    lost = [
        item.nodeid
        for item in session.items
        if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid
    ]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist did not group {len(lost)} tests (e.g. {lost[0]}): this pytest "
            "breaks --dist loadgroup; keep pytest below 9.2 (pyproject.toml)"
        )


@pytest.fixture(scope="session")
async def test_database() -> AsyncIterator[TestDatabase]:
    database = TestDatabase()
    await database.create()
    db = Database()
    db.open(database.url, pool_size=1)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()
    print(f"\ntest database {database.name} on {database.origin}")
    yield database
    await database.drop()


@pytest.fixture(scope="session")
def localstripe() -> Any:
    standin = LocalStripe()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
async def shared_db(test_database: TestDatabase) -> AsyncIterator[Database]:
    database = Database()
    database.open(test_database.url, pool_size=4)
    yield database
    await database.dispose()


#: The tables of the public schema (but Alembic's) and the foreign keys between them.
_TABLES_AND_KEYS = """
SELECT c.relname, coalesce(array_agg(DISTINCT p.relname) FILTER (WHERE p.relname IS NOT NULL
       AND p.oid <> c.oid), '{}')
FROM pg_class c
LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'
LEFT JOIN pg_class p ON p.oid = k.confrelid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND c.relname <> 'alembic_version'
GROUP BY c.relname
"""

#: Every sequence of the public schema back to its start, as TRUNCATE ... RESTART IDENTITY does.
_RESTART_SEQUENCES = (
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
    "FROM pg_sequences WHERE schemaname = 'public'"
)


def _children_first(parents_of: dict[str, list[str]]) -> list[str]:
    """The tables ordered so that each comes before every table its foreign keys point at.

    (A cycle of foreign keys has no such order: its DELETE then fails on the key.)
    """
    order: list[str] = []
    seen: set[str] = set()

    def visit(table: str) -> None:
        if table in seen:
            return
        seen.add(table)
        for child, parents in parents_of.items():
            if table in parents:
                visit(child)
        order.append(table)

    for table in sorted(parents_of):
        visit(table)
    return order


@pytest.fixture
async def db(shared_db: Database) -> Database:
    """The test database, emptied, for arranging and asserting (separate from the app's).

    Emptied with DELETE, children before parents, and the sequences restarted: what
    `TRUNCATE ... RESTART IDENTITY CASCADE` did, at ~2 ms instead of ~100 ms a test (a
    TRUNCATE makes new files for every table and index; the tables here hold a few rows).
    """
    async with shared_db.engine.begin() as conn:
        rows = (await conn.execute(text(_TABLES_AND_KEYS))).all()
        tables = _children_first({name: list(parents) for name, parents in rows})
        statements = [f'DELETE FROM "{name}"' for name in tables]
        # One round trip (the simple query protocol takes several statements); nothing
        # here needs to survive a crash of PostgreSQL, so the commit does not wait for
        # the disk.
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(
            "; ".join(["SET LOCAL synchronous_commit = off", *statements, _RESTART_SEQUENCES])
        )
    return shared_db


@pytest.fixture
def settings(test_database: TestDatabase, localstripe: LocalStripe, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        stripe_secret_key="sk_test_" + "c" * 24,
        stripe_publishable_key="pk_test_" + "d" * 24,
        stripe_webhook_secrets=(WEBHOOK_SECRET,),
        jwt_secret=JWT_SECRET,
        database_url=test_database.url,
        stripe_api_base=localstripe.url,
        stripe_js_url=f"{localstripe.url}/js.stripe.com/v3/",
        redis_url=None,
        metrics_token=METRICS_TOKEN,
        sweep_interval_seconds=0.25,
        stripe_retry_base_seconds=0.2,
        outbox_interval_seconds=0.2,
        # A full collection of this worker's heap at every app's start-up: ~0.1-0.2 s a test.
        gc_freeze=False,
        socketio_channel=f"auction-test-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def make_token(settings: Settings) -> Callable[..., str]:
    def make(sub: str, role: str = "bidder", **claims: Any) -> str:
        return issue_token(settings, sub=sub, role=role, **claims)

    return make


@dataclass
class RunningServer(ServerHandle):
    url: str
    app: Any
    http: aiohttp.ClientSession
    make_token: Callable[..., str]
    _sockets: list[SocketClient] = field(default_factory=list)

    @property
    def context(self) -> AppContext:
        return self.app[CONTEXT]

    async def stop_jobs(self) -> None:
        """No scheduled job starts from now on, and none is still running: the test drives them.

        Removing a job (`Scheduler.cancel`) is not enough: a run already under way (the
        sweeps and the outbox start 0.2 s after start-up, then every 0.25 s) goes on and
        takes the rows the test arranges next.
        """
        scheduler = self.context.scheduler
        assert scheduler is not None
        assert await scheduler.drain(within=30) == 0, "a scheduled job did not finish"


StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_server(
    settings: Settings, make_token: Callable[..., str], localstripe: LocalStripe, db: Database
) -> AsyncIterator[StartServer]:
    """Start the real app on a free port; `await start_server(**setting_overrides)`."""
    started: list[tuple[TestServer, RunningServer]] = []

    async def start(**overrides: Any) -> RunningServer:
        app = create_app(settings.with_overrides(**overrides) if overrides else settings)
        test_server = TestServer(app, host="127.0.0.1")
        await test_server.start_server()
        url = str(test_server.make_url("")).rstrip("/")
        running = RunningServer(
            url=url, app=app, http=aiohttp.ClientSession(), make_token=make_token
        )
        started.append((test_server, running))
        async with running.http.post(
            f"{localstripe.url}/_config/webhooks/test",
            data={"url": f"{url}/api/payments/webhook", "secret": WEBHOOK_SECRET},
        ) as resp:
            assert resp.status == 200, await resp.text()
        return running

    yield start
    for test_server, running in reversed(started):
        for client in running._sockets:
            await client.disconnect()
        await running.http.close()
        await test_server.close()
    for _, running in started:
        running.check_contract()


@pytest.fixture
async def server(start_server: StartServer) -> RunningServer:
    return await start_server()


@pytest.fixture
async def proxy(localstripe: LocalStripe) -> AsyncIterator[StripeProxy]:
    """A StripeProxy in front of this worker's localstripe, which starts the test empty.

    Ids restart with every test's database; localstripe's then must too. (A module that
    needs a different one defines its own `proxy`, as test_proxy.py does.)
    """
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"{localstripe.url}/_config/data") as response,
    ):
        assert response.status == 200
    stripe_proxy = StripeProxy(upstream=localstripe.url)
    await stripe_proxy.start()
    yield stripe_proxy
    await stripe_proxy.stop()
