"""Tables of the HTTP service (users, bearer tokens, audit), on the WMS's metadata, in the same database.

``api_users``   people (operator, supervisor, planner, admin) with an argon2 password hash, and service
                accounts (vehicle, integration) that have no password and authenticate by token only.
``api_tokens``  bearer tokens by the SHA-256 of the secret (the secret itself is never stored), with the
                expiry as epoch seconds; deleting a user deletes its tokens.
``audit``       one row per mutating request: who (user and role), what (method, path, idempotency key),
                how it ended (HTTP status) and, for WMS commands, the ledger version it produced. The
                ledger's own ``actor`` column is the audit of every stock change; this table covers the rest
                (fleet, users, simulation runs) and refusals.
Migration: ``migrations/versions/v0002_api_auth.py``.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.sql.tables import Seq, metadata

api_users = sa.Table(
    "api_users",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("service", sa.Boolean(), nullable=False),
    sa.Column("password_hash", sa.String(), nullable=True),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("digest", sa.String(), primary_key=True),
    sa.Column("user", sa.String(), sa.ForeignKey("api_users.name", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", sa.Double(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
sa.Index("ix_api_tokens_user", api_tokens.c.user)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", Seq, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Double(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("method", sa.String(), nullable=False),
    sa.Column("path", sa.String(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("idempotency_key", sa.String(), nullable=True),
    sa.Column("ledger_seq", Seq, nullable=True),
)
sa.Index("ix_audit_actor_at", audit.c.actor, audit.c.at)
