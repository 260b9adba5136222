"""A bare python-socketio + aiohttp server for `scripts/bench --compare`: our events, no database.

    python bare_socketio_server.py PORT

python-socketio's defaults (standard-library JSON, its own broadcast path, the
collector untouched), on uvloop like ours. `join_lot` joins `lot:<id>`;
`place_bid` broadcasts a `bid_placed` with the same fields and value formats as
ours to the lot's room, then acks.
"""

from __future__ import annotations

import sys
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio
import uvloop
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=20, ping_timeout=20)
app = web.Application()
sio.attach(app)
state = {"bids": 0}
seqs: dict[Any, int] = {}


async def index(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app.router.add_get("/", index)


@sio.on("join_lot")  # type: ignore[misc]
async def join_lot(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
    await sio.enter_room(sid, f"lot:{payload['lot_id']}")
    return {"ok": True, "lot": {"id": payload["lot_id"], "seq": seqs.get(payload["lot_id"], 0)}}


@sio.on("place_bid")  # type: ignore[misc]
async def place_bid(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
    state["bids"] += 1
    lot_id = payload["lot_id"]
    seqs[lot_id] = seq = seqs.get(lot_id, 0) + 1
    # The same fields, order and value formats as this server's bid_placed (SPEC 7).
    now = datetime.now(UTC)
    event = {
        "lot_id": lot_id,
        "seq": seq,
        "bid_id": state["bids"],
        "amount": payload["amount"],
        "bidder": f"Bidder {zlib.crc32(sid.encode()) & 0xFFFFFF:06X}",
        "auto": False,
        "bid_count": seq,
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "min_next_bid": payload["amount"] + 1,
        "reserve_met": True,
        "created_at": now.isoformat(),
    }
    await sio.emit("bid_placed", event, room=f"lot:{lot_id}")
    return {"ok": True, "bid": {"id": state["bids"], "lot_id": lot_id, "amount": payload["amount"]}}


if __name__ == "__main__":
    web.run_app(
        app, host="127.0.0.1", port=int(sys.argv[1]), print=None, loop=uvloop.new_event_loop()
    )
