"""Pings and ping timeouts on shared timers (server.realtime.heartbeat) against real clients.

engine.io's rules must hold as before: a PING `ping_interval` after each PONG,
a client that stops answering is closed once its PING has waited longer than
`ping_timeout` (websocket or long-polling), closed sockets are forgotten, and
clients that answer stay connected. Intervals are shortened on the test's own
server (the timeout kept at seconds, so that a loaded machine cannot make an
answering client late); the waits are generous deadlines, not timing assertions.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import socketio

from server.realtime.heartbeat import PingWheel, bucket_width


def shorten_pings(server: Any, interval: float, timeout: float) -> Any:
    eio = server.context.hub.sio.eio
    eio.ping_interval, eio.ping_timeout = interval, timeout
    return eio


async def open_websocket(http: aiohttp.ClientSession, url: str) -> tuple[Any, str]:
    """A raw Engine.IO v4 websocket joined to namespace `/`, and its engine.io sid."""
    ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
    opening = await ws.receive_str()
    assert opening.startswith("0"), opening
    await ws.send_str("40")
    assert (await ws.receive_str()).startswith("40")
    return ws, opening.split('"sid":"', 1)[1].split('"', 1)[0]


async def until(condition: Any, within: float = 30.0) -> None:
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


async def test_a_client_that_answers_stays_and_a_silent_one_is_closed(server):
    eio = shorten_pings(server, 0.2, 3)
    async with aiohttp.ClientSession() as http:
        answering, answering_sid = await open_websocket(http, server.url)
        silent, silent_sid = await open_websocket(http, server.url)
        pings = 0

        async def answer() -> None:
            nonlocal pings
            async for message in answering:
                if message.data == "2":
                    pings += 1
                    await answering.send_str("3")

        answerer = asyncio.create_task(answer())
        heard: list[Any] = []
        async with asyncio.timeout(30):
            async for message in silent:  # read, never answer
                heard.append(message.data)
        await until(lambda: pings >= 10)
        assert heard[0] == "2"  # it was pinged, and the server closed it after
        assert silent.closed
        await until(lambda: silent_sid not in eio.sockets)
        assert silent_sid not in eio.sockets  # closed and forgotten
        assert pings >= 10, f"only {pings} pings in 30 s at a 0.2 s interval"
        assert not answering.closed
        assert not eio.sockets[answering_sid].closed
        answerer.cancel()
        await answering.close()


async def test_a_long_polling_client_that_stops_polling_is_closed_and_forgotten(server):
    eio = shorten_pings(server, 0.2, 3)
    async with aiohttp.ClientSession() as http:
        base = f"{server.url}/socket.io/?EIO=4&transport=polling"
        async with http.get(base) as response:
            opening = await response.text()
        sid = opening.split('"sid":"', 1)[1].split('"', 1)[0]
        async with http.post(f"{base}&sid={sid}", data="40") as response:
            assert response.status == 200
        async with http.get(f"{base}&sid={sid}") as response:
            assert (await response.text()).startswith("40")
        socket = eio.sockets[sid]
        # No more requests: the PING it is sent waits unanswered, the sweep closes it.
        await until(lambda: sid not in eio.sockets)
        assert socket.closed
        assert sid not in eio.sockets


async def test_the_python_client_stays_connected_over_many_pings(server):
    shorten_pings(server, 0.2, 3)
    for transports in (["websocket"], ["polling"]):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url, transports=transports, wait_timeout=5)
        await asyncio.sleep(3)  # some fifteen ping cycles
        assert client.connected, transports
        await client.disconnect()


class FakeSocket:
    """Just what `ping_now` touches of an engine.io socket."""

    closing = closed = False

    def __init__(self) -> None:
        self.last_ping: float | None = None
        self.queue = self
        self.packets: list[Any] = []

    def put_nowait(self, packet: Any) -> None:
        self.packets.append(packet)


async def test_pings_due_together_share_one_timer():
    wheel = PingWheel()
    sockets = [FakeSocket() for _ in range(50)]
    for socket in sockets:
        wheel.ping_later(socket, 0.4)
    assert len(wheel._buckets) <= 2  # fifty pings, one timer (two if a bucket edge fell between)
    assert wheel.waiting() == 50
    await until(lambda: all(s.packets for s in sockets), within=10)
    assert wheel.waiting() == 0
    assert all([p.encode() for p in s.packets] == ["2"] for s in sockets)
    assert all(s.last_ping is not None for s in sockets)
    assert bucket_width(20) == 1.0
    assert bucket_width(0.4) == 0.1
