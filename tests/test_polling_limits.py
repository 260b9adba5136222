"""Long-polling POSTs: too large is 413 at once, a closed session is 400 (issue 18 item 5).

Engine.IO v4 over HTTP: `GET ?EIO=4&transport=polling` opens a session
(`0{"sid": ...}`), POSTs carry packets to it. engine.io alone used to hang on
an oversized POST (it waited for a poll to drain the session) and answer a
POST to a closed session with a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

import aiohttp

from tests.support.services import wait_for

LIMIT = 64 * 1024  # max_http_buffer_size in server/realtime/hub.py


async def _open_session(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url + "/socket.io/?EIO=4&transport=polling") as response:
        assert response.status == 200
        body = await response.text()
    assert body.startswith("0{"), body
    sid = json.loads(body[1:])["sid"]
    status, text = await _post(http, url, sid, "40")
    assert (status, text) == (200, "OK"), text
    return str(sid)


async def _post(http: aiohttp.ClientSession, url: str, sid: str, body: str) -> tuple[int, str]:
    async with http.post(
        f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}",
        data=body.encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    ) as response:
        return response.status, await response.text()


async def test_an_oversized_polling_post_is_413_at_once(server):
    async with aiohttp.ClientSession() as http:
        sid = await _open_session(http, server.url)
        payload = '42["join_lot",{"lot_id":1,"pad":"' + "x" * (LIMIT + 1000) + '"}]'
        status, text = await asyncio.wait_for(_post(http, server.url, sid, payload), 5)
        assert status == 413, text
        assert json.loads(text)["error"]["code"] == "validation_error"
        # A payload within the limit still goes through.
        status, text = await _post(http, server.url, sid, '42["leave_lot",{"lot_id":1}]')
        assert (status, text) == (200, "OK")
        await _post(http, server.url, sid, "1")  # close, so the server stops at once


async def test_a_claimed_length_over_the_limit_is_refused_before_the_body(server):
    """Only the headers arrive: the answer must not wait for 10 MB that never come."""
    async with aiohttp.ClientSession() as http:
        sid = await _open_session(http, server.url)
    parts = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(
            (
                f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                f"Host: {parts.netloc}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert status_line.split()[1] == b"413", status_line
    finally:
        writer.close()
    async with aiohttp.ClientSession() as http:
        await _post(http, server.url, sid, "1")


async def test_a_post_to_a_closed_session_is_400(server, caplog):
    caplog.set_level(logging.WARNING)
    async with aiohttp.ClientSession() as http:
        sid = await _open_session(http, server.url)
        status, text = await _post(http, server.url, sid, "1")  # Engine.IO CLOSE
        assert (status, text) == (200, "OK")
        eio = server.context.hub.sio.eio
        await wait_for(lambda: sid not in eio.sockets or eio.sockets[sid].closed)
        status, text = await _post(http, server.url, sid, '42["leave_lot",{"lot_id":1}]')
        assert status == 400, text
        status, text = await _post(http, server.url, "no-such-session", "40")
        assert status == 400, text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
