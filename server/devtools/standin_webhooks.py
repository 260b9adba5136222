"""The stand-in's webhooks go to the endpoints registered when the event happened.

Stripe sends an event to the endpoints that exist when it occurs. localstripe
waits a second, then looks its endpoints up: an endpoint registered in that
second (a test's next server, on the same stand-in) received the previous
test's late events, and one removed in it received none. Here the endpoints are
taken when the event is scheduled; the second's wait stays (the API's answer
goes out before its webhook, as localstripe does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import Coroutine
from typing import Any

import aiohttp


def patch_webhook_endpoints(webhooks: Any) -> None:
    def send(event: Any) -> Coroutine[Any, Any, None]:
        endpoints = [
            (endpoint.url, endpoint.secret)
            for endpoint in webhooks._webhooks.values()
            if endpoint.events is None or event.type in endpoint.events
        ]
        return _deliver(event, endpoints)

    # localstripe's schedule_webhook calls this by its module name when an event occurs.
    webhooks._send_webhook = send


async def _deliver(event: Any, endpoints: list[tuple[str, str]]) -> None:
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
    signed = b"%d.%s" % (event.created, payload)
    await asyncio.sleep(1)
    async with aiohttp.ClientSession() as session:
        for url, secret in endpoints:
            signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": f"t={event.created},v1={signature}",
            }
            # An endpoint that is gone or refuses it is Stripe's problem to retry, not ours.
            with contextlib.suppress(aiohttp.ClientError):
                async with session.post(url, data=payload, headers=headers) as response:
                    await response.read()
