"""deploy/nginx.conf in front of two real server replicas, with a real nginx.

The compose file's proxy config is rendered for this machine (the replicas'
host names become local ports, temp paths go under tmp_path) and nothing else
is changed, then checked for what Socket.IO needs from a proxy: WebSocket
upgrades, sticky sessions for long-polling, the Host header engine.io checks
Origin against, and the server's own JSON 413.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import socketio

from server.devtools.seed import seed_demo
from tests.conftest import RunningServer
from tests.support.services import ROOT, free_port

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(path)), None
)
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@dataclass
class Proxy:
    url: str
    replicas: tuple[RunningServer, RunningServer]

    def engineio_sessions(self) -> list[int]:
        return [len(replica.context.hub.sio.eio.sockets) for replica in self.replicas]


def render_config(ports: tuple[int, int], listen: int, scratch: Path) -> str:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf, replaced = re.subn(
        r"server (server[12]):8080",
        lambda m: f"server 127.0.0.1:{ports[int(m.group(1)[-1]) - 1]}",
        conf,
    )
    assert replaced == 2, "deploy/nginx.conf no longer names server1:8080 and server2:8080"
    conf, replaced = re.subn(r"listen\s+8080;", f"listen 127.0.0.1:{listen};", conf)
    assert replaced == 1, "deploy/nginx.conf no longer listens on 8080"
    temp_paths = "".join(
        f"    {kind}_temp_path {scratch / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return conf.replace("http {\n", "http {\n" + temp_paths, 1)


async def _answers(url: str, http) -> bool:  # type: ignore[no-untyped-def]
    try:
        async with http.get(url) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
async def proxy(start_server, tmp_path, db) -> AsyncIterator[Proxy]:
    if NGINX is None:
        pytest.skip(
            "nginx is not installed (apt-get install nginx-light): deploy/nginx.conf is "
            "checked only statically, by tests/test_deploy_files.py"
        )
    replicas = (await start_server(), await start_server())
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_config((_port(replicas[0]), _port(replicas[1])), port, tmp_path))
    directives = "daemon off; pid nginx.pid; error_log stderr warn;"
    if os.geteuid() == 0:
        directives += " user root;"  # workers must reach tmp_path
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", directives],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if process.poll() is not None:
                assert process.stderr is not None
                raise AssertionError(f"nginx exited: {process.stderr.read().decode()}")
            if await _answers(url + "/healthz", replicas[0].http):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("nginx did not answer within 5 s")
        yield Proxy(url=url, replicas=replicas)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _port(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def _join_a_lot(client: socketio.AsyncClient, lot_id: int) -> None:
    for _ in range(3):
        ack = await client.call("join_lot", {"lot_id": lot_id}, timeout=5)
        assert ack["ok"], ack
        assert ack["lot"]["id"] == lot_id


async def _first_lot(proxy: Proxy, db) -> int:  # type: ignore[no-untyped-def]
    await seed_demo(db)
    status, page = await proxy.replicas[0].request("GET", "/api/lots")
    assert status == 200
    return int(page["items"][0]["id"])


async def test_rest_goes_through_the_proxy(proxy):
    http = proxy.replicas[0].http
    async with http.get(proxy.url + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
        assert len(response.headers["X-Request-Id"]) == 32


async def test_websocket_upgrades_pass_through(proxy, db):
    lot_id = await _first_lot(proxy, db)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(proxy.url, transports=["websocket"], wait_timeout=5)
    try:
        assert client.transport() == "websocket"
        await _join_a_lot(client, lot_id)
    finally:
        await client.disconnect()


async def _poll(http, url: str, method: str = "GET", body: str | None = None) -> str:  # type: ignore[no-untyped-def]
    async with http.request(method, url, data=body) as response:
        text = await response.text()
        assert response.status == 200, f"{method} {url}: {response.status} {text}"
        return text


async def test_long_polling_sticks_to_one_replica(proxy, db):
    """Raw engine.io long-polling (python-socketio's polling client takes 20 s to hang up).

    Every packet is a separate request; all must reach the replica that holds
    the session, or it answers 400.
    """
    lot_id = await _first_lot(proxy, db)
    http = proxy.replicas[0].http
    sessions = []
    for _ in range(3):
        opened = await _poll(http, proxy.url + HANDSHAKE)
        assert opened.startswith("0"), opened
        sid = json.loads(opened[1:])["sid"]
        session = f"{proxy.url}{HANDSHAKE}&sid={sid}"
        assert await _poll(http, session, "POST", "40") == "OK"
        assert (await _poll(http, session)).startswith("40")
        for ack_id in range(1, 4):
            event = json.dumps(["join_lot", {"lot_id": lot_id}])
            assert await _poll(http, session, "POST", f"42{ack_id}{event}") == "OK"
            reply = await _poll(http, session)
            assert reply.startswith(f"43{ack_id}"), reply
            ack = json.loads(reply[len(f"43{ack_id}") :])[0]
            assert ack["ok"], ack
        sessions.append(session)
    assert sorted(proxy.engineio_sessions()) == [0, 3]
    for session in sessions:
        assert await _poll(http, session, "POST", "1") == "OK"  # close


async def test_the_browsers_origin_matches_through_the_proxy(proxy):
    http = proxy.replicas[0].http
    async with http.get(proxy.url + HANDSHAKE, headers={"Origin": proxy.url}) as response:
        opened = await response.text()
        assert response.status == 200, opened
    sid = json.loads(opened[1:])["sid"]
    await _poll(http, f"{proxy.url}{HANDSHAKE}&sid={sid}", "POST", "1")
    async with http.get(
        proxy.url + HANDSHAKE, headers={"Origin": "https://evil.example"}
    ) as response:
        assert response.status == 400


async def test_oversized_bodies_get_the_servers_json_413(proxy):
    http = proxy.replicas[0].http
    body = io.BytesIO(b"{" + b" " * (1536 * 1024) + b"}")
    async with http.post(
        proxy.url + "/api/payments/webhook",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "validation_error"
