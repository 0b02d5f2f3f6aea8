"""SQL persistence of the WMS (SQLAlchemy 2 Core, alembic): SQLite by default, PostgreSQL in production.

    engine = create_engine_for(settings.database_url)
    migrate(engine)                        # or migrate(url); at head it does nothing
    with SqlUnitOfWork(engine, plant) as uow:
        uow.yard.receive_coil(...)
        uow.commit()                       # StaleVersion if another writer got there first: retry

See unit_of_work.py for the concurrency argument, tables.py for the schema, codec.py for the event format.
"""

from adapters.sql import auth_tables, terminal_tables  # noqa: F401  (register the service's tables on the shared metadata)
from adapters.sql.engine import create_engine_for
from adapters.sql.migration import alembic_config, current_revision, head_revision, migrate
from adapters.sql.unit_of_work import SqlUnitOfWork, forget_cached_yards

__all__ = [
    "SqlUnitOfWork",
    "alembic_config",
    "create_engine_for",
    "current_revision",
    "forget_cached_yards",
    "head_revision",
    "migrate",
]
