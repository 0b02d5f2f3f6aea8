"""Tables of the terminal features (alerts, RFID tags), on the WMS's metadata, in the same database.

``alerts``     every alert raised by the alert rules, with who acknowledged and closed it and when
               (coilyard/api/alerts.py); ids are given by the alert monitor.
``rfid_tags``  an RFID tag bound to a coil, so a tag can be scanned wherever a coil ID is
               (coilyard/api/labels.py).
Migration: ``migrations/versions/v0003_terminal.py``.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.sql.tables import metadata

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
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
)
sa.Index("ix_alerts_raised_at", alerts.c.raised_at)

rfid_tags = sa.Table(
    "rfid_tags",
    metadata,
    sa.Column("tag", sa.String(), primary_key=True),
    sa.Column("coil", sa.String(), nullable=False),
    sa.Column("bound_at", sa.Double(), nullable=False),
    sa.Column("bound_by", sa.String(), nullable=False),
)
sa.Index("ix_rfid_tags_coil", rfid_tags.c.coil)
