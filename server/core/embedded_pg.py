"""A private PostgreSQL under DATA_DIR, for machines that have none (pgserver)."""

from __future__ import annotations

import logging
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
            import pgserver
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
                "install the 'embedded' extra (pip install -e '.[embedded]')"
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.data_dir)
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
