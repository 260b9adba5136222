"""A private PostgreSQL run with the machine's own `initdb` and `pg_ctl`.

The fallback of the embedded database when pgserver cannot be installed (it has
no build for Python 3.13+). It behaves like pgserver, so `EmbeddedPostgres`,
`stop_orphaned` and `scripts/dev` treat both alike: data in `DATA_DIR/pgdata`,
a Unix socket only (no TCP port to collide with), and a list of the processes
using it in `pgdata/.handle_pids.json`; the last one to let go stops it.

PostgreSQL refuses to run as root. When we are root, `initdb`, `pg_ctl` and
therefore the server run as the system user `postgres` (which the distribution's
PostgreSQL package creates), and the folders above `DATA_DIR` are made traversable
(o+x) for it, as pgserver does with its own user.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import logging
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgresUnavailable(RuntimeError):
    """No embedded PostgreSQL can run here; the message says what to do instead."""


#: The system user that runs PostgreSQL when we are root.
RUN_AS_WHEN_ROOT = "postgres"
_PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")
#: A Unix socket path must fit in 107 bytes; ".s.PGSQL.5432" takes 14 of them.
_MAX_SOCKET_DIR = 90


#: Where distributions install PostgreSQL's server programs off PATH (Debian, RHEL).
SEARCH_PATTERNS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin")


def find_binaries() -> Path | None:
    """The folder with `initdb`, `pg_ctl`, `postgres` and `psql`, newest version first.

    PATH first (Homebrew, a source build), then the distributions' versioned folders,
    which Debian and Ubuntu keep off PATH.
    """
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in SEARCH_PATTERNS:
        found = [Path(folder) for folder in glob.glob(pattern)]
        candidates.extend(sorted(found, key=_version_key, reverse=True))
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in _PROGRAMS):
            return folder
    return None


def _version_key(folder: Path) -> tuple[int, ...]:
    """`.../postgresql/16/bin` sorts after `.../postgresql/9.6/bin`."""
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name)) or (0,)


class SystemPostgres:
    """`start()` returns the socket folder; `stop()` lets go (and stops it if last)."""

    def __init__(self, pgdata: Path, bindir: Path) -> None:
        self.pgdata = pgdata
        self.bindir = bindir
        self._user = _run_as()
        self.socket_dir: Path | None = None

    # --- public ----------------------------------------------------------------------------

    def start(self) -> Path:
        with self._locked():
            socket_dir = self._running_socket_dir()
            if socket_dir is None:
                self._prepare_pgdata()
                socket_dir = self._start_server()
            _update_users(self.pgdata, add=os.getpid())
        self.socket_dir = socket_dir
        return socket_dir

    def psql(self, database: str, sql: str) -> str:
        assert self.socket_dir is not None
        return self._run(
            "psql", "-h", str(self.socket_dir), "-U", "postgres", "-d", database, "-tAc", sql
        )

    def stop(self) -> None:
        if self.socket_dir is None:
            return
        with self._locked():
            if not _update_users(self.pgdata, remove=os.getpid()):
                self._pg_ctl("stop", "-m", "fast")
                if self.socket_dir != self.pgdata:  # a short one made under /tmp
                    shutil.rmtree(self.socket_dir, ignore_errors=True)
        self.socket_dir = None

    # --- the server ------------------------------------------------------------------------

    def _prepare_pgdata(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            made_by = (self.pgdata / "PG_VERSION").read_text().strip()
            have = self._major_version()
            if made_by != have:
                raise EmbeddedPostgresUnavailable(
                    f"{self.pgdata} was made by PostgreSQL {made_by}, but the PostgreSQL found "
                    f"in {self.bindir} is {have}: set DATA_DIR to another folder, or "
                    "DATABASE_URL to a PostgreSQL you run"
                )
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.pgdata)
        log.info("initializing the embedded PostgreSQL in %s (%s)", self.pgdata, self.bindir)
        self._run(
            "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync",
        )  # fmt: skip

    def _start_server(self) -> Path:
        socket_dir = self.pgdata
        if len(str(socket_dir)) > _MAX_SOCKET_DIR:
            socket_dir = Path(tempfile.mkdtemp(prefix="auction-pg-"))
            self._hand_over(socket_dir)
        options = f"-c listen_addresses='' -k {socket_dir}"
        log.info("starting the embedded PostgreSQL in %s", self.pgdata)
        self._pg_ctl("start", "-l", str(self.pgdata / "log"), "-o", options, "-t", "60")
        running = self._running_socket_dir()
        if running is None:
            raise RuntimeError(f"PostgreSQL did not start; see {self.pgdata / 'log'}")
        return running

    def _running_socket_dir(self) -> Path | None:
        """The socket folder of the live postmaster of `pgdata`, from postmaster.pid."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return Path(lines[4]) if len(lines) > 4 and lines[4] else None

    def _major_version(self) -> str:
        out = self._run("pg_ctl", "--version")  # "pg_ctl (PostgreSQL) 15.20 (Debian ...)"
        match = re.search(r"\) (\d+)", out)
        return match.group(1) if match else "unknown"

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.pgdata), "-w", *options)

    def _run(self, program: str, *args: str) -> str:
        run_as: dict[str, Any] = {}
        if self._user is not None:
            run_as = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        # Output to a file, not a pipe: pg_ctl's server keeps inherited pipes open.
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run(  # noqa: S603 - PostgreSQL's programs, our arguments
                [str(self.bindir / program), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                timeout=120,
                cwd="/",
                **run_as,
            )
            output.seek(0)
            text = output.read()
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {text.strip()[-2000:]}")
        return text

    # --- running as root -------------------------------------------------------------------

    def _hand_over(self, folder: Path) -> None:
        """Give `folder` to the PostgreSQL user and let it reach the folder (root only)."""
        if self._user is None:
            return
        os.chown(folder, self._user.pw_uid, self._user.pw_gid)
        folder.chmod(0o700)
        widened = []
        for parent in folder.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
                widened.append(str(parent))
        if widened:
            log.warning("made %s traversable (o+x) for the user %s", widened, RUN_AS_WHEN_ROOT)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time starts, joins or stops this PostgreSQL."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with (self.pgdata.parent / ".embedded-pg.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS_WHEN_ROOT)
    except KeyError:
        raise EmbeddedPostgresUnavailable(
            "the embedded PostgreSQL cannot run as root and there is no 'postgres' user "
            "to run it as: create one (useradd --system postgres), run as another user, "
            "or set DATABASE_URL"
        ) from None


def _update_users(pgdata: Path, *, add: int | None = None, remove: int | None = None) -> list[int]:
    """Edit the list of live processes using this PostgreSQL (pgserver's format); return it."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = [p for p in json.loads(path.read_text()) if isinstance(p, int)]
    except (OSError, ValueError, TypeError):
        pids = []
    pids = [p for p in pids if p != remove and process_alive(p)]
    if add is not None and add not in pids:
        pids.append(add)
    path.write_text(json.dumps(pids))
    return pids


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
