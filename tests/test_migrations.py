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
from server.models import Base
from tests.support.services import ROOT


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


def test_migrate_command_uses_the_embedded_database_when_no_url(tmp_path: Path):
    """With DATABASE_URL unset, `migrate` starts a private PostgreSQL under DATA_DIR."""
    pytest.importorskip("pgserver", reason="the embedded extra (pgserver) is not installed")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATA_DIR": str(tmp_path / "data"),
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
        assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()
        # The private server is stopped on exit: nothing listens on its socket any more.
        assert not list((tmp_path / "data" / "pgdata").glob("postmaster.pid"))
    finally:
        shutil.rmtree(tmp_path / "data", ignore_errors=True)
