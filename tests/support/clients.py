"""Real clients for tests: Socket.IO clients that record what they receive.

Every event and every ack a `SocketClient` receives is checked against the
AsyncAPI document (`tests.support.events_contract`): a bad ack fails the call
at once, a bad event fails `wait_for` and the test's teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio

from tests.support.events_contract import ack_problems, event_problems
from tests.support.services import PATIENCE


class ContractMismatch(AssertionError):
    """The server sent something its AsyncAPI document does not describe."""


class SocketClient:
    """A python-socketio client that keeps every server event it receives, in order."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        #: Events that did not match the AsyncAPI document: (event, data, problems).
        self.mismatches: list[tuple[str, Any, list[str]]] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record)

    async def _record(self, name: str, data: Any = None) -> None:
        problems = event_problems(name, data)
        if problems:
            self.mismatches.append((name, data, problems))
        self.events[name].append(data)
        self._changed.set()

    def check_contract(self) -> None:
        """Fail if any event received so far did not match the AsyncAPI document."""
        if self.mismatches:
            lines = [f"{name} {data!r}: {'; '.join(why)}" for name, data, why in self.mismatches]
            raise ContractMismatch("events not as the AsyncAPI document says:\n" + "\n".join(lines))

    async def connect(self) -> SocketClient:
        auth = {"token": self.token} if self.token is not None else None
        await self.sio.connect(
            self.base_url,
            auth=auth,
            transports=["websocket"],
            socketio_path="socket.io",
            wait_timeout=5,
        )
        return self

    async def disconnect(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        """Emit `event` and return its ack, which must match the AsyncAPI document."""
        ack = await self.sio.call(event, data, timeout=timeout)
        problems = ack_problems(event, ack)
        if problems:
            raise ContractMismatch(f"ack of {event} {ack!r}: {'; '.join(problems)}")
        return ack

    async def wait_for(
        self,
        event: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first received `event` matching `predicate`, waiting up to `timeout` (x PATIENCE)."""
        timeout *= PATIENCE
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.check_contract()
            for data in self.events[event]:
                if predicate(data):
                    return data
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no {event!r} matching within {timeout} s; got {self.events[event]!r}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


class ServerHandle:
    """What tests do with a running server, in-process or a child process alike.

    Subclasses provide `url`, `make_token` and a `_sockets` list (closed at teardown).
    """

    url: str
    make_token: Callable[..., str]
    _sockets: list[SocketClient]

    def check_contract(self) -> None:
        """Fail if any socket of this server received an event unlike the AsyncAPI document."""
        for client in self._sockets:
            client.check_contract()

    def headers(self, sub: str, role: str = "bidder") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make_token(sub, role)}"}

    async def socket(
        self, sub: str | None = None, role: str = "bidder", **claims: Any
    ) -> SocketClient:
        token = self.make_token(sub, role, **claims) if sub is not None else None
        client = SocketClient(self.url, token)
        self._sockets.append(client)
        return await client.connect()

    async def request(
        self,
        method: str,
        path: str,
        *,
        as_user: str | None = None,
        role: str = "bidder",
        **kwargs: Any,
    ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if as_user is not None:
            headers.update(self.headers(as_user, role))
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, headers=headers, **kwargs) as response,
        ):
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()
