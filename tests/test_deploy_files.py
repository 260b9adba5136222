"""The deployment files say what the README promises (no Docker engine needed).

docker-compose.yml: PostgreSQL and Redis with healthchecks, a one-shot
migration the servers wait for, two replicas behind a proxy, localstripe only
in the dev profile, secrets required. Dockerfile: slim, non-root, healthcheck.
deploy/nginx.conf: WebSocket upgrades and sticky sessions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support.services import ROOT

SERVERS = ("server1", "server2")
REQUIRED_SECRETS = ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> str:
    # Instructions only: comments dropped, continued lines joined.
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _instructions(dockerfile: str, name: str) -> list[str]:
    return [
        line.strip()[len(name) :].strip()
        for line in dockerfile.splitlines()
        if line.strip().upper().startswith(name + " ")
    ]


def test_compose_runs_postgres_and_redis_with_healthchecks(compose):
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name


def test_compose_migrates_once_before_the_servers_start(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "-m", "server", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVERS:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_compose_runs_two_replicas_sharing_postgres_and_redis(compose):
    services = compose["services"]
    for name in SERVERS:
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://"), name
        assert "@postgres:5432/" in environment["DATABASE_URL"], name
        assert environment["REDIS_URL"].startswith("redis://redis:6379"), name
        assert environment["HOST"] == "0.0.0.0", name
        assert services[name]["build"]["target"] == "runtime", name


def test_compose_requires_the_secrets(compose):
    environment = compose["services"]["server1"]["environment"]
    for name in (*REQUIRED_SECRETS, "JWT_SECRET"):
        assert re.fullmatch(rf"\$\{{{name}:\?.+\}}", environment[name]), name


def test_compose_fronts_the_replicas_with_the_proxy(compose):
    proxy = compose["services"]["proxy"]
    assert any(str(port).endswith(":8080") for port in proxy["ports"])
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert set(SERVERS) <= set(proxy["depends_on"])
    assert proxy["healthcheck"]["test"]


def test_localstripe_is_for_development_only(compose):
    services = compose["services"]
    stand_in = services["localstripe"]
    assert stand_in["profiles"] == ["dev"]
    assert stand_in["build"]["target"] == "dev"
    assert stand_in["command"][:3] == ["python", "-m", "server.devtools.stripe_standin"]
    assert "0.0.0.0" in stand_in["command"]
    assert services["localstripe-webhook"]["profiles"] == ["dev"]
    for name, service in services.items():
        if "profiles" not in service:
            assert service.get("build", {}).get("target") != "dev", name


def test_dockerfile_builds_a_slim_non_root_image(dockerfile):
    stages = _instructions(dockerfile, "FROM")
    assert stages[0] in ("${PYTHON_IMAGE} AS build", "python:3.12-slim AS build")
    assert "${PYTHON_IMAGE} AS base" in stages
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in dockerfile
    users = _instructions(dockerfile, "USER")
    assert users, "no USER instruction"
    assert users[-1] not in ("root", "0", "0:0")
    last_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert last_stage.startswith("base AS runtime"), "the default target must be production"


def test_dockerfile_installs_the_locked_wheel_without_dev_tools(dockerfile):
    build_stage = dockerfile.split("\nFROM build AS build-dev")[0]
    syncs = [line for line in _instructions(build_stage, "RUN") if "uv sync" in line]
    assert syncs, "the image installs from uv.lock"
    for sync in syncs:
        assert "--frozen" in sync and "--no-dev" in sync, sync
        assert "--group" not in sync, sync
    assert "--no-editable" in syncs[-1], "the project goes in as a wheel"
    assert "pip install -e" not in dockerfile
    # The production stage copies only the virtualenv: no source tree, no stand-in.
    base_stage = dockerfile.split("\nFROM ${PYTHON_IMAGE} AS base")[1].split("\nFROM base AS dev")[
        0
    ]
    assert _instructions(base_stage, "COPY") == ["--from=build /opt/venv /opt/venv"]
    assert "localstripe" not in base_stage and "standin" not in base_stage


def test_dockerfile_serves_with_a_healthcheck(dockerfile):
    assert 'CMD ["python", "-m", "server", "serve"]' in dockerfile
    assert "HOST=0.0.0.0" in dockerfile
    healthchecks = _instructions(dockerfile, "HEALTHCHECK")
    assert healthchecks, "no HEALTHCHECK"
    assert "/healthz" in healthchecks[0]
    assert "python" in healthchecks[0]
    assert "curl" not in dockerfile


def test_dockerfile_copies_what_the_build_needs(dockerfile):
    copies = " ".join(_instructions(dockerfile, "COPY"))
    # The migrations and the Socket.IO bundle are package data (server/...).
    for path in ("server", "pyproject.toml", "uv.lock", "README.md", "LICENSE"):
        assert re.search(rf"(^|\s){re.escape(path)}(\s|$)", copies), path
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", ".env"} <= set(ignored)
    assert "uv.lock" not in ignored


def test_nginx_passes_websocket_upgrades_and_keeps_sessions_sticky():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"map \$http_upgrade \$connection_upgrade", conf)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", conf)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", conf)
    assert re.search(r"proxy_http_version\s+1\.1;", conf)
    upstream = re.search(r"upstream \w+ \{(.*?)\}", conf, re.S)
    assert upstream is not None
    assert re.search(r"^\s*(ip_hash|hash \S+ consistent|sticky .+);", upstream.group(1), re.M)
    for name in SERVERS:
        assert f"server {name}:8080" in upstream.group(1)
    assert re.search(r"listen\s+8080;", conf)


def test_the_example_env_names_every_required_secret():
    example = Path(ROOT / "deploy" / "example.env").read_text()
    for name in (*REQUIRED_SECRETS, "JWT_SECRET"):
        assert re.search(rf"^{name}=\S+", example, re.M), name


def test_metrics_stay_inside_the_network(compose):
    services = compose["services"]
    for name in SERVERS:
        environment = services[name]["environment"]
        port = environment["METRICS_PORT"]
        assert port != environment["PORT"], name
        assert str(port) in [str(p) for p in services[name].get("expose", [])], name
        assert "ports" not in services[name], name
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
