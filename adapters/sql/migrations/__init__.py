"""Alembic migrations of the SQL adapter; run them with `adapters.sql.migrate(url)` (no alembic.ini needed)."""
