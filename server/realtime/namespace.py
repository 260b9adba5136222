"""The Socket.IO namespace `/`: connect-time auth and a table of event handlers.

Every client event is answered through its ack: `{"ok": true, ...}` or
`{"ok": false, "error": {"code", "message"}}`. A handler raises `AppError` to
refuse; anything unexpected becomes `internal`, never silence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio

from server.core.auth import Identity, decode_token
from server.core.context import AppContext
from server.core.errors import AppError, Unauthorized, ValidationError, unavailable_for
from server.core.logging import bind
from server.realtime.hub import user_room
from server.realtime.packets import MALFORMED_EVENT

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    sid: str
    identity: Identity | None

    def require_user(self) -> Identity:
        if self.identity is None:
            raise Unauthorized("Connect with a token to do this")
        return self.identity


SocketHandler = Callable[[AppContext, Caller, Any], Awaitable[dict[str, Any]]]
ConnectHook = Callable[[AppContext, Caller], Awaitable[None]]


def _refusal(error: AppError) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connect whose packet is `{code, message}`.

    The JavaScript client surfaces only `message` and `data` of a refusal, so the
    same pair is repeated under `data` for browsers.
    """
    refusal = socketio.exceptions.ConnectionRefusedError(error.message)
    refusal.error_args = {**error.as_dict(), "data": error.as_dict()}
    return refusal


def error_ack(error: AppError) -> dict[str, Any]:
    return {"ok": False, "error": error.as_dict()}


class AuctionNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(
        self,
        context: AppContext,
        handlers: dict[str, SocketHandler],
        connect_hooks: list[ConnectHook],
    ) -> None:
        super().__init__("/")
        self.context = context
        self.handlers = handlers
        self.connect_hooks = connect_hooks
        self._identities: dict[str, Identity | None] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        with bind(sid=sid):
            await self._connect(sid, auth)

    async def _connect(self, sid: str, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        identity: Identity | None = None
        if token is not None:
            try:
                identity = decode_token(token, self.context.settings)
            except AppError as error:
                raise _refusal(error) from None
        elif auth is not None and not isinstance(auth, dict):
            raise _refusal(Unauthorized("auth must be an object with a token"))
        self._identities[sid] = identity
        self.context.metrics.sockets_connected.inc()
        if identity is not None:
            await self.enter_room(sid, user_room(identity.sub))
            caller = Caller(sid, identity)
            for hook in self.connect_hooks:
                try:
                    await hook(self.context, caller)
                except Exception:
                    log.exception("connect hook failed for sid %s", sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        if self._identities.pop(sid, "gone") != "gone":
            self.context.metrics.sockets_connected.dec()

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        payload = args[1] if len(args) > 1 else None
        if event == MALFORMED_EVENT:
            return error_ack(ValidationError(str(payload)))
        handler = self.handlers.get(event)
        if handler is None:
            return error_ack(AppError(f"Unknown event {event!r}", code="validation_error"))
        caller = Caller(sid, self._identities.get(sid))
        started = time.perf_counter()
        lot_id = payload.get("lot_id") if isinstance(payload, dict) else None
        with bind(sid=sid, lot_id=lot_id if type(lot_id) is int else None):
            try:
                ack = await handler(self.context, caller, payload)
                log.debug("socket event %s: ok", event)
                return ack
            except AppError as error:
                log.debug("socket event %s: refused with %s", event, error.code)
                return error_ack(error)
            except Exception as exc:
                busy = unavailable_for(exc)
                if busy is not None:
                    log.warning("socket event %s: %s (%s)", event, busy.message, type(exc).__name__)
                    return error_ack(busy)
                log.exception("socket event %s failed", event)
                return error_ack(AppError("Internal error"))
            finally:
                if event == "place_bid":
                    self.context.metrics.bid_latency.observe(time.perf_counter() - started)
