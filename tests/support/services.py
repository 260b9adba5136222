"""The real services the suite runs against: PostgreSQL, Redis and localstripe."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]


def private_tmp_dir(prefix: str) -> Path:
    """A fresh folder under the system's temp dir, outside pytest's `tmp_path`.

    For an embedded PostgreSQL run by root: it then runs as another user, which
    must be able to reach its data, and every pytest session started on the
    machine resets pytest's own temp folder to 0700. The caller removes it.
    """
    return Path(tempfile.mkdtemp(prefix=prefix))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class TestDatabase:
    """A fresh database for one test run, on whichever PostgreSQL is available.

    `TEST_DATABASE_URL` names a server (its database part is replaced), else
    127.0.0.1:5432 when it answers, else an embedded PostgreSQL (pgserver).
    """

    def __init__(self) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under xdist
        self.name = f"auction_test_{worker}{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._embedded = None
        self.origin = ""
        explicit = os.environ.get("TEST_DATABASE_URL")
        if explicit:
            base = explicit.replace("postgresql+asyncpg://", "postgresql://")
            self.origin = "TEST_DATABASE_URL"
        elif _answers("127.0.0.1", 5432):
            base = "postgresql://postgres@127.0.0.1:5432/postgres"
            self.origin = "PostgreSQL on 127.0.0.1:5432"
        else:
            from server.core.embedded_pg import EmbeddedPostgres

            # One embedded PostgreSQL per xdist worker: a worker stops its own at the end.
            data_dir = Path(os.environ.get("TEST_DATA_DIR", ROOT / "var" / "test")) / worker
            self._embedded = EmbeddedPostgres(data_dir, database="postgres")
            base = self._embedded.start().replace("postgresql+asyncpg://", "postgresql://")
            self.origin = f"embedded PostgreSQL under {data_dir}"
        self.admin_dsn = base
        parts = urlsplit(base)
        self.dsn = urlunsplit(parts._replace(path=f"/{self.name}"))
        self.url = self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    async def create(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()
        if self._embedded is not None:
            self._embedded.stop()


def redis_url() -> str | None:
    """`TEST_REDIS_URL`, else the Redis on 127.0.0.1:6379 when it answers."""
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        return explicit
    if _answers("127.0.0.1", 6379):
        return "redis://127.0.0.1:6379/0"
    return None


class LocalStripe:
    """localstripe in a child process, on a free port, state in memory."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "server.devtools.stripe_standin", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not _answers("127.0.0.1", self.port):
            if self._process.poll() is not None:
                raise RuntimeError("localstripe exited at start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("localstripe did not start within 20 s")
            time.sleep(0.05)

    def pause(self) -> None:
        """SIGSTOP: Stripe hangs (connections are accepted, nothing is answered)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


#: Waits in tests are for something to happen, never a measure of speed: with several
#: pytest-xdist workers on a busy 2-core machine it can take a few times longer than on a
#: quiet one. The wait helpers (here, SocketClient.wait_for, ServerProcess.wait_ready)
#: allow PATIENCE times the timeout their caller names; a passing test never waits longer.
PATIENCE = float(os.environ.get("TEST_PATIENCE", "3"))


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll `predicate` (sync or async) until it returns something truthy."""
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
