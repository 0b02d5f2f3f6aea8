"""Schema upgrades from code: `migrate(url)` brings a database to the newest revision; no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from adapters.sql.engine import create_engine_for, normalise_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | sa.URL | None = None) -> Config:
    """An alembic Config for our migrations, e.g. for ``command.revision(cfg, "...", autogenerate=True)``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = normalise_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))  # ConfigParser interpolation
    return config


def migrate(database: str | sa.URL | Engine, revision: str = "head") -> None:
    """Upgrade `database` (a URL, or an Engine, e.g. for an in-memory SQLite) to `revision`.

    Idempotent: at head it does nothing. On PostgreSQL concurrent callers take turns (an advisory lock in
    env.py), so every process of a deployment may call it at start; on SQLite call it from one process.
    """
    engine = database if isinstance(database, Engine) else create_engine_for(database)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if engine is not database:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
