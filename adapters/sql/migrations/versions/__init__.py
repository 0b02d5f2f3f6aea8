"""One module per schema revision, oldest first; alembic finds them by their `revision` ids."""
