"""A private PostgreSQL under DATA_DIR, for machines that have none to offer.

Two ways to run it, chosen at start: pgserver (the `embedded` extra, which ships
PostgreSQL's binaries; Python 3.11-3.12), else the machine's own `initdb` and
`pg_ctl` (server.core.system_pg; the only way on Python 3.13+, where pgserver has
no build). `AUCTION_EMBEDDED_PG=pgserver|system` forces one (tests use it to run
the fallback on any Python). Neither available: start-up says what to install.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from server.core.system_pg import (
    EmbeddedPostgresUnavailable,
    SystemPostgres,
    find_binaries,
    process_alive,
)

log = logging.getLogger(__name__)

BACKEND_VARIABLE = "AUCTION_EMBEDDED_PG"

NOTHING_TO_EMBED = (
    "DATABASE_URL is not set and there is no PostgreSQL to embed: install the 'embedded' "
    "extra (pip install 'auction-payment-server[embedded]', Python 3.11-3.12), or "
    "PostgreSQL's server programs initdb and pg_ctl (Debian/Ubuntu: apt-get install "
    "postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql), "
    "or set DATABASE_URL to a PostgreSQL you run"
)


def _import_pgserver() -> Any | None:
    try:
        with warnings.catch_warnings():
            # platformdirs complains when XDG_RUNTIME_DIR is unset, and copes.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import pgserver
    except ImportError:
        return None
    return pgserver


class EmbeddedPostgres:
    """Starts a PostgreSQL on a Unix socket under `data_dir`; stops it on `stop()`."""

    def __init__(self, data_dir: Path, database: str = "auction") -> None:
        if not database.isidentifier():
            raise ValueError("embedded database name must be a plain identifier")
        self.data_dir = data_dir.resolve() / "pgdata"
        self.database = database
        self._server: Any = None
        self._system: SystemPostgres | None = None
        self._socket_dir: str | None = None

    def start(self) -> str:
        wanted = os.environ.get(BACKEND_VARIABLE, "").strip().lower() or "auto"
        if wanted not in ("auto", "pgserver", "system"):
            raise EmbeddedPostgresUnavailable(
                f"{BACKEND_VARIABLE} must be auto, pgserver or system"
            )
        pgserver = _import_pgserver() if wanted != "system" else None
        if pgserver is not None:
            self._start_pgserver(pgserver)
        elif wanted == "pgserver":
            raise EmbeddedPostgresUnavailable(
                f"{BACKEND_VARIABLE}=pgserver but pgserver is not installed"
            )
        else:
            bindir = find_binaries()
            if bindir is None:
                raise EmbeddedPostgresUnavailable(NOTHING_TO_EMBED)
            self._start_system(bindir)
        return self.url

    def _start_pgserver(self, pgserver: Any) -> None:
        from pgserver.postgres_server import PostgresServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL (pgserver) in %s", self.data_dir)
        # pgserver narrates every pg_ctl call at INFO; its warnings are what matter.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with PostgresServer._lock:
            _forget_dead_users(self.data_dir)
        # cleanup_mode="stop" stops the server when we let go of it.
        self._server = pgserver.get_server(str(self.data_dir), cleanup_mode="stop")
        self._socket_dir = str(self._server.get_uri()).split("host=")[-1].split("&")[0]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608
        if "1 row" not in self._server.psql(query):
            self._server.psql(f'CREATE DATABASE "{self.database}";')

    def _start_system(self, bindir: Path) -> None:
        log.info("starting embedded PostgreSQL (%s) in %s", bindir, self.data_dir)
        self._system = SystemPostgres(self.data_dir, bindir)
        self._socket_dir = str(self._system.start())
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"  # noqa: S608
        if self._system.psql("postgres", query).strip() != "1":
            self._system.psql("postgres", f'CREATE DATABASE "{self.database}"')

    @property
    def url(self) -> str:
        if self._socket_dir is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        host = quote(self._socket_dir)
        return f"postgresql+asyncpg://postgres@/{self.database}?host={host}"

    def stop(self) -> None:
        if self._server is not None:
            log.info("stopping embedded PostgreSQL")
            self._server.cleanup()
            self._server = None
        if self._system is not None:
            log.info("stopping embedded PostgreSQL")
            self._system.stop()
            self._system = None
        self._socket_dir = None


def stop_orphaned(data_dir: Path, *, patience: float = 15.0) -> bool:
    """Stop the embedded PostgreSQL under `data_dir` if it runs and no live process uses it.

    The server stops it on the way out, but not when it was killed; `scripts/dev`
    calls this once the server has exited. Returns whether it stopped one.
    """
    pgdata = data_dir.resolve() / "pgdata"
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    if not process_alive(pid) or _live_users(pgdata):
        return False
    os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    deadline = time.monotonic() + patience
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not process_alive(pid)


def _live_users(pgdata: Path) -> list[int]:
    """The live processes pgserver recorded as using this PostgreSQL."""
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    return [pid for pid in pids if isinstance(pid, int) and process_alive(pid)]


def _forget_dead_users(pgdata: Path) -> None:
    """Drop processes that died without letting go from pgserver's list of users.

    pgserver stops PostgreSQL when its last recorded user lets go; a user that
    was killed stays on the list and would keep PostgreSQL running forever.
    """
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        handles.write_text(json.dumps(_live_users(pgdata)))
