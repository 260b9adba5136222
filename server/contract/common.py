"""Bodies every part of the API shares: errors, health, pages."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.contract.base import Resource

#: An opaque page cursor: give back the `next_cursor` of the previous page.
Cursor = Annotated[
    str,
    Field(
        pattern=r"^[1-9][0-9]{0,17}$",
        description="`next_cursor` of the previous page; any other value is refused",
    ),
]


class ErrorDetail(BaseModel):
    """`code` names the problem (`validation_error`, `lot_locked`, ...); more keys may follow.

    A `validation_error` also has `fields`: each bad field and its message.
    """

    model_config = ConfigDict(extra="allow")

    code: Annotated[str, Field(examples=["validation_error", "lot_locked"])]
    message: str
    fields: dict[str, str] | None = None


class Error(BaseModel):
    model_config = ConfigDict(extra="allow")

    error: ErrorDetail


class Health(Resource):
    status: Annotated[str, Field(description="ok")]


class Readiness(Resource):
    """200 when ready (or degraded: Redis unreachable, this process still serves); else 503."""

    status: Annotated[str, Field(description="ready, degraded or unavailable")]
    revision: Annotated[str | None, Field(description="The database's migration")] = None
    head: Annotated[str | None, Field(description="The newest migration, when not at it")] = None
    database: Annotated[str | None, Field(description="Why the database is not ready")] = None
    redis: Annotated[
        Literal["connected", "unreachable"] | None, Field(description="With REDIS_URL")
    ] = None
