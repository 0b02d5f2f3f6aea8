"""What routes depend on: the services of the app, the caller's identity, role rules, idempotency keys.

A mutating route declares its roles with `**allow(Role.X, ...)`: that adds the check (403 otherwise) and
writes the rule into the OpenAPI operation as ``x-roles``, which the RBAC test reads from the route table,
so a mutating route without a rule fails that test. Admin may do everything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from coilyard.api.audit import AuditLog
from coilyard.api.events import EventHub
from coilyard.api.security import Principal, Role, UserStore
from coilyard.api.writer import CommandWriter, Outcome
from coilyard.settings import Settings
from layout import Plant
from wms.domain.yard import Yard
from wms.service_layer import commands as cmd

if TYPE_CHECKING:
    from coilyard.api.fleet import FleetControl
    from coilyard.api.metrics import Metrics
    from coilyard.api.simulation import SimulationRuns

T = TypeVar("T")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,99}$"
KEY_PATTERN = r"^[A-Za-z0-9_.:/@+-]{1,128}$"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    plant: Plant
    writer: CommandWriter
    users: UserStore
    hub: EventHub
    audit: AuditLog
    fleet: FleetControl
    metrics: Metrics
    simulations: SimulationRuns
    started_at: float = field(default_factory=time.time)

    async def run(self, command: cmd.Command) -> Outcome:
        """Apply a WMS command through the writer; the reply comes once its batch committed."""
        return await asyncio.wrap_future(self.writer.submit(command))

    async def read(self, query: Callable[[Yard], T]) -> T:
        return await asyncio.wrap_future(self.writer.read(query))


async def services(request: Request) -> Services:
    """Async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop per request."""
    found: Services = request.app.state.services
    return found


_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/token, or a service token.")


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The logged-in caller; 401 without a valid, unexpired token."""
    if credentials is None:
        raise HTTPException(
            401, "log in first: send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"}
        )
    users: UserStore = request.app.state.services.users
    now = time.time()
    who = users.cached(credentials.credentials, now)
    if who is None:
        who = await asyncio.to_thread(users.authenticate, credentials.credentials, now)
    if who is None:
        raise HTTPException(
            401, "the token is unknown or expired: log in again", {"WWW-Authenticate": "Bearer"}
        )
    request.state.principal = who
    return who


class _Require:
    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    async def __call__(self, who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise HTTPException(403, f"role {who.role} may not do this (allowed: {allowed})")
        return who


def allow(*roles: Role) -> dict[str, Any]:
    """Route keyword arguments: only these roles (and admin) may call it; recorded as ``x-roles``."""
    allowed = frozenset(roles) | {Role.ADMIN}
    return {
        "dependencies": [Depends(_Require(allowed))],
        "openapi_extra": {"x-roles": sorted(allowed)},
    }


def public() -> dict[str, Any]:
    """Route keyword arguments of a mutating route anyone may call (logging in)."""
    return {"openapi_extra": {"x-roles": ["*"]}}


Caller = Annotated[Principal, Depends(principal)]
App = Annotated[Services, Depends(services)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="A client-chosen key per intended change; a retry with the same key is applied once and "
        "gets the first reply.",
    ),
]


def scoped_key(who: Principal, key: str) -> str:
    """Keys are per user: two terminals choosing the same key never see each other's results."""
    return f"{who.name}/{key}"


def note_version(request: Request, outcome: Outcome) -> None:
    """For the audit row: the ledger version the command's batch produced."""
    request.state.ledger_seq = outcome.version


@dataclass
class Mutation:
    """What a WMS mutation needs besides its body: the app, the request, the caller and the scoped key."""

    app: Services
    request: Request
    who: Principal
    key: str

    @property
    def stamp(self) -> dict[str, Any]:
        """The command's `actor` and `idempotency_key`."""
        return {"actor": self.who.name, "idempotency_key": scoped_key(self.who, self.key)}


async def mutation(request: Request, who: Caller, key: IdempotencyKey) -> Mutation:
    return Mutation(request.app.state.services, request, who, key)


Act = Annotated[Mutation, Depends(mutation)]
