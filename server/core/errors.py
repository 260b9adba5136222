"""One error family for the whole server.

Every refusal the product makes is an `AppError(code, message, status)`.
HTTP renders it as `{"error": {"code", "message"}}` (see `error_middleware`);
Socket.IO handlers turn it into an error ack.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code = "internal"
    status = 500
    default_message = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        body.update(self.details)
        return body


class ValidationError(AppError):
    code = "validation_error"
    status = 400
    default_message = "The request is not valid"


class Unauthorized(AppError):
    code = "unauthorized"
    status = 401
    default_message = "Authentication required"


class Forbidden(AppError):
    code = "forbidden"
    status = 403
    default_message = "Not allowed"


class NotFound(AppError):
    code = "not_found"
    status = 404
    default_message = "Not found"


class Conflict(AppError):
    """A state conflict; the code names the state (e.g. `lot_locked`)."""

    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state"


class RateLimited(AppError):
    code = "rate_limited"
    status = 429
    default_message = "Too many requests; slow down"


class Unavailable(AppError):
    code = "unavailable"
    status = 503
    default_message = "Service temporarily unavailable"


def conflict(code: str, message: str, **details: Any) -> Conflict:
    return Conflict(message, code=code, details=details or None)


def unavailable_for(exc: BaseException) -> Unavailable | None:
    """An `Unavailable` when `exc` means the database is out of reach or saturated.

    A full connection pool under load or a database restart is not a bug: the
    caller gets `unavailable` (try again) rather than `internal`.
    """
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout | OperationalError | InterfaceError | ConnectionError):
        return Unavailable("The server is busy or its database is unreachable; try again")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        # A pooled connection found dead on use (PostgreSQL restarted); the pool has
        # already dropped it and its peers, so the next attempt connects afresh.
        return Unavailable("The server is busy or its database is unreachable; try again")
    return None
