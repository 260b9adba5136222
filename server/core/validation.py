"""Strict readers for untrusted payloads (JSON bodies, socket events, query strings).

Each raises `ValidationError` naming the field. Booleans are not integers and
floats are never money.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.core.errors import NotFound, ValidationError

#: Larger than any sane price in any currency's minor unit, well inside BIGINT.
MAX_AMOUNT = 10**15


def payload_dict(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValidationError("The payload must be a JSON object")
    return payload


def integer(
    data: dict[str, Any],
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = MAX_AMOUNT,
    required: bool = True,
) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"'{name}' must be an integer")
    if minimum is not None and value < minimum:
        raise ValidationError(f"'{name}' must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"'{name}' must be at most {maximum}")
    return value


def required_int(data: dict[str, Any], name: str, **limits: Any) -> int:
    value = integer(data, name, required=True, **limits)
    assert value is not None
    return value


def text(
    data: dict[str, Any],
    name: str,
    *,
    max_length: int,
    required: bool = True,
    allow_empty: bool = False,
) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' must be a string")
    value = value.strip()
    if not value and not allow_empty:
        raise ValidationError(f"'{name}' must not be empty")
    if len(value) > max_length:
        raise ValidationError(f"'{name}' must be at most {max_length} characters")
    return value


def required_text(data: dict[str, Any], name: str, *, max_length: int) -> str:
    value = text(data, name, max_length=max_length, required=True)
    assert value is not None
    return value


def timestamp(data: dict[str, Any], name: str, *, required: bool = True) -> datetime | None:
    """An ISO 8601 timestamp with a zone (or `Z`), returned in UTC."""
    value = data.get(name)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' must be an ISO 8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"'{name}' must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValidationError(f"'{name}' must include a time zone, e.g. 2030-01-01T12:00:00Z")
    if not 2000 <= parsed.year <= 9000:
        raise ValidationError(f"'{name}' is out of range")
    return parsed.astimezone(UTC)


def query_int(query: Any, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ValidationError(f"'{name}' must be an integer") from None
    if not minimum <= value <= maximum:
        raise ValidationError(f"'{name}' must be between {minimum} and {maximum}")
    return value


def path_id(raw: str, what: str = "Lot") -> int:
    """An id from a URL path; one that cannot name anything is simply not found."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"{what} not found")
    return int(raw)


def lookup_id(data: dict[str, Any], name: str) -> int:
    """An id field of a payload: a positive integer (a numeric string is accepted too)."""
    value = data.get(name)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValidationError(f"'{name}' must be a positive integer")
    return value
