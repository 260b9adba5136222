"""The Socket.IO server and the rooms the product talks to.

`lot:{id}` carries public lot events; `user:{sub}` carries one user's private
events (the only place a client secret may go). With `REDIS_URL` set, emits
travel through Redis to every server process.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import orjson
import socketio

from server.core import safejson
from server.core.db import AfterCommitQueue
from server.core.metrics import Metrics
from server.realtime.fanout import FanoutManager, FanoutRedisManager
from server.realtime.lean_socket import LeanSocketIO
from server.realtime.packets import GuardedPacket
from server.realtime.redis_link import RedisLink
from server.settings import Settings

log = logging.getLogger(__name__)


def lot_room(lot_id: int) -> str:
    return f"lot:{lot_id}"


def user_room(sub: str) -> str:
    return f"user:{sub}"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _dumps(obj: Any, **kwargs: Any) -> str:
    """Compact JSON text; python-socketio's `separators` argument is what orjson always does.

    What orjson refuses (integers beyond 64 bits, which a client may send and an
    error may echo) goes through the standard library instead.
    """
    try:
        return orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), default=_default)


class _CompactJson:
    """JSON module for Socket.IO packets: orjson (compact, datetimes as ISO text).

    Decoding goes through `safejson.loads`, which refuses JSON nested too deeply
    before the parser recurses into it.
    """

    dumps = staticmethod(_dumps)
    loads = staticmethod(safejson.loads)


def make_socketio_server(
    settings: Settings, metrics: Metrics | None = None
) -> socketio.AsyncServer:
    # Broadcasts take the encode-once path of server.realtime.fanout on every process.
    manager: FanoutManager
    if settings.redis_url:
        manager = FanoutRedisManager(
            settings.redis_url,
            channel=settings.socketio_channel,
            max_backoff=settings.redis_retry_max_seconds,
        )
    else:
        manager = FanoutManager()
    if settings.cors_origins:
        cors: Any = list(settings.cors_origins)
        if "*" in settings.cors_origins:
            cors = "*"
    else:
        # Same origin only: engine.io compares Origin with the Host header. (An empty
        # list would turn its Origin check off altogether.)
        cors = None
    sio = LeanSocketIO(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=cors,
        json=_CompactJson,
        # Too-deep JSON in an event still gets an error ack (server.realtime.packets).
        serializer=GuardedPacket,
        # No per-connection deflate state: it costs memory for every idle socket
        # (see server.realtime.compression for websockets).
        http_compression=False,
        compression_threshold=1024,
        max_http_buffer_size=64 * 1024,
        ping_interval=20,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )
    manager.install(sio, metrics=metrics, max_buffer_bytes=settings.socket_max_buffer_bytes)
    return sio


class Hub:
    """Where the rest of the server sends realtime events."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    @property
    def redis_link(self) -> RedisLink | None:
        """The Redis link's state, when events travel through Redis."""
        link = getattr(self.sio.manager, "link", None)
        return link if isinstance(link, RedisLink) else None

    async def to_lot(self, lot_id: int, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=lot_room(lot_id))

    async def to_user(self, sub: str, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=user_room(sub))

    def to_lot_after_commit(
        self, uow: AfterCommitQueue, lot_id: int, event: str, data: dict[str, Any]
    ) -> None:
        uow.after_commit(lambda: self.to_lot(lot_id, event, data))

    def to_user_after_commit(
        self, uow: AfterCommitQueue, sub: str, event: str, data: dict[str, Any]
    ) -> None:
        uow.after_commit(lambda: self.to_user(sub, event, data))
