"""The embedded PostgreSQL (pgserver) stops with its server, even after a server was killed.

`scripts/dev` promises that Ctrl-C leaves no process behind; these run real
server-like child processes against a real embedded PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from server.core.embedded_pg import stop_orphaned
from tests.support.services import ROOT

# Starts the embedded PostgreSQL, prints the postmaster's pid, then either lets go
# of it (the way the server does on shutdown) or hangs until it is killed.
CHILD = """
import sys, time
from pathlib import Path
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


def _user(data_dir: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), mode],
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


def test_embedded_postgres_never_outlives_its_servers(tmp_path):
    data_dir = tmp_path / "var"
    postmaster = 0
    try:
        # A server that is killed cannot stop its PostgreSQL...
        killed, postmaster = _user(data_dir, "hang")
        _kill(killed)
        assert _alive(postmaster)

        # ...but the next one that exits cleanly does, despite the dead one on pgserver's list.
        clean, same_postmaster = _user(data_dir, "exit")
        assert same_postmaster == postmaster
        assert _reap(clean) == 0
        assert _gone_within(postmaster, 15)

        # And when the last server was killed, stop_orphaned (scripts/dev's last step) does.
        killed, postmaster = _user(data_dir, "hang")
        _kill(killed)
        assert _alive(postmaster)
        assert stop_orphaned(data_dir) is True
        assert not _alive(postmaster)
        assert stop_orphaned(data_dir) is False
    finally:
        if postmaster and _alive(postmaster):
            os.kill(postmaster, signal.SIGQUIT)


def test_stop_orphaned_leaves_a_postgres_in_use_alone(tmp_path):
    data_dir = tmp_path / "var"
    user, postmaster = _user(data_dir, "hang")
    try:
        assert stop_orphaned(data_dir) is False
        assert _alive(postmaster)
    finally:
        _kill(user)
        stop_orphaned(data_dir)
    assert not _alive(postmaster)


def test_stop_orphaned_without_an_embedded_postgres_does_nothing(tmp_path):
    assert stop_orphaned(tmp_path) is False
