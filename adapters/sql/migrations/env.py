"""Alembic environment: the tables' metadata, batch mode on SQLite, one transaction per upgrade.

`adapters.sql.migrate` hands over an open connection in ``config.attributes["connection"]``; run from the
command line, the URL comes from ``sqlalchemy.url`` (see `adapters.sql.alembic_config`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from adapters.sql.engine import create_engine_for
from adapters.sql.tables import metadata

#: Any constant of our own: concurrent `migrate` calls on one PostgreSQL database take turns on this lock.
MIGRATION_LOCK = 7_364_200_001


def run_migrations(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite has almost no ALTER TABLE
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Held to the end of the transaction; the version table is read after it, so a second
            # migrator waits for the first and then finds the schema at head.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


def run_offline() -> None:
    """`alembic upgrade --sql`: write the SQL instead of running it."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection in config.attributes")
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
