"""A fault-injecting proxy in front of localstripe that also honours idempotency keys.

localstripe ignores `Idempotency-Key`; real Stripe replays the first response
for a repeated key. The proxy adds exactly that, so tests can show what our
server does against Stripe when requests fail, time out after reaching Stripe,
or are retried: the replay layer is Stripe's behaviour, not ours.

Every request it receives is logged (`requests`), so tests can count what our
server asked Stripe and when; `refuse` answers matching requests with a given
status and Stripe error for as long as a test needs (a 400 is Stripe saying
no, a 500 or 429 is Stripe having a bad day). `replay=False` turns the
idempotency layer off, to show what happens against a Stripe that ignores keys.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from tests.support.services import free_port


@dataclass
class Fault:
    mode: str  # "error" (500, not forwarded) or "slow" (forwarded, answered too late)
    delay: float = 0.0


@dataclass
class Refusal:
    """Answer requests matching `method` and `path` (a regex) with `status` and `error`."""

    method: str
    path: str
    status: int
    error: dict[str, str]

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path, path) is not None


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    at: float  # time.monotonic()


@dataclass
class StripeProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    replayed: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    creations_forwarded: int = 0
    replay: bool = True
    requests: list[Logged] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def refuse(
        self, method: str, path: str, status: int, code: str, kind: str = "invalid_request_error"
    ) -> Refusal:
        refusal = Refusal(
            method, path, status, {"type": kind, "code": code, "message": f"injected {code}"}
        )
        self.refusals.append(refusal)
        return refusal

    def heal(self) -> None:
        self.refusals.clear()

    def count(self, method: str, path: str) -> int:
        return len(self.times(method, path))

    def times(self, method: str, path: str) -> list[float]:
        return [r.at for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def fail_next_creations(self, count: int, mode: str = "error", delay: float = 0.0) -> None:
        self.faults.extend(Fault(mode, delay) for _ in range(count))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Logged(request.method, request.path, time.monotonic()))
        for refusal in self.refusals:
            if refusal.matches(request.method, request.path):
                return web.json_response({"error": refusal.error}, status=refusal.status)
        key = request.headers.get("Idempotency-Key") if self.replay else None
        if request.method == "POST" and key and key in self.replayed:
            status, payload = self.replayed[key]
            return web.Response(status=status, body=payload, content_type="application/json")
        creating = request.method == "POST" and request.path == "/v1/payment_intents"
        fault = self.faults.pop(0) if creating and self.faults else None
        if fault is not None and fault.mode == "error":
            return web.json_response(
                {"error": {"type": "api_error", "message": "injected outage"}}, status=500
            )
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
        if creating:
            self.creations_forwarded += 1
        if request.method == "POST" and key and status < 500:
            self.replayed[key] = (status, payload)
        if fault is not None and fault.mode == "slow":
            await asyncio.sleep(fault.delay)
        return web.Response(status=status, body=payload, content_type="application/json")
