"""The HTTP service under test, in-process: starlette's TestClient (httpx over the ASGI app, lifespan run),
one user per role, each test its own SQLite file and so its own ledger (fixtures in tests/e2e/conftest.py).
Real-server tests (tests/e2e/test_crash.py) start uvicorn themselves against PostgreSQL.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from coilyard.api import create_app
from coilyard.api.security import SERVICE_ROLES, Role
from coilyard.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "examples" / "tiny.yaml"
PASSWORD = "correct horse battery"
_keys = itertools.count(1)


def fresh_key() -> str:
    return f"k{time.time_ns()}-{next(_keys)}"


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role, key: str | None = None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.tokens[role]}"}
        out["Idempotency-Key"] = key or fresh_key()
        return out

    def post(self, path: str, role: Role = Role.ADMIN, json: object = None, key: str | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=json, headers=self.headers(role, key))

    def get(self, path: str, role: Role = Role.OPERATOR, **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[role]}"})


def settings_for(directory: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{directory / 'api.db'}", layout=TINY, runs_dir=directory / "runs"
    )


def sign_in_every_role(client: TestClient, app: FastAPI) -> dict[Role, str]:
    users = app.state.services.users
    tokens: dict[Role, str] = {}
    for role in Role:
        name = f"u-{role.value}"
        if role in SERVICE_ROLES:
            users.add_user(name, role)
            tokens[role] = users.issue_service_token(name, time.time()).token
        else:
            users.add_user(name, role, PASSWORD)
            reply = client.post("/api/auth/token", json={"username": name, "password": PASSWORD})
            assert reply.status_code == 200, reply.text
            tokens[role] = reply.json()["access_token"]
    return tokens


@contextlib.contextmanager
def running_api(directory: Path) -> Iterator[Api]:
    app = create_app(settings_for(directory))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(app, client, sign_in_every_role(client, app))


def receive(api: Api, coil: str, **overrides: object) -> dict[str, object]:
    body = {
        "coil": coil, "location": "H-FS1", "alloy": "5182", "width": 1.5, "gauge": 2.0,
        "outer_diameter": 1.8, "inner_diameter": 0.6, "weight": 10.0,
    }  # fmt: skip
    body.update(overrides)
    reply = api.post("/api/wms/coils", Role.OPERATOR, body)
    assert reply.status_code == 201, reply.text
    result: dict[str, object] = reply.json()
    return result
