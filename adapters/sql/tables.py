"""The tables (SQLAlchemy Core). The migrations in `migrations/versions` create them; a test keeps both equal.

``ledger``       the event stream: one row per LedgerEntry. ``seq`` is the primary key and the optimistic
                 version: a writer appends ``read_version + 1 ...``, so two writers that read the same
                 version collide on the key and only the first commits. ``at``/``actor``/``kind``/``unit``/
                 ``source``/``target``/``reason`` answer "who, when, what, from, to, why" in SQL;
                 ``payload`` is the whole event (adapters/sql/codec.py), from which the yard is replayed;
                 ``recorded_at`` is the database's wall clock at commit (``at`` is the yard's clock).
``idempotency``  results of commands already applied, by the client's key, stored in the transaction that
                 wrote the command's entries; ``ledger_seq`` is the ledger version that commit produced.
``units``        current-state projection (where is each coil or stack, and in what status), rewritten for
                 the units a commit touched, in that commit's transaction. ``exclusive`` is true while the
                 unit occupies a capacity-1 place (saddle, cell, stack position, single-load carrier); the
                 partial unique index on ``location`` over those rows makes the database refuse two units
                 in one such place, even if a bug let the domain allow it. Handovers hold any number of
                 units and shipped or consumed units are nowhere, so their rows are not exclusive.
"""

from __future__ import annotations

import sqlalchemy as sa

#: BIGINT on PostgreSQL; INTEGER on SQLite, where ``INTEGER PRIMARY KEY`` is the rowid (64-bit there too).
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("seq", Seq, primary_key=True, autoincrement=False),
    sa.Column("at", sa.Double(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("unit", sa.String(), nullable=True),
    sa.Column("source", sa.String(), nullable=True),
    sa.Column("target", sa.String(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
sa.Index("ix_ledger_unit_seq", ledger.c.unit, ledger.c.seq)
sa.Index("ix_ledger_kind", ledger.c.kind)

idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("result", sa.JSON(none_as_null=False), nullable=True),
    sa.Column("ledger_seq", Seq, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("kind", sa.String(), nullable=False),  # "coil" or "ingot_stack"
    sa.Column("location", sa.String(), nullable=False),  # where it is, or was last (shipped, consumed)
    sa.Column("status", sa.String(), nullable=False),  # UnitStatus value
    sa.Column("exclusive", sa.Boolean(), nullable=False),
    sa.Column("ledger_seq", Seq, nullable=False),  # the last entry that touched it
)
sa.Index("ix_units_location", units.c.location)
sa.Index(
    "ux_units_exclusive_location",
    units.c.location,
    unique=True,
    sqlite_where=units.c.exclusive == sa.true(),
    postgresql_where=units.c.exclusive == sa.true(),
)
