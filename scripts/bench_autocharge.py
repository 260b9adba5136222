"""The expiry case's "auto-charge at close" figure (scripts/bench, issue 14).

Buyers save a card (4242) the way a browser does: a SetupIntent from the server,
`confirmCardSetup` at the Stripe stand-in, the page's re-fetch. Each wins lots;
the lots are closed 16 at a time, and each close makes the server charge the
card off-session (AUTO_CHARGE). Reported: charged closes per second (from the
first close to the last SOLD) and the time from each close request to its
payment's `paid_at` (the success applied: SOLD, receipt queued), p50/p99.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import socketio


async def save_cards(bench: Any, buyers: list[str], token: Any) -> None:
    gate = asyncio.Semaphore(8)

    async def one(buyer: str) -> None:
        headers = {"Authorization": f"Bearer {token(buyer)}"}
        async with gate:
            async with bench.http.post(f"{bench.url}/api/me/cards/setup", headers=headers) as r:
                setup = await r.json()
            seti = setup["client_secret"].split("_secret_")[0]
            body = {
                "key": setup["publishable_key"],
                "client_secret": setup["client_secret"],
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034,
                             "cvc": "123"},
                },
            }
            async with bench.http.post(
                f"{bench.stripe_url}/v1/setup_intents/{seti}/confirm", data=json.dumps(body)
            ) as r:
                assert r.status == 200, await r.text()
            async with bench.http.post(
                f"{bench.url}/api/me/cards", json={"setup_intent_id": seti}, headers=headers
            ) as r:
                assert r.status == 201, await r.text()

    await asyncio.gather(*(one(buyer) for buyer in buyers))


async def run(bench: Any, token: Any, ms: Any, pg: str) -> None:
    count = 100 if bench.quick else 400
    lots = await bench.create_lots(count, starting_price=500)
    buyers = [f"ac-{i}" for i in range(max(1, count // 10))]
    await save_cards(bench, buyers, token)
    clients = {}
    for buyer in buyers:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(bench.url, auth={"token": token(buyer)}, transports=["websocket"])
        clients[buyer] = client
    for i, lot_id in enumerate(lots):
        ack = await clients[buyers[i % len(buyers)]].call(
            "place_bid", {"lot_id": lot_id, "amount": 500, "request_id": uuid.uuid4().hex}
        )
        assert ack["ok"], ack
    seller = {"Authorization": f"Bearer {token('bench-seller', 'seller')}"}
    hammer: dict[int, float] = {}
    gate = asyncio.Semaphore(16)

    async def close(lot_id: int) -> None:
        async with gate:
            hammer[lot_id] = time.time()
            async with bench.http.post(f"{bench.url}/api/lots/{lot_id}/close", headers=seller) as r:
                assert r.status == 200, await r.text()

    first = time.time()
    await asyncio.gather(*(close(lot_id) for lot_id in lots))
    conn = await asyncpg.connect(f"{pg}/{bench.db}")
    try:
        deadline = time.monotonic() + 300
        while True:
            rows = await conn.fetch(
                "SELECT lot_id, status, paid_at FROM payments WHERE lot_id = ANY($1::bigint[])",
                lots,
            )
            paid = [r for r in rows if r["paid_at"] is not None]
            if len(paid) == count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
    for client in clients.values():
        await client.disconnect()
    latencies = [r["paid_at"].timestamp() - hammer[r["lot_id"]] for r in paid]
    last = max((r["paid_at"].timestamp() for r in paid), default=first)
    states: dict[str, int] = {}
    for r in rows:
        states[r["status"]] = states.get(r["status"], 0) + 1
    bench.say(
        f"expiry, auto-charge at close: {len(paid)}/{count} lots charged off-session "
        f"({len(buyers)} buyers with a saved card): {len(paid) / max(last - first, 1e-9):6.1f} "
        f"closes/s; close request -> paid (SOLD): {ms(latencies)}; states {states}"
    )
