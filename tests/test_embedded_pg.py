"""The embedded PostgreSQL stops with its server, even after a server was killed.

`scripts/dev` promises that Ctrl-C leaves no process behind; these run real
server-like child processes against a real embedded PostgreSQL, once with
pgserver and once with the machine's initdb/pg_ctl (the fallback Python 3.13
needs), the latter chosen the way a machine without pgserver chooses it:
pgserver made unimportable in the child.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.core.embedded_pg import stop_orphaned
from server.core.system_pg import find_binaries
from tests.support.services import ROOT, private_tmp_dir

HAVE_PGSERVER = importlib.util.find_spec("pgserver") is not None

BACKENDS = [
    pytest.param(
        "pgserver",
        marks=pytest.mark.skipif(
            not HAVE_PGSERVER, reason="pgserver is not installed (it has no Python 3.13 build)"
        ),
    ),
    pytest.param(
        "system",
        marks=pytest.mark.skipif(
            find_binaries() is None,
            reason="no initdb/pg_ctl on this machine (apt-get install postgresql)",
        ),
    ),
]

# Starts the embedded PostgreSQL, prints the postmaster's pid, then either lets go
# of it (the way the server does on shutdown) or hangs until it is killed.
CHILD = """
import sys, time
from pathlib import Path
if sys.argv[3] == "system":
    sys.modules["pgserver"] = None  # as on Python 3.13, where it cannot be installed
from server.core.embedded_pg import EmbeddedPostgres

data_dir = Path(sys.argv[1])
pg = EmbeddedPostgres(data_dir)
pg.start()
print((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0], flush=True)
if sys.argv[2] == "hang":
    time.sleep(600)
pg.stop()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _user(data_dir: Path, mode: str, backend: str) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), mode, backend],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if not line.isdigit():
        _kill(child)
        raise AssertionError(f"the embedded PostgreSQL did not start (got {line!r})")
    return child, int(line)


def _kill(child: subprocess.Popen[str]) -> None:
    child.kill()
    _reap(child)


def _reap(child: subprocess.Popen[str], timeout: float = 60) -> int:
    status = child.wait(timeout=timeout)
    if child.stdout is not None:
        child.stdout.close()
    return status


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = private_tmp_dir("auction-embedded-")
    yield folder / "var"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedded_postgres_never_outlives_its_servers(data_dir, backend):
    postmaster = 0
    try:
        # A server that is killed cannot stop its PostgreSQL...
        killed, postmaster = _user(data_dir, "hang", backend)
        _kill(killed)
        assert _alive(postmaster)

        # ...but the next one that exits cleanly does, despite the dead one on pgserver's list.
        clean, same_postmaster = _user(data_dir, "exit", backend)
        assert same_postmaster == postmaster
        assert _reap(clean) == 0
        assert _gone_within(postmaster, 15)

        # And when the last server was killed, stop_orphaned (scripts/dev's last step) does.
        killed, postmaster = _user(data_dir, "hang", backend)
        _kill(killed)
        assert _alive(postmaster)
        assert stop_orphaned(data_dir) is True
        assert not _alive(postmaster)
        assert stop_orphaned(data_dir) is False
    finally:
        if postmaster and _alive(postmaster):
            os.kill(postmaster, signal.SIGQUIT)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_orphaned_leaves_a_postgres_in_use_alone(data_dir, backend):
    user, postmaster = _user(data_dir, "hang", backend)
    try:
        assert stop_orphaned(data_dir) is False
        assert _alive(postmaster)
    finally:
        _kill(user)
        stop_orphaned(data_dir)
    assert not _alive(postmaster)


def test_stop_orphaned_without_an_embedded_postgres_does_nothing(tmp_path):
    assert stop_orphaned(tmp_path) is False
