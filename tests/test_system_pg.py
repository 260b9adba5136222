"""The embedded PostgreSQL's fallback: finding the machine's PostgreSQL, and saying
clearly what to install when there is none.

(Running it for real is in tests/test_embedded_pg.py and tests/test_migrations.py.)
"""

from __future__ import annotations

import logging
import stat
import sys
from pathlib import Path

import pytest

from server.core import system_pg
from server.core.embedded_pg import EmbeddedPostgres
from server.core.system_pg import SystemPostgres, find_binaries


def _fake_install(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres", "psql"):
        program = folder / name
        program.write_text("#!/bin/sh\nexit 1\n")
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return folder


def test_the_newest_complete_installation_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    root = tmp_path / "usr" / "lib" / "postgresql"
    monkeypatch.setattr(system_pg, "SEARCH_PATTERNS", (str(root / "*" / "bin"),))
    assert find_binaries() is None
    _fake_install(root / "9.6" / "bin")
    newest = _fake_install(root / "16" / "bin")
    _fake_install(root / "15" / "bin")
    incomplete = root / "17" / "bin"
    incomplete.mkdir(parents=True)
    (incomplete / "pg_ctl").write_text("")  # initdb, postgres, psql missing
    assert find_binaries() == newest
    # PATH first: a PostgreSQL the user put there wins over the distribution's.
    on_path = _fake_install(tmp_path / "opt" / "pg" / "bin")
    monkeypatch.setenv("PATH", str(on_path))
    assert find_binaries() == on_path


@pytest.mark.parametrize("backend", ["system", "auto"])
def test_no_postgresql_at_all_says_what_to_install(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(system_pg, "SEARCH_PATTERNS", ())
    monkeypatch.setenv("AUCTION_EMBEDDED_PG", backend)
    monkeypatch.setitem(sys.modules, "pgserver", None)  # as on Python 3.13
    with pytest.raises(RuntimeError) as refusal:
        EmbeddedPostgres(tmp_path / "var").start()
    message = str(refusal.value)
    assert message.startswith("DATABASE_URL is not set and there is no PostgreSQL to embed")
    assert "pip install 'auction-payment-server[embedded]'" in message
    assert "apt-get install postgresql" in message and "brew install postgresql" in message
    assert not (tmp_path / "var" / "pgdata").exists()


def test_forcing_pgserver_without_it_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AUCTION_EMBEDDED_PG", "pgserver")
    monkeypatch.setitem(sys.modules, "pgserver", None)
    with pytest.raises(RuntimeError, match="pgserver is not installed"):
        EmbeddedPostgres(tmp_path / "var").start()


def test_a_data_dir_of_another_postgresql_version_is_refused(tmp_path):
    bindir = find_binaries()
    if bindir is None:
        pytest.skip("no initdb/pg_ctl on this machine (apt-get install postgresql)")
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(RuntimeError) as refusal:
        SystemPostgres(pgdata, bindir).start()
    assert "was made by PostgreSQL 9" in str(refusal.value)
    assert "DATA_DIR" in str(refusal.value)
    assert not (pgdata / "postmaster.pid").exists()


def test_the_command_line_says_it_in_one_line(tmp_path, monkeypatch, capsys):
    """`python -m server migrate` with nothing to embed: one line, exit 2, no traceback."""
    from server.__main__ import main

    for name, value in {
        "STRIPE_SECRET_KEY": "sk_test_" + "x" * 20,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "x" * 20,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "x" * 20,
        "JWT_SECRET": "j" * 40,
        "DATA_DIR": str(tmp_path / "var"),
        "AUCTION_EMBEDDED_PG": "system",
        "PATH": str(tmp_path / "empty"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(system_pg, "SEARCH_PATTERNS", ())
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # `migrate` configures logging
    try:
        assert main(["migrate"]) == 2
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: DATABASE_URL is not set and there is no PostgreSQL to embed")
    assert "\n" not in err
