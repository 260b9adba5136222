"""Holding the stand-in's webhooks back, so a test decides when Stripe's events reach us.

The stand-in sends an event a second after it happens. Our server usually applies
Stripe's own answer within that second, but nothing promises it does (a busy machine
takes longer), and a test about "the event that comes after the answer" must not
depend on it. `WebhookHold` takes the stand-in's deliveries in our endpoint's place
and keeps each one exactly as sent (body and Stripe-Signature); `release` hands them
to our server, in order, when the test says so.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.services import free_port


@dataclass(frozen=True)
class Delivery:
    body: bytes
    signature: str

    @property
    def type(self) -> str:
        return str(json.loads(self.body)["type"])


@dataclass
class WebhookHold:
    held: list[Delivery] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._keep)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _keep(self, request: web.Request) -> web.Response:
        self.held.append(Delivery(await request.read(), request.headers["Stripe-Signature"]))
        return web.json_response({"received": True})

    async def take_over(self, standin_url: str, secret: str) -> None:
        """From now on the stand-in's events (those that happen from now on) come here."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{standin_url}/_config/webhooks/test", data={"url": self.url, "secret": secret}
            ) as response,
        ):
            assert response.status == 200, await response.text()

    async def wait_for(self, event_type: str, timeout: float = 20.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if any(delivery.type == event_type for delivery in self.held):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the stand-in sent no {event_type} (held: {self.types()})")

    def types(self) -> list[str]:
        return [delivery.type for delivery in self.held]

    async def release(self, server: Any) -> list[tuple[str, int, Any]]:
        """Deliver everything held to `server`'s webhook, in order: (type, status, answer)."""
        answers = []
        held, self.held = self.held, []
        for delivery in held:
            status, answer = await server.request(
                "POST",
                "/api/payments/webhook",
                data=delivery.body,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": delivery.signature,
                },
            )
            answers.append((delivery.type, status, answer))
        return answers
