"""The ledger, idempotency results and the units projection.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in adapters/sql/tables.py as of this revision (a migration never imports the
# current tables: they move on, this file must not).
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("seq", Seq, nullable=False, autoincrement=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger"),
    )
    op.create_index("ix_ledger_unit_seq", "ledger", ["unit", "seq"])
    op.create_index("ix_ledger_kind", "ledger", ["kind"])

    op.create_table(
        "idempotency",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("result", sa.JSON(none_as_null=False), nullable=True),
        sa.Column("ledger_seq", Seq, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("key", name="pk_idempotency"),
    )

    op.create_table(
        "units",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("ledger_seq", Seq, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
    )
    op.create_index("ix_units_location", "units", ["location"])
    exclusive = sa.column("exclusive", sa.Boolean()) == sa.true()
    op.create_index(
        "ux_units_exclusive_location",
        "units",
        ["location"],
        unique=True,
        sqlite_where=exclusive,
        postgresql_where=exclusive,
    )


def downgrade() -> None:
    op.drop_index("ux_units_exclusive_location", table_name="units")
    op.drop_index("ix_units_location", table_name="units")
    op.drop_table("units")
    op.drop_table("idempotency")
    op.drop_index("ix_ledger_kind", table_name="ledger")
    op.drop_index("ix_ledger_unit_seq", table_name="ledger")
    op.drop_table("ledger")
