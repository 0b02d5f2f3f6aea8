"""Alerts and RFID tag bindings of the terminal features (adapters/sql/terminal_tables.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("raised_at", sa.Double(), nullable=False),
        sa.Column("cleared_at", sa.Double(), nullable=True),
        sa.Column("acknowledged_at", sa.Double(), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("acknowledged_note", sa.String(), nullable=False),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("closed_note", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])
    op.create_table(
        "rfid_tags",
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("coil", sa.String(), nullable=False),
        sa.Column("bound_at", sa.Double(), nullable=False),
        sa.Column("bound_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("tag", name="pk_rfid_tags"),
    )
    op.create_index("ix_rfid_tags_coil", "rfid_tags", ["coil"])


def downgrade() -> None:
    op.drop_index("ix_rfid_tags_coil", table_name="rfid_tags")
    op.drop_table("rfid_tags")
    op.drop_index("ix_alerts_raised_at", table_name="alerts")
    op.drop_table("alerts")
