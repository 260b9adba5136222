"""status CHECKs built from the enums' values; refunds.status checked too

Revision ID: 0002_status_checks_from_enums
Revises: 0001
Create Date: 2026-12-02 01:00:00

The values are written out here, as they were when this migration was made, and
built into SQL with the same `one_of` the models use: a migration must mean the
same thing forever, so it does not import the live enums. When an enum gains a
value, add a migration like this one; tests/test_status_enums.py fails until the
migrated database allows exactly the enum's values.
"""

from collections.abc import Sequence

from alembic import op

from server.core.db import one_of

revision: str = "0002_status_checks_from_enums"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("lots", "status"): ("SCHEDULED", "OPEN", "PENDING_PAYMENT", "SOLD", "UNSOLD", "CANCELED"),
    ("payments", "status"): (
        "CREATING",
        "REQUIRES_PAYMENT",
        "REQUIRES_ACTION",
        "PROCESSING",
        "SUCCEEDED",
        "FAILED",
        "EXPIRED",
        "CANCELED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ),
    ("refunds", "status"): ("pending", "succeeded", "failed"),
    ("users", "role"): ("bidder", "seller", "admin"),
}


def _replace(table: str, column: str, values: Sequence[str] | None) -> None:
    name = f"ck_{table}_{column}"
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
    if values is not None:
        op.create_check_constraint(op.f(name), table, one_of(column, values))


def upgrade() -> None:
    for (table, column), values in CHECKS.items():
        _replace(table, column, values)


def downgrade() -> None:
    for (table, column), values in CHECKS.items():
        _replace(table, column, None if table == "refunds" else values)
