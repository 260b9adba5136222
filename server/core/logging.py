"""Structured JSON logs with correlation ids, and no secrets.

Correlation ids (request id, socket sid, lot id, payment id, Stripe event id)
live in a context variable; `bind(...)` adds to it for the current task.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

_correlation: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "correlation", default=None
)

# Anything that looks like a Stripe secret or restricted key (live, test or the dev
# mode's generated ones), a client secret, a webhook secret or a JWT.
_SECRET_PATTERNS = re.compile(
    r"(\b(?:sk|rk)_[A-Za-z0-9]+_[A-Za-z0-9_]{8,}|whsec_[A-Za-z0-9_]+"
    r"|\b(?:pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"
    r"|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"
)


def redact(text: str) -> str:
    return _SECRET_PATTERNS.sub("[redacted]", text)


@contextmanager
def bind(**ids: Any) -> Iterator[None]:
    current = _correlation.get() or {}
    token = _correlation.set({**current, **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _correlation.reset(token)


@contextmanager
def isolated(**ids: Any) -> Iterator[None]:
    """Like `bind`, but dropping whatever the caller had bound.

    For work that merely started from inside a request, such as a scheduled job
    whose timer was armed there: it must not carry that request's id.
    """
    token = _correlation.set({k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _correlation.reset(token)


def correlation() -> dict[str, Any]:
    return dict(_correlation.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, message and the bound ids.

    `pid` tells replicas' lines apart when their logs are collected together.
    Secrets are redacted from the message, the traceback and the bound values,
    whichever library wrote them (Stripe's own debug lines carry response bodies).
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": redact(record.getMessage()),
        }
        for key, value in correlation().items():
            entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    """Human-readable lines (dev, migrate, seed), redacted like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would print query strings; keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Stripe's debug lines are whole request and response bodies (client secrets
    # among them); the formatter would redact them, but they are noise anyway.
    logging.getLogger("stripe").setLevel(max(root.level, logging.INFO))
    # APScheduler says "Running job" and "executed successfully" for every sweep.
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", incoming) else uuid.uuid4().hex
    with bind(request_id=request_id):
        response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response
