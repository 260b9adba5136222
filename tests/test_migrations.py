"""Alembic owns the schema: the models and the migration history agree, both ways."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from server.core.db import Database
from server.core.migrations import current_revision, downgrade, head_revision, upgrade
from server.core.system_pg import find_binaries
from server.models import Base
from tests.support.services import ROOT, private_tmp_dir


@pytest.fixture
async def scratch_db(test_database):
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(test_database.admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    db = Database()
    db.open(test_database.url.rsplit("/", 1)[0] + f"/{name}", pool_size=1)
    yield db
    await db.dispose()
    conn = await asyncpg.connect(test_database.admin_dsn)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def _diff(db: Database) -> list:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "compare_server_default": True}
                ),
                Base.metadata,
            )
        )


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_models_match_the_migrated_schema(scratch_db):
    await upgrade(scratch_db.engine)
    assert await current_revision(scratch_db.engine) == head_revision()
    assert await _diff(scratch_db) == []


async def test_downgrade_to_base_and_back(scratch_db):
    await upgrade(scratch_db.engine)
    await downgrade(scratch_db.engine, "base")
    assert await _tables(scratch_db) == {"alembic_version"}
    assert await current_revision(scratch_db.engine) is None
    await upgrade(scratch_db.engine)
    assert set(Base.metadata.tables) <= await _tables(scratch_db)
    assert await _diff(scratch_db) == []


async def test_upgrade_is_idempotent(scratch_db):
    await upgrade(scratch_db.engine)
    await upgrade(scratch_db.engine)
    assert await current_revision(scratch_db.engine) == head_revision()


def test_one_linear_history():
    from alembic.script import ScriptDirectory

    from server.core.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


@pytest.mark.parametrize("backend", ["pgserver", "system"])
def test_migrate_command_uses_the_embedded_database_when_no_url(tmp_path: Path, backend: str):
    """With DATABASE_URL unset, `migrate` starts a private PostgreSQL under DATA_DIR.

    With pgserver, or with the machine's initdb/pg_ctl (forced here with
    AUCTION_EMBEDDED_PG; Python 3.13 has no pgserver and uses them by itself).
    """
    if backend == "pgserver":
        pytest.importorskip("pgserver", reason="pgserver is not installed (no Python 3.13 build)")
    elif find_binaries() is None:
        pytest.skip("no initdb/pg_ctl on this machine (apt-get install postgresql)")
    data = private_tmp_dir("auction-migrate-") / "data"
    env = {
        "AUCTION_EMBEDDED_PG": backend,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATA_DIR": str(data),
        "STRIPE_SECRET_KEY": "sk_test_" + "x" * 20,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "x" * 20,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "x" * 20,
        "JWT_SECRET": "j" * 40,
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "server", "migrate"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "migrated to head" in result.stdout
        assert (data / "pgdata" / "PG_VERSION").exists()
        # The private server is stopped on exit: nothing listens on its socket any more.
        assert not list((data / "pgdata").glob("postmaster.pid"))
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
