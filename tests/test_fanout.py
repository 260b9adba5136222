"""Encode-once broadcasts (server.realtime.fanout) against real clients.

The fast path must be invisible: the official JavaScript client (websocket and
long-polling), the Python client and a raw websocket receive exactly what
python-socketio's own path sends, in order; pings, acks and upgrades still
work; a reader that stops reading is dropped without holding up anyone else;
Redis still carries broadcasts between processes. No timing assertions.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import shutil
import socket
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.base_protocol import BaseProtocol
from prometheus_client.parser import text_string_to_metric_families
from socketio import packet as sio_packet

from server.realtime.fanout import websocket_text_frame
from server.realtime.hub import lot_room
from server.settings import Settings, SettingsError
from tests.conftest import METRICS_AUTH
from tests.support.factories import bid, create_lot
from tests.support.services import redis_url

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "tests" / "support" / "socketio_peer.js"


def node_modules() -> Path | None:
    for folder in (ROOT / "node_modules", Path.cwd() / "node_modules"):
        if (folder / "socket.io-client").is_dir():
            return folder
    return None


async def scrape(server: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = await server.request("GET", "/metrics", headers=METRICS_AUTH)
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def bid_event(lot_id: int, seq: int, bidder: str = "Bidder 1") -> dict[str, Any]:
    """A `bid_placed` as the AsyncAPI document describes it, for broadcasts made by hand."""
    return {
        "lot_id": lot_id,
        "seq": seq,
        "bid_id": seq,
        "amount": 1000 + seq,
        "bidder": bidder,
        "bid_count": seq,
        "ends_at": "2030-01-01T00:00:00+00:00",
        "min_next_bid": 1001 + seq,
        "created_at": "2029-12-31T23:59:00.123456+00:00",
        "auto": False,
        "reserve_met": True,
    }


def frames(metrics: dict[Any, float], path: str) -> float:
    return metrics.get(("auction_fanout_frames_total", (("path", path),)), 0.0)


class RawSocket:
    """An engine.io v4 websocket spoken by hand, keeping every text frame it receives."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.texts: list[str] = []

    @classmethod
    async def open(cls, url: str) -> RawSocket:
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
        raw = cls(http, ws)
        assert (await raw.next_text()).startswith("0{")  # engine.io OPEN
        await ws.send_str("40")
        assert (await raw.next_text()).startswith("40{")  # socket.io CONNECT
        return raw

    async def next_text(self) -> str:
        while True:
            message = await asyncio.wait_for(self.ws.receive(), 10)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            if message.data == "2":  # engine.io PING
                await self.ws.send_str("3")
                continue
            return str(message.data)

    async def join(self, lot_id: int) -> None:
        await self.ws.send_str("421" + json.dumps(["join_lot", {"lot_id": lot_id}]))
        ack = await self.next_text()
        assert ack.startswith("431") and '"ok":true' in ack, ack

    async def events(self, count: int) -> list[str]:
        while len(self.texts) < count:
            self.texts.append(await self.next_text())
        return self.texts[:count]

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


# --- the frame -------------------------------------------------------------------------------


class _Captured(asyncio.Transport):
    """Where aiohttp's own WebSocketWriter writes, to compare its frames with ours."""

    def __init__(self) -> None:
        super().__init__()
        self.data = b""

    def write(self, data: Any) -> None:
        self.data += bytes(data)

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
async def test_the_frame_is_the_one_aiohttp_writes(size):
    text = "4" + "é" * (size // 2) + "x" * (size % 2)
    transport = _Captured()
    writer = WebSocketWriter(BaseProtocol(asyncio.get_running_loop()), transport)
    await writer.send_frame(text.encode(), aiohttp.WSMsgType.TEXT)
    assert websocket_text_frame(text) == transport.data


# --- what clients receive --------------------------------------------------------------------


async def test_broadcast_text_is_byte_for_byte_python_socketios(server):
    lot = await create_lot(server)
    raw = await RawSocket.open(server.url)
    await raw.join(lot["id"])
    sio = server.context.hub.sio
    payload = {"lot_id": lot["id"], "seq": 7, "note": "Zoë's ✓ lot", "n": [1, 2.5, None]}
    before = await scrape(server)

    await server.context.hub.to_lot(lot["id"], "bid_placed", payload)  # the fast path
    # python-socketio's own broadcast, bypassing the fast path, for the same payload.
    await socketio.AsyncManager.emit(
        sio.manager, "bid_placed", payload, "/", room=lot_room(lot["id"])
    )
    fast, normal = await raw.events(2)

    assert fast == normal
    assert json.loads(fast[2:]) == ["bid_placed", payload]
    after = await scrape(server)
    assert frames(after, "direct") - frames(before, "direct") == 1
    assert frames(after, "queued") == frames(before, "queued")
    await raw.close()


async def test_a_packet_already_queued_for_a_socket_is_not_overtaken(server):
    """Acks and pings wait on engine.io's queue; a broadcast right behind one keeps its place."""
    lot = await create_lot(server)
    watcher = await server.socket(None)
    assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    sio = server.context.hub.sio
    eio_sid = sio.manager.eio_sid_from_sid(watcher.sio.get_sid("/"), "/")
    for seq in range(1, 101):
        data = bid_event(lot["id"], seq)
        if seq % 2:  # queued the way python-socketio queues an ack, with no await in between
            packet = sio.packet_class(sio_packet.EVENT, namespace="/", data=["bid_placed", data])
            await sio._send_packet(eio_sid, packet)
        else:
            await server.context.hub.to_lot(lot["id"], "bid_placed", data)
    await watcher.wait_for("bid_placed", lambda d: d["seq"] == 100)
    assert [d["seq"] for d in watcher.events["bid_placed"]] == list(range(1, 101))


async def test_a_packet_queued_for_an_upgraded_socket_is_not_overtaken(server):
    """A socket upgraded from polling keeps engine.io's writer task: what waits on its queue
    goes out before a broadcast written directly behind it."""
    lot = await create_lot(server)
    client = socketio.AsyncClient(reconnection=False)
    seen: list[int] = []
    client.on("bid_placed", lambda data: seen.append(data["seq"]))
    await client.connect(server.url, transports=["polling", "websocket"], wait_timeout=5)
    for _ in range(200):
        if client.transport() == "websocket":
            break
        await asyncio.sleep(0.05)
    assert (await client.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    sio = server.context.hub.sio
    eio_sid = sio.manager.eio_sid_from_sid(client.get_sid("/"), "/")
    assert sio.eio.sockets[eio_sid].upgraded
    assert eio_sid in sio.manager.registry.sockets  # broadcasts to it may go direct
    for seq in range(1, 101):
        data = bid_event(lot["id"], seq)
        if seq % 2:  # on engine.io's queue; its writer task runs at the next await
            packet = sio.packet_class(sio_packet.EVENT, namespace="/", data=["bid_placed", data])
            await sio._send_packet(eio_sid, packet)
        else:
            await server.context.hub.to_lot(lot["id"], "bid_placed", data)
    for _ in range(200):
        if seen[-1:] == [100]:
            break
        await asyncio.sleep(0.05)
    assert seen == list(range(1, 101))
    await client.disconnect()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_the_js_client_and_the_python_client_receive_the_same_events(server):
    modules = node_modules()
    if modules is None:
        pytest.skip("socket.io-client not installed (npm is missing?): run `npm ci`")
    lot = await create_lot(server, starting_price=100, bid_increment=1)
    python_ws = await server.socket(None)
    python_polling = socketio.AsyncClient(reconnection=False)
    got_polling: list[dict[str, Any]] = []
    python_polling.on("bid_placed", lambda data: got_polling.append(data))
    await python_polling.connect(server.url, transports=["polling"])
    for client in (python_ws.sio, python_polling):
        assert (await client.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    bids = 6
    peers = []
    for transport in ("websocket", "polling"):
        peer = await asyncio.create_subprocess_exec(
            "node",
            str(PEER),
            server.url,
            str(lot["id"]),
            transport,
            str(bids),
            str(modules),
            stdout=asyncio.subprocess.PIPE,
        )
        assert peer.stdout is not None
        ready = json.loads(await asyncio.wait_for(peer.stdout.readline(), 30))
        assert ready == {"ready": True, "transport": transport}
        peers.append(peer)
    bidders = [await server.socket("ann"), await server.socket("ben")]
    before = await scrape(server)
    for n in range(bids):
        ack = await bidders[n % 2].call("place_bid", bid(lot["id"], 100 + n))
        assert ack["ok"], ack

    from_python = [
        (await python_ws.wait_for("bid_placed", lambda d, n=n: d["amount"] == 100 + n))
        for n in range(bids)
    ]
    assert python_ws.events["bid_placed"] == from_python  # in order, nothing extra
    for peer in peers:
        out, _ = await asyncio.wait_for(peer.communicate(), 30)
        assert peer.returncode == 0, out
        lines = [json.loads(line) for line in out.decode().splitlines()]
        assert lines == [{"event": "bid_placed", "data": data} for data in from_python]
    await python_polling.disconnect()
    assert got_polling == from_python
    assert [data["seq"] for data in from_python] == sorted(d["seq"] for d in from_python)
    after = await scrape(server)
    # The two long-polling watchers keep python-socketio's path; the two websocket
    # watchers (and the outbid bidders' private events) go direct.
    assert frames(after, "queued") - frames(before, "queued") == 2 * bids
    assert frames(after, "direct") - frames(before, "direct") >= 2 * bids


async def test_order_is_kept_for_every_transport_while_clients_upgrade_and_call(server):
    """Events interleaved with acks, pings and a polling-to-websocket upgrade arrive in order."""
    lot = await create_lot(server)
    sio = server.context.hub.sio
    sio.eio.ping_interval, sio.eio.ping_timeout = 0.2, 5  # many pings during the run
    total = 300
    watchers: list[tuple[socketio.AsyncClient, list[int]]] = []
    for transports in (["websocket"], ["polling"], ["polling", "websocket"]):
        client = socketio.AsyncClient(reconnection=False)
        seen: list[int] = []
        client.on("bid_placed", lambda data, seen=seen: seen.append(data["seq"]))
        await client.connect(server.url, transports=transports, wait_timeout=5)
        watchers.append((client, seen))
    upgrading = watchers[2][0]
    for client, _ in watchers[:2]:
        assert (await client.call("join_lot", {"lot_id": lot["id"]}))["ok"]

    async def call_while_broadcasting() -> None:
        assert (await upgrading.call("join_lot", {"lot_id": lot["id"]}))["ok"]
        for _ in range(10):
            assert (await watchers[0][0].call("join_lot", {"lot_id": lot["id"]}))["ok"]
            await asyncio.sleep(0.02)

    caller = asyncio.create_task(call_while_broadcasting())
    await asyncio.sleep(0)  # the upgrading client's join goes out before the first event
    for seq in range(1, total + 1):
        await server.context.hub.to_lot(lot["id"], "bid_placed", bid_event(lot["id"], seq))
        if seq % 10 == 0:
            await asyncio.sleep(0.01)
    await caller
    for _ in range(500):
        if all(len(seen) >= total for _, seen in watchers[:2]) and watchers[2][1][-1:] == [total]:
            break
        await asyncio.sleep(0.02)
    assert watchers[0][1] == list(range(1, total + 1))  # websocket
    assert watchers[1][1] == list(range(1, total + 1))  # long-polling
    late = watchers[2][1]  # joined while events flowed: a contiguous tail, in order
    assert late == list(range(late[0], total + 1))
    assert upgrading.transport() == "websocket"
    for client, _ in watchers:
        assert client.connected  # pings were answered throughout
        await client.disconnect()


async def _handshake_without_reading(port: int, lot_id: int) -> socket.socket:
    """A websocket client whose receive buffer is tiny and that stops reading after joining."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(raw, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(raw, request.encode())
    received = b""

    async def until(marker: bytes) -> None:
        nonlocal received
        while marker not in received:
            chunk = await asyncio.wait_for(loop.sock_recv(raw, 65536), 10)
            assert chunk, "server closed during the handshake"
            received += chunk

    def masked(text: str) -> bytes:
        body = text.encode()
        mask = os.urandom(4)
        assert len(body) < 126
        return (
            struct.pack("!BB", 0x81, 0x80 | len(body))
            + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(body))
        )

    await until(b"\r\n\r\n")
    await until(b'0{"sid"')
    await loop.sock_sendall(raw, masked("40"))
    await until(b'40{"sid"')
    await loop.sock_sendall(raw, masked("421" + json.dumps(["join_lot", {"lot_id": lot_id}])))
    await until(b"431[")
    return raw


async def test_a_reader_that_stops_is_dropped_and_the_others_get_everything(start_server):
    bound = 64 * 1024
    server = await start_server(socket_max_buffer_bytes=bound)
    lot = await create_lot(server)
    port = int(server.url.rsplit(":", 1)[1])
    stuck = await _handshake_without_reading(port, lot["id"])
    healthy = await server.socket(None)
    assert (await healthy.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    metrics = server.context.metrics
    manager = server.context.hub.sio.manager
    room = manager.rooms["/"][lot_room(lot["id"])]
    assert len(room) == 2
    padding = "x" * 16_000
    sent = 0
    for seq in range(1, 2001):
        data = bid_event(lot["id"], seq, bidder=padding)
        await server.context.hub.to_lot(lot["id"], "bid_placed", data)
        sent = seq
        await asyncio.sleep(0.002)
        if metrics.fanout_slow_disconnects._value.get() > 0:
            break
    assert metrics.fanout_slow_disconnects._value.get() == 1, "the stuck reader was never dropped"
    print(f"stuck reader dropped after {sent} frames of 16 kB ({sent * 16} kB sent to it)")
    for _ in range(500):
        if len(room) == 1 and len(healthy.events["bid_placed"]) == sent:
            break
        await asyncio.sleep(0.02)
    assert len(room) == 1  # the stuck socket left the room: its client must reconnect
    assert [data["seq"] for data in healthy.events["bid_placed"]] == list(range(1, sent + 1))
    # It can come back and re-sync from the lot's seq like any reconnecting client.
    back = await server.socket(None)
    assert (await back.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    stuck.close()
    metrics_now = await scrape(server)
    assert metrics_now[("auction_fanout_slow_disconnects_total", ())] == 1
    assert metrics_now[("auction_fanout_write_buffer_max_bytes", ())] >= 0


@pytest.mark.skipif(redis_url() is None, reason="Redis is not running on 127.0.0.1:6379")
async def test_broadcasts_through_redis_take_the_fast_path_on_the_receiving_process(
    start_server,
):
    one = await start_server(redis_url=redis_url())
    two = await start_server(redis_url=redis_url())
    lot = await create_lot(one)
    watchers = [await one.socket(None), await two.socket(None)]
    for watcher in watchers:
        assert (await watcher.call("join_lot", {"lot_id": lot["id"]}))["ok"]
    before = [frames(await scrape(s), "direct") for s in (one, two)]
    for seq in range(1, 21):
        await one.context.hub.to_lot(lot["id"], "bid_placed", bid_event(lot["id"], seq))
    for watcher in watchers:
        await watcher.wait_for("bid_placed", lambda d: d["seq"] == 20)
        assert [d["seq"] for d in watcher.events["bid_placed"]] == list(range(1, 21))
    after = [frames(await scrape(s), "direct") for s in (one, two)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [20, 20]


# --- the collector ---------------------------------------------------------------------------


async def test_the_collector_is_tuned_frozen_and_its_pauses_exported(start_server):
    server = await start_server(gc_thresholds=(12_345, 11, 13), gc_freeze=True)
    assert gc.get_threshold() == (12_345, 11, 13)
    assert gc.get_freeze_count() > 0
    gc.collect()
    metrics = await scrape(server)
    assert metrics[("auction_gc_pause_seconds_count", (("generation", "2"),))] >= 1


def test_gc_thresholds_are_read_from_the_environment():
    env = {
        "STRIPE_SECRET_KEY": "sk_test_" + "a" * 24,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "a" * 24,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "a" * 24,
        "JWT_SECRET": "j" * 40,
    }
    assert Settings.from_env(env).gc_thresholds == (50_000, 20, 100)
    assert Settings.from_env({**env, "GC_THRESHOLDS": "700, 10,10"}).gc_thresholds == (700, 10, 10)
    assert (
        Settings.from_env({**env, "SOCKET_MAX_BUFFER_BYTES": "65536"}).socket_max_buffer_bytes
        == 65536
    )
    for bad in ("50000,20", "a,b,c", "0,20,100", "50000,-1,100"):
        with pytest.raises(SettingsError, match="GC_THRESHOLDS"):
            Settings.from_env({**env, "GC_THRESHOLDS": bad})
    with pytest.raises(SettingsError, match="SOCKET_MAX_BUFFER_BYTES"):
        Settings.from_env({**env, "SOCKET_MAX_BUFFER_BYTES": "10"})
