"""A private PostgreSQL under DATA_DIR, for machines that have none (pgserver)."""

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

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts pgserver's PostgreSQL on a Unix socket under `data_dir`; stops it on `stop()`."""

    def __init__(self, data_dir: Path, database: str = "auction") -> None:
        self.data_dir = data_dir.resolve() / "pgdata"
        self.database = database
        self._server: Any = None

    def start(self) -> str:
        try:
            with warnings.catch_warnings():
                # platformdirs complains when XDG_RUNTIME_DIR is unset, and copes.
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
                import pgserver
                from pgserver.postgres_server import PostgresServer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
                "install the 'embedded' extra (pip install -e '.[embedded]')"
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.data_dir)
        # pgserver narrates every pg_ctl call at INFO; its warnings are what matter.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with PostgresServer._lock:
            _forget_dead_users(self.data_dir)
        # cleanup_mode="stop" stops the server when we let go of it.
        self._server = pgserver.get_server(  # type: ignore[attr-defined]
            str(self.data_dir), cleanup_mode="stop"
        )
        if not self.database.isidentifier():
            raise ValueError("embedded database name must be a plain identifier")
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}';"  # noqa: S608
        exists = self._server.psql(query)
        if "1 row" not in exists:
            self._server.psql(f'CREATE DATABASE "{self.database}";')
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        socket_dir = str(self._server.get_uri()).split("host=")[-1].split("&")[0]
        return f"postgresql+asyncpg://postgres@/{self.database}?host={quote(socket_dir)}"

    def stop(self) -> None:
        if self._server is not None:
            log.info("stopping embedded PostgreSQL")
            self._server.cleanup()
            self._server = None


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
    if not _alive(pid) or _live_users(pgdata):
        return False
    os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    deadline = time.monotonic() + patience
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def _live_users(pgdata: Path) -> list[int]:
    """The live processes pgserver recorded as using this PostgreSQL."""
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        return []
    return [pid for pid in pids if isinstance(pid, int) and _alive(pid)]


def _forget_dead_users(pgdata: Path) -> None:
    """Drop processes that died without letting go from pgserver's list of users.

    pgserver stops PostgreSQL when its last recorded user lets go; a user that
    was killed stays on the list and would keep PostgreSQL running forever.
    """
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        handles.write_text(json.dumps(_live_users(pgdata)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
