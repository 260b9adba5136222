"""A Socket.IO client at the wire level, for packets no real client would send.

python-socketio's client encodes with `json.dumps`, which cannot even produce
50,000 nested arrays; this one writes Engine.IO v4 / Socket.IO v5 text frames
over a websocket itself: `0{...}` open, `40` connect, `42<id>[event, data]`
an event with an ack id, `43<id>[ack]` the answer.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class RawSocket:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self._next_id = 1

    @classmethod
    async def connect(cls, base_url: str, auth_json: str | None = None) -> tuple[RawSocket, str]:
        """Open a websocket and send CONNECT; returns the socket and the server's answer."""
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(
            base_url + "/socket.io/?EIO=4&transport=websocket", max_msg_size=0
        )
        raw = cls(http, ws)
        opened = await raw.receive()
        assert opened.startswith("0{"), opened
        await ws.send_str("40" + (auth_json or ""))
        return raw, await raw.receive()

    async def receive(self, timeout: float = 5.0) -> str:
        """The next Socket.IO text frame, answering Engine.IO pings on the way."""
        while True:
            message = await self.ws.receive(timeout=timeout)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"websocket ended: {message.type} {message.data!r}")
            if message.data == "2":
                await self.ws.send_str("3")
                continue
            return str(message.data)

    async def call_raw(self, event: str, data_json: str, timeout: float = 5.0) -> Any:
        """Send `event` with `data_json` (already JSON text) and return its ack's payload."""
        ack_id = self._next_id
        self._next_id += 1
        await self.ws.send_str(f"42{ack_id}[{json.dumps(event)},{data_json}]")
        prefix = f"43{ack_id}"
        while True:
            frame = await self.receive(timeout)
            if frame.startswith(prefix):
                return json.loads(frame[len(prefix) :])[0]

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()
