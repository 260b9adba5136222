"""Real server processes for tests: `python -m server serve` in a child process.

Each process logs JSON lines to its own file, so a test can read what it said
and a failing test can show it. `ServerProcess.request` has the same shape as
the in-process fixture's, so the factories work against either.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.clients import ServerHandle, SocketClient
from tests.support.services import PATIENCE, ROOT, free_port

#: Contract variables a developer's shell may have set; the child gets only ours.
_SPEC_VARIABLES = {
    "DATABASE_URL",
    "DATA_DIR",
    "HOST",
    "PORT",
    "REDIS_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "STRIPE_JS_URL",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "PAYMENT_WINDOW_SECONDS",
    "MAX_PAYMENT_ATTEMPTS",
    "BUYER_PREMIUM_BPS",
    "ANTI_SNIPING_WINDOW_SECONDS",
    "ANTI_SNIPING_EXTENSION_SECONDS",
    "EXPIRY_POLICY",
    "NONPAYMENT_STRIKES",
    "SMTP_URL",
    "CORS_ORIGINS",
    "LOG_LEVEL",
    "METRICS_TOKEN",
    "METRICS_PORT",
    "METRICS_HOST",
}


#: Every child still running; killed when the test run exits however it exits.
_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        if process.poll() is None:
            process.kill()


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any server configuration, plus `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _SPEC_VARIABLES and not key.startswith("AUCTION_")
    }
    env.update(settings)
    return env


class ServerProcess(ServerHandle):
    """One `python -m server serve` on a free port."""

    def __init__(
        self, name: str, settings: Mapping[str, str], log_dir: Path, make_token: Callable[..., str]
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.make_token = make_token
        self._env = child_environment({**settings, "HOST": "127.0.0.1", "PORT": str(self.port)})
        self._process: subprocess.Popen[bytes] | None = None
        self._sockets: list[SocketClient] = []
        #: True when SIGTERM was not enough and the process had to be killed.
        self.forced_stop = False

    # --- the process -----------------------------------------------------------------------

    def start(self) -> ServerProcess:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve"],
                cwd=ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _LIVE.add(self._process)
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until `/readyz` answers 200; fail with the process's log if it never does."""
        timeout *= PATIENCE
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.returncode is not None:
                    raise AssertionError(f"{self.name} exited ({self.returncode}):\n{self.log()}")
                try:
                    async with http.get(self.url + "/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} not ready in {timeout} s:\n{self.log()}")
                await asyncio.sleep(0.1)

    def signal(self, signum: int) -> None:
        assert self._process is not None
        self._process.send_signal(signum)

    async def wait_exit(self, timeout: float) -> int:
        timeout *= PATIENCE
        deadline = time.monotonic() + timeout
        while (code := self.returncode) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout} s")
            await asyncio.sleep(0.05)
        return code

    async def kill(self) -> None:
        """SIGKILL: no shutdown at all, as when a machine dies."""
        self.signal(signal.SIGKILL)
        await self.wait_exit(5)

    async def stop(self) -> None:
        """Disconnect the test's clients, then SIGTERM (SIGKILL if it hangs). Idempotent."""
        for client in self._sockets:
            await client.disconnect()
        if self._process is None or self.returncode is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            await self.wait_exit(15)
        except AssertionError:
            self.forced_stop = True
            self._process.kill()
            self._process.wait(5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_entries(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (anything else is skipped)."""
        entries = []
        for line in self.log().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    # --- talking to it --------------------------------------------------------------------


class ProcessGroup:
    """Server processes of one test, sharing `settings`; `stop_all` ends every one.

    Short sweep and retry intervals keep the tests quick; each group has a
    Redis channel of its own so parallel runs do not hear each other.
    """

    def __init__(
        self, settings: Mapping[str, str], log_dir: Path, make_token: Callable[..., str]
    ) -> None:
        self.settings = {
            "AUCTION_SOCKETIO_CHANNEL": f"auction-mp-{uuid.uuid4().hex[:10]}",
            "AUCTION_SWEEP_INTERVAL_SECONDS": "0.25",
            "AUCTION_OUTBOX_INTERVAL_SECONDS": "0.2",
            "AUCTION_STRIPE_RETRY_BASE_SECONDS": "0.2",
            **settings,
        }
        self.log_dir = log_dir
        self.make_token = make_token
        self.started: list[ServerProcess] = []

    async def start(self, count: int = 2, **settings: str) -> list[ServerProcess]:
        """Start `count` more processes side by side and wait until each is ready."""
        names = "abcdefgh"[len(self.started) : len(self.started) + count]
        merged = {**self.settings, **settings}
        batch = [ServerProcess(name, merged, self.log_dir, self.make_token) for name in names]
        self.started.extend(batch)
        for process in batch:
            process.start()
        await asyncio.gather(*(process.wait_ready() for process in batch))
        return batch

    async def stop_all(self) -> None:
        """Stop every process, then print their logs (pytest shows them when a test fails)."""
        await asyncio.gather(*(process.stop() for process in self.started))
        for process in self.started:
            forced = " (did not stop on SIGTERM: killed)" if process.forced_stop else ""
            print(f"--- log of process {process.name}{forced} ---\n{process.log()}")
        for process in self.started:
            process.check_contract()
