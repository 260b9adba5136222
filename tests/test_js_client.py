"""The JavaScript client in clients/js: its own tests against this real server, its types.

`node --test` runs clients/js/tests/ with the URL of a server started here (the
real app, PostgreSQL, localstripe) and the secret to sign tokens with; a failing
JS test fails this test with node's report. Without Node.js these are skipped,
saying so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.contract.asyncapi import document
from server.web.pages import STATIC_DIR
from tests.conftest import JWT_SECRET
from tests.support.factories import create_lot

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed: apt-get install nodejs"
)


def node_major() -> int:
    assert NODE is not None
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True)
    return int(version.stdout.strip().lstrip("v").split(".")[0])


async def test_the_js_client_passes_its_own_tests_against_the_server(start_server, db):
    installed = (ROOT / "node_modules" / "socket.io-client").is_dir()
    if node_major() < 20 and not installed:
        pytest.skip("Node.js older than 20 without node_modules: run `npm ci` or use Node 20+")
    server = await start_server(anti_sniping_window_seconds=0)
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        # Without node_modules the tests use the browser bundle the server ships, which
        # needs a global WebSocket (built in from Node 22; a flag on Node 20 and 21).
        *(["--experimental-websocket"] if node_major() in (20, 21) else []),
        "--test",
        "--test-reporter=spec",
        "tests/",
        cwd=CLIENT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AUCTION_URL": server.url,
            "AUCTION_JWT_SECRET": JWT_SECRET,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    report = output.decode(errors="replace")
    print(report)
    assert process.returncode == 0, report
    counts = dict(re.findall(r"^\u2139 (tests|pass|fail|skipped) (\d+)$", report, re.MULTILINE))
    assert int(counts["tests"]) > 0 and counts["fail"] == "0" and counts["skipped"] == "0", counts


def test_the_committed_types_are_generated_from_the_asyncapi_document(tmp_path):
    source = tmp_path / "asyncapi.json"
    source.write_text(json.dumps(document()))
    assert NODE is not None
    fresh = subprocess.run(
        [NODE, "scripts/generate-types.mjs", str(source)],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    committed = (CLIENT / "types" / "events.d.ts").read_text()
    assert committed == fresh, (
        "clients/js/types/events.d.ts is stale: run `.venv/bin/python -m server.contract.asyncapi "
        "> /tmp/asyncapi.json && node clients/js/scripts/generate-types.mjs /tmp/asyncapi.json "
        "> clients/js/types/events.d.ts`"
    )


def test_the_demo_page_serves_the_client_package_unchanged():
    """The page's copy is package data (it works from a wheel); it must be the package's file."""
    served = STATIC_DIR / "vendor" / "auction-client" / "auction-client.js"
    assert served.read_bytes() == (CLIENT / "src" / "auction-client.js").read_bytes(), (
        "run `cp clients/js/src/auction-client.js server/static/vendor/auction-client/`"
    )


async def test_the_js_client_rejoins_on_a_resync_hint_unless_it_saw_that_seq(start_server, db):
    """`resync` follows a Redis outage; here the server's hub sends it, as the outage code does."""
    installed = (ROOT / "node_modules" / "socket.io-client").is_dir()
    if node_major() < 20 and not installed:
        pytest.skip("Node.js older than 20 without node_modules: run `npm ci` or use Node 20+")
    server = await start_server()
    lot = await create_lot(server)
    assert NODE is not None
    driver = await asyncio.create_subprocess_exec(
        NODE,
        *(["--experimental-websocket"] if node_major() in (20, 21) else []),
        "tests/resync-driver.mjs",
        cwd=CLIENT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AUCTION_URL": server.url,
            "AUCTION_JWT_SECRET": JWT_SECRET,
            "LOT_ID": str(lot["id"]),
        },
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert driver.stdin is not None and driver.stdout is not None
    lines: list[dict[str, int | None]] = []

    async def next_line() -> dict[str, int | None]:
        assert driver.stdout is not None
        line = await asyncio.wait_for(driver.stdout.readline(), timeout=15)
        assert line, f"the driver stopped; it said {lines}"
        lines.append(json.loads(line))
        return lines[-1]

    async def hint(seq: int) -> None:
        data = {"lot_id": lot["id"], "seq": seq, "reason": "redis_reconnected"}
        await server.context.hub.to_lot(lot["id"], "resync", data)

    try:
        seq = lot["seq"]
        assert [await next_line(), await next_line()] == [{"snapshot": seq}, {"joined": seq}]
        await hint(seq)  # nothing was missed: no re-join
        assert await next_line() == {"resync": seq}
        await hint(0)  # the server could not read the seq: join again
        assert [await next_line() for _ in range(3)] == [
            {"resync": 0},
            {"sent": "join_lot"},
            {"snapshot": seq},
        ]
        await hint(seq)
        assert await next_line() == {"resync": seq}
        assert sum("snapshot" in line for line in lines) == 2, lines
    finally:
        driver.stdin.close()
        await asyncio.wait_for(driver.wait(), timeout=15)
