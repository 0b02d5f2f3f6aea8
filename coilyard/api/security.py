"""Users, roles, argon2 passwords and expiring bearer tokens (stored in the WMS database).

A token is 32 random bytes shown to the client once; the database keeps only its SHA-256, the user and the
expiry. People log in with a password and get a token valid `token_ttl_s`; vehicle and integration clients
are service accounts without a password whose long-lived token an admin issues (`coilyard users add`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from adapters.sql.auth_tables import api_tokens, api_users


class Role(StrEnum):
    OPERATOR = "operator"  # drives cranes and trucks, scans coils at a terminal
    SUPERVISOR = "supervisor"  # shift lead: holds, locks, corrections
    PLANNER = "planner"  # orders, retrievals, shipments, simulation runs
    ADMIN = "admin"  # everything, users
    VEHICLE = "vehicle"  # service account of a vehicle or crane controller
    INTEGRATION = "integration"  # service account of MES/ERP


SERVICE_ROLES = frozenset({Role.VEHICLE, Role.INTEGRATION})
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"

_hasher = PasswordHasher()


class AuthError(Exception):
    """Login refused (401); the message says why."""


class UnknownUser(AuthError):
    """User management named a user that does not exist (404)."""


class UserConflict(AuthError):
    """User management refused by the user's state: exists already, person vs service account (409)."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


@dataclass(frozen=True)
class IssuedToken:
    token: str
    user: str
    role: Role
    expires_at: float


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Users and tokens in the database, with a short in-process cache of checked tokens."""

    def __init__(self, engine: Engine, *, token_ttl_s: float, service_token_ttl_s: float, cache_s: float):
        self.engine = engine
        self.token_ttl_s = token_ttl_s
        self.service_token_ttl_s = service_token_ttl_s
        self.cache_s = cache_s
        self._cache: dict[str, tuple[Principal, float]] = {}  # digest -> (who, trust until)
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------- users

    def add_user(self, name: str, role: Role, password: str | None = None) -> None:
        service = role in SERVICE_ROLES
        if service and password:
            raise UserConflict(f"'{name}' has role {role}: service accounts log in by token, not password")
        if not service and not password:
            raise UserConflict(f"'{name}' has role {role}: a person needs a password")
        password_hash = _hasher.hash(password) if password else None
        with self.engine.begin() as connection:
            exists = connection.execute(sa.select(api_users.c.name).where(api_users.c.name == name)).first()
            if exists:
                raise UserConflict(f"user '{name}' already exists")
            connection.execute(
                sa.insert(api_users).values(
                    name=name, role=role.value, service=service, password_hash=password_hash, disabled=False
                )
            )

    def set_password(self, name: str, password: str) -> None:
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.update(api_users)
                .where(api_users.c.name == name, api_users.c.service == sa.false())
                .values(password_hash=_hasher.hash(password))
            )
            if done.rowcount == 0:
                raise UnknownUser(f"no person named '{name}'")

    def remove_user(self, name: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(api_tokens).where(api_tokens.c.user == name))
            done = connection.execute(sa.delete(api_users).where(api_users.c.name == name))
            if done.rowcount == 0:
                raise UnknownUser(f"no user named '{name}'")
        with self._lock:
            self._cache = {d: v for d, v in self._cache.items() if v[0].name != name}

    def users(self) -> list[dict[str, object]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    api_users.c.name, api_users.c.role, api_users.c.service, api_users.c.disabled
                ).order_by(api_users.c.name)
            ).all()
        return [{"name": r.name, "role": r.role, "service": r.service, "disabled": r.disabled} for r in rows]

    def has_user(self, name: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(sa.select(api_users.c.name).where(api_users.c.name == name)).first()
        return found is not None

    # --------------------------------------------------------------------------------------- tokens

    def login(self, name: str, password: str, now: float) -> IssuedToken:
        """A token for a person whose password matches; the same message for every kind of failure."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(api_users.c.role, api_users.c.password_hash, api_users.c.disabled).where(
                    api_users.c.name == name
                )
            ).first()
        refused = AuthError("wrong user name or password")
        if row is None or row.password_hash is None or row.disabled:
            _hasher.hash(password)  # same cost whether the user exists or not
            raise refused
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            raise refused from None
        return self._issue(name, Role(row.role), now, self.token_ttl_s)

    def issue_service_token(self, name: str, now: float, ttl_s: float | None = None) -> IssuedToken:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(api_users.c.role, api_users.c.service).where(api_users.c.name == name)
            ).first()
        if row is None:
            raise UnknownUser(f"no user named '{name}'")
        if not row.service:
            raise UserConflict(f"'{name}' is a person: people log in with their password")
        return self._issue(name, Role(row.role), now, ttl_s or self.service_token_ttl_s)

    def _issue(self, name: str, role: Role, now: float, ttl_s: float) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        expires = now + ttl_s
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(api_tokens).values(digest=digest(token), user=name, expires_at=expires)
            )
        return IssuedToken(token, name, role, expires)

    def revoke(self, token: str) -> None:
        key = digest(token)
        with self.engine.begin() as connection:
            connection.execute(sa.delete(api_tokens).where(api_tokens.c.digest == key))
        with self._lock:
            self._cache.pop(key, None)

    def cached(self, token: str, now: float) -> Principal | None:
        """The cached identity for `token` while still trusted (no I/O), else None."""
        with self._lock:
            found = self._cache.get(digest(token))
        return found[0] if found is not None and found[1] > now else None

    def authenticate(self, token: str, now: float) -> Principal | None:
        """Who holds `token`, or None if it is unknown, expired, or its user is disabled or gone."""
        key = digest(token)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(api_users.c.name, api_users.c.role, api_tokens.c.expires_at)
                .join(api_users, api_users.c.name == api_tokens.c.user)
                .where(api_tokens.c.digest == key, api_users.c.disabled == sa.false())
            ).first()
        if row is None or row.expires_at <= now:
            with self._lock:
                self._cache.pop(key, None)
            return None
        principal = Principal(row.name, Role(row.role))
        with self._lock:
            self._cache[key] = (principal, min(now + self.cache_s, row.expires_at))
        return principal


def now() -> float:
    return time.time()
