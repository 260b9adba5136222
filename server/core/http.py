"""HTTP plumbing: JSON in and out, the error middleware, and the caller's identity."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from server.core import safejson
from server.core.auth import Identity, bearer_token, decode_token
from server.core.context import context_of
from server.core.errors import (
    AppError,
    Forbidden,
    Unauthorized,
    ValidationError,
    unavailable_for,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def json_response(body: Any, *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


#: For answers about one user (their payments, cards, invoices): no shared cache keeps them.
PRIVATE = {"Cache-Control": "private, no-store"}


def private(response: web.Response) -> web.Response:
    """`response`, marked PRIVATE."""
    response.headers.update(PRIVATE)
    return response


def error_body(error: AppError) -> dict[str, Any]:
    return {"error": error.as_dict()}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AppError as error:
        return json_response(error_body(error), status=error.status)
    except web.HTTPRequestEntityTooLarge:
        return json_response(
            error_body(ValidationError("Request body is too large", code="validation_error")),
            status=413,
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
            exc.status, "validation_error" if exc.status < 500 else "internal"
        )
        return json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status)
    except Exception as exc:
        busy = unavailable_for(exc)
        if busy is not None:
            log.warning(
                "%s %s: %s (%s)", request.method, request.path, busy.message, type(exc).__name__
            )
            return json_response(error_body(busy), status=busy.status)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response(
            {"error": {"code": "internal", "message": "Internal error"}}, status=500
        )


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; anything else is a `validation_error`."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = safejson.loads(raw)
    except safejson.NestedTooDeep as exc:
        raise ValidationError(f"Request body: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationError("Request body must be a JSON object")
    return body


def optional_identity(request: web.Request) -> Identity | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    return decode_token(token, context_of(request).settings)


def require_identity(request: web.Request, *roles: str) -> Identity:
    identity = optional_identity(request)
    if identity is None:
        raise Unauthorized("Authorization: Bearer <token> is required")
    if roles and identity.role not in roles:
        raise Forbidden(f"This requires the {' or '.join(roles)} role")
    return identity
