"""Real databases for the SQL adapter's tests: SQLite files under tmp_path, and PostgreSQL on 127.0.0.1:5432.

Each test module that asks for PostgreSQL gets its own database ``coilyard_test_<random>`` (dropped at the
end of the module), and each test a fresh schema in it, reached through the URL's ``search_path`` option,
so the URL alone (which worker processes receive) points at the test's tables. PostgreSQL that cannot be
reached fails the test with what to do; it is never skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.sql import create_engine_for, migrate

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")

EngineFactory = Callable[[str], Engine]


def _admin_engine() -> Engine:
    return sa.create_engine(
        POSTGRES_SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test module."""
    admin = _admin_engine()
    name = f"coilyard_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres ({error.orig}). "
            "Start it with ./scripts/services, then run the tests again.",
            pytrace=False,
        )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _fresh_postgres_schema(database_url: str) -> str:
    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        engine.dispose()
    return f"{database_url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (no tables) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coilyard.db'}"
    return _fresh_postgres_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture
def database_url(blank_database_url: str) -> str:
    """URL of a database migrated to head, on each backend."""
    migrate(blank_database_url)
    return blank_database_url


@pytest.fixture
def make_engine() -> Iterator[EngineFactory]:
    """`make_engine(url)`: a new Engine (so a new process-level yard cache), disposed after the test."""
    engines: list[Engine] = []

    def make(url: str) -> Engine:
        engine = create_engine_for(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
