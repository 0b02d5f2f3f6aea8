"""`create_engine_for(url)`: an Engine set up for the unit of work on SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

#: How long a SQLite writer waits for another's write lock before failing ("database is locked").
SQLITE_BUSY_TIMEOUT_S = 30.0


def normalise_url(url: str | sa.URL) -> sa.URL:
    """The URL with a driver: ``postgresql://`` and ``postgres://`` mean psycopg 3 (``postgresql+psycopg``)."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_memory_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def create_engine_for(url: str | sa.URL, **kwargs: Any) -> Engine:
    """An Engine for `url` (extra keyword arguments go to `sqlalchemy.create_engine`).

    * SQLite file: WAL journal (readers never wait for the writer), a busy timeout of
      `SQLITE_BUSY_TIMEOUT_S` (writers queue for the single write lock instead of failing at once).
    * SQLite in memory (``sqlite://``): one connection shared by every thread (`StaticPool`), so all
      units of work of the process see one database. It lives as long as the engine.
    * PostgreSQL: psycopg 3, READ COMMITTED (enough: the ledger's ``seq`` primary key serialises
      writers; see adapters/sql/unit_of_work.py), pre-ping so a restarted server costs no failed command.
    """
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        memory = is_memory_sqlite(parsed)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        if memory:
            connect_args.setdefault("check_same_thread", False)
            kwargs.setdefault("poolclass", StaticPool)
        engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas(wal=not memory))
        return engine
    if backend == "postgresql":
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, **kwargs)
    raise ValueError(
        f"unsupported database {parsed.render_as_string(hide_password=True)}: use sqlite or postgresql"
    )


def _sqlite_pragmas(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    return on_connect
