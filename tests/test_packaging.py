"""A wheel installs and runs without the source tree.

The wheel is built from an sdist of a copy of the sources (so both the sdist and
the wheel must carry the package data), installed with its locked dependencies
into a fresh virtualenv outside the repository, and then that installation alone
migrates a fresh database on the real PostgreSQL and serves the demo page, the
Socket.IO browser bundle and `/readyz`.

Nothing leaks from the checkout: the commands run in an empty folder with a
minimal environment (no PYTHONPATH), and the test asserts that `server` is
imported from the fresh virtualenv and that no path of the repository is on
`sys.path`. The dependencies come from uv's cache (warm after `scripts/test` has
synced `.venv`), so a full install takes seconds, not minutes.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import asyncpg
import pytest

from server.web.pages import SOCKETIO_DIR
from tests.support.services import ROOT, free_port

pytestmark = pytest.mark.packaging


def _uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        pytest.fail("uv is part of the test dependencies (pyproject.toml); run scripts/test")
    return str(find_uv_bin())


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180):
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _copy_sources(into: Path) -> Path:
    """What a release is built from: the committed build inputs, no caches, no venv."""
    source = into / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "server", source / "server", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return source


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the wheel and its locked runtime dependencies.

    No extras: a single node needs neither redis nor pgserver (DATABASE_URL is set).
    """
    uv = _uv()
    work = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    source = _copy_sources(work)
    dist = work / "dist"
    # sdist first, then the wheel from the unpacked sdist: both must carry the package data.
    _run(uv, "build", "--quiet", "--out-dir", dist, source, cwd=work)
    wheels = list(dist.glob("*.whl"))
    sdists = list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    requirements = work / "requirements.txt"
    locked = _run(
        uv, "export", "--frozen", "--no-dev", "--no-emit-project",
        "--no-header", "--project", ROOT, cwd=work,
    )  # fmt: skip
    requirements.write_text(locked.stdout)
    venv = work / "venv"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv, cwd=work)
    _run(
        uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python",
        "-r", requirements, wheels[0], cwd=work,
    )  # fmt: skip
    print(f"\nwheel built and installed in {time.monotonic() - started:.1f} s")
    (work / "wheel.json").write_text(json.dumps({"wheel": str(wheels[0]), "sdist": str(sdists[0])}))
    return venv


def _environment(venv: Path, **settings: str) -> dict[str, str]:
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(venv.parent),
        "LANG": "C.UTF-8",
        "STRIPE_SECRET_KEY": "sk_test_" + "w" * 24,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "w" * 24,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "w" * 24,
        "JWT_SECRET": "w" * 40,
        **settings,
    }


def test_the_wheel_and_sdist_carry_migrations_static_files_and_licences(installed: Path):
    paths = json.loads((installed.parent / "wheel.json").read_text())
    names = set(zipfile.ZipFile(paths["wheel"]).namelist())
    expected = {
        "server/migrations/env.py",
        "server/migrations/script.py.mako",
        "server/static/index.html",
        "server/static/vendor/socket.io-client/socket.io.min.js",
        "server/static/vendor/socket.io-client/LICENSE",
    }
    assert expected <= names
    assert any(n.startswith("server/migrations/versions/0001_") for n in names)
    assert not any(n.startswith(("tests/", "alembic/", "node_modules/")) for n in names)
    with tarfile.open(paths["sdist"]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"server/migrations/script.py.mako", "LICENSE", "pyproject.toml"} <= members


def test_redis_url_without_the_redis_extra_is_one_clear_line(installed: Path, tmp_path: Path):
    env = _environment(installed, REDIS_URL="redis://127.0.0.1:6379/0")
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-m", "server", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: REDIS_URL is set but the redis package is not installed: "
        "pip install 'auction-payment-server[redis]'"
    )


def test_the_installed_server_is_not_the_checkout(installed: Path, tmp_path: Path):
    probe = (
        "import json, sys, server, server.migrations;"
        "print(json.dumps({'server': server.__file__, 'path': sys.path}))"
    )
    result = _run(
        installed / "bin" / "python", "-c", probe, cwd=tmp_path, env=_environment(installed)
    )
    seen = json.loads(result.stdout)
    assert Path(seen["server"]).is_relative_to(installed)
    assert not [p for p in seen["path"] if p and Path(p).resolve().is_relative_to(ROOT)]
    version = _run(
        installed / "bin" / "python", "-m", "server", "--version", cwd=tmp_path,
        env=_environment(installed),
    )  # fmt: skip
    assert version.stdout.strip() == "auction-payment-server 0.1.0"


async def test_the_installed_server_migrates_and_serves(
    installed: Path, tmp_path: Path, test_database
):
    name = f"{test_database.name}_wheel"
    admin = await asyncpg.connect(test_database.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = test_database.url.rsplit("/", 1)[0] + f"/{name}"
    port = free_port()
    env = _environment(installed, DATABASE_URL=url, HOST="127.0.0.1", PORT=str(port))
    python = installed / "bin" / "python"
    server = None
    try:
        migrated = _run(python, "-m", "server", "migrate", cwd=tmp_path, env=env)
        assert "migrated to head" in migrated.stdout
        server = subprocess.Popen(
            [str(python), "-m", "server", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = _get_when_up(f"http://127.0.0.1:{port}/readyz", server)
        assert json.loads(ready)["status"] == "ready"
        page = _get(f"http://127.0.0.1:{port}/")
        assert '<script defer src="/vendor/socket.io.min.js">' in page
        bundle = _get(f"http://127.0.0.1:{port}/vendor/socket.io.min.js")
        assert bundle == (SOCKETIO_DIR / "socket.io.min.js").read_text()
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
        assert server.returncode == 0, stderr
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        admin = await asyncpg.connect(test_database.admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200, url
        return str(response.read().decode())


def _get_when_up(url: str, process: subprocess.Popen[str], patience: float = 30) -> str:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the installed server exited: {process.communicate()[1]}")
        try:
            return _get(url)
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {patience} s")


def test_the_vendored_socketio_bundle_is_the_pinned_one():
    """The committed bundle is the version package.json pins (and npm's copy, when present)."""
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["socket.io-client"]
    bundle = (SOCKETIO_DIR / "socket.io.min.js").read_text()
    assert f"Socket.IO v{pinned}\n" in bundle[:100]
    licence = (SOCKETIO_DIR / "LICENSE").read_text()
    for package in ("socket.io-client", "engine.io-client", "engine.io-parser", "socket.io-parser"):
        assert package in licence
    npm_copy = ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    if npm_copy.is_file():
        assert npm_copy.read_text() == bundle, "node_modules has another socket.io-client"


def test_the_stripe_api_version_is_the_documented_one():
    """A new stripe major changes the API version: pyproject, README and gateway must follow."""
    import stripe

    from server.payments import gateway

    assert stripe.VERSION.split(".")[0] == "16"
    assert stripe.api_version == "2026-10-28.endive"
    assert f"**`{stripe.api_version}`**" in (ROOT / "README.md").read_text()
    assert f"Stripe API version {stripe.api_version}" in (gateway.__doc__ or "")
    assert '"stripe>=16,<17"' in (ROOT / "pyproject.toml").read_text()
