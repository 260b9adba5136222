"""Each status is spelled once, in its Python enum: the database and the document agree with it.

The migrated database's CHECK constraints must allow exactly the enum's values
(a value added to an enum without a migration fails here), and the published
OpenAPI document's enums are the same lists.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.auctions.models import LotStatus
from server.payments.models import PaymentStatus, RefundStatus
from server.users.models import Role

CHECKED: list[tuple[str, str, type[StrEnum]]] = [
    ("lots", "status", LotStatus),
    ("payments", "status", PaymentStatus),
    ("refunds", "status", RefundStatus),
    ("users", "role", Role),
]


async def _allowed(db, table: str, column: str) -> set[str]:
    """The values the CHECK `ck_{table}_{column}` allows, read from the database's own text."""
    async with db.engine.connect() as conn:
        definition = await conn.scalar(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
            {"name": f"ck_{table}_{column}"},
        )
    assert definition is not None, f"no CHECK on {table}.{column}"
    assert column in definition, definition
    return set(re.findall(r"'([^']*)'", definition))


@pytest.mark.parametrize(("table", "column", "enum"), CHECKED)
async def test_the_database_allows_exactly_the_enums_values(db, table, column, enum):
    assert await _allowed(db, table, column) == {member.value for member in enum}


async def test_a_value_outside_the_enum_is_refused_by_the_database(db):
    async with db.engine.begin() as conn:
        with pytest.raises(IntegrityError, match="ck_users_role"):
            await conn.execute(text("INSERT INTO users (id, role) VALUES ('x', 'owner')"))


async def test_the_document_lists_the_same_values(server):
    status, document = await server.request("GET", "/api/openapi.json")
    assert status == 200
    schemas = document["components"]["schemas"]
    for enum in (LotStatus, PaymentStatus, RefundStatus, Role):
        assert schemas[enum.__name__]["enum"] == [member.value for member in enum]
