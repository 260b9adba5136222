"""Query strings and path ids: the other half of a request.

A query model lists the parameters an endpoint takes; the document's
`parameters` are generated from it. Values arrive as text, so a query model
converts (`limit=20` is 20) but refuses anything that is not exactly the type
(`limit=2.5`, `disputed=maybe`, `cursor=`: an empty value is a value, and
refused unless the parameter allows it). Parameters the endpoint does not take
are ignored (cache busters and the like).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from server.contract.base import MAX_ID, parse
from server.core.errors import NotFound

Q = TypeVar("Q", bound="Query")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


def parse_query(model: type[Q], query: Mapping[str, str]) -> Q:
    """The query string as `model`, or a `validation_error` naming every bad parameter."""
    data: dict[str, Any] = {name: query[name] for name in model.model_fields if name in query}
    return parse(model, data)


def path_id(raw: str, what: str = "Lot") -> int:
    """An id from a URL path; one that cannot name anything is simply not found."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"{what} not found")
    return int(raw)
