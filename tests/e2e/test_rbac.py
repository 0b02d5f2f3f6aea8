"""Every role against every mutating route, read from the app's route table.

The routes come from the app's OpenAPI document (FastAPI builds it from the route table). A mutating route
must declare its roles (`x-roles`, from `deps.allow`); a route without one fails
`test_every_mutating_route_declares_its_roles`. For each (route, role) the request (with an empty body and
dummy path IDs) must be refused with 403 exactly when the role is not allowed: allowed roles get past the
check (any other status: 201, 404 for the dummy IDs, 422 for the empty body ...).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from coilyard.api import create_app
from coilyard.api.security import SERVICE_ROLES, Role
from tests.api_harness import PASSWORD, Api, fresh_key, settings_for

pytestmark = pytest.mark.e2e
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _mutating_routes() -> list[tuple[str, str, list[str] | None]]:
    """Every mutating operation of the app, as its route table publishes it (the OpenAPI document, which
    FastAPI builds from every included route; this FastAPI keeps included routers as lazy entries)."""
    app = create_app(settings_for(Path("/nonexistent")))  # built, never started: only the route table
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if method.upper() in MUTATING:
                found.append((method.upper(), path, operation.get("x-roles")))
    return sorted(found)


ROUTES = _mutating_routes()


def test_the_route_table_has_mutations() -> None:
    assert len(ROUTES) >= 30


def test_every_mutating_route_declares_its_roles() -> None:
    missing = [f"{method} {path}" for method, path, roles in ROUTES if not roles]
    assert missing == []


# A body no route accepts (every body model forbids unknown fields): allowed roles get 422 or, on routes
# without a body, whatever the dummy IDs give (404); nothing is created, no simulation is started.
PROBE = {"rbac_probe": 1}


def _another_token(api: Api, role: Role) -> str:
    users = api.app.state.services.users
    name = f"u-{role.value}"
    if role in SERVICE_ROLES:
        return str(users.issue_service_token(name, time.time()).token)
    return str(users.login(name, PASSWORD, time.time()).token)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X1", path)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_role_against_route(shared_api: Api, method: str, path: str, roles: list[str], role: Role) -> None:
    api = shared_api
    headers = api.headers(role, fresh_key())
    if path == "/api/auth/logout":  # it would revoke the role's shared token: use a token of its own
        headers["Authorization"] = f"Bearer {_another_token(api, role)}"
    reply = api.client.request(method, _concrete(path), headers=headers, json=PROBE)
    if "*" in roles or role.value in roles:
        assert reply.status_code not in (401, 403), f"{role} should pass: {reply.status_code} {reply.text}"
    else:
        assert reply.status_code == 403, f"{role} should be refused: {reply.status_code} {reply.text}"
        assert reply.json()["error"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_anonymous_is_refused_except_on_public_routes(
    shared_api: Api, method: str, path: str, roles: list[str]
) -> None:
    reply = shared_api.client.request(
        method, _concrete(path), json=PROBE, headers={"Idempotency-Key": fresh_key()}
    )
    if "*" in roles:
        assert reply.status_code != 401
    else:
        assert reply.status_code == 401, reply.text


def test_admin_is_allowed_everywhere() -> None:
    assert all("*" in roles or Role.ADMIN.value in roles for _, _, roles in ROUTES if roles)
