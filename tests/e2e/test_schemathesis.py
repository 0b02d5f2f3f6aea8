"""Property-based API test with schemathesis: generated requests for every operation of the OpenAPI
document, sent as admin (so requests reach the domain). Bounded (`MAX_EXAMPLES` per operation, well under a
minute in all). Checks: no 5xx, and every response matches the documented schema for its status.

Left out: the SSE stream (never ends), logout (would revoke the token the test runs with), starting
simulation runs (child processes) and the plan drawing (slow; tests/e2e/test_api_ops.py fetches it).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from coilyard.api import create_app
from coilyard.api.security import Role
from tests.api_harness import settings_for, sign_in_every_role

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 8
STATUSES: Counter[int] = Counter()  # what the cases got, for the sanity test at the end
UNAUTHORISED: set[str] = set()

APP = create_app(settings_for(Path(tempfile.mkdtemp(prefix="coilyard-schemathesis-"))))
schema = (
    schemathesis.openapi.from_dict(APP.openapi())
    .exclude(path="/api/events")
    .exclude(path="/api/auth/logout")
    .exclude(path="/api/layout/plan.svg")
    .exclude(path="/api/simulations", method="POST")
)


@pytest.fixture(scope="module")
def admin_client() -> Iterator[TestClient]:
    """One client for every case: the lifespan runs once (database migrated, writer started)."""
    with TestClient(APP, raise_server_exceptions=False) as client:
        tokens = sign_in_every_role(client, APP)
        client.headers["Authorization"] = f"Bearer {tokens[Role.ADMIN]}"
        yield client


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms(case: schemathesis.Case[Any], admin_client: TestClient) -> None:
    request = case.as_transport_kwargs(base_url=str(admin_client.base_url))
    # The schema declares bearer auth, so cases carry made-up tokens: always send the admin's.
    headers = {**(request.get("headers") or {}), "Authorization": admin_client.headers["Authorization"]}
    response = admin_client.request(
        request["method"], request["url"], params=request.get("params"), headers=headers,
        cookies=request.get("cookies"), json=request.get("json"), content=request.get("data"),
    )  # fmt: skip
    STATUSES[response.status_code] += 1
    if response.status_code == 401:
        UNAUTHORISED.add(case.operation.path)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def test_the_cases_reached_the_application() -> None:
    """Runs after the cases (file order): they were authorised and some succeeded, so the checks saw real
    replies, not a wall of 401s."""
    assert sum(STATUSES.values()) >= 100
    assert UNAUTHORISED - {"/api/auth/token"} == set()  # only logging in with made-up passwords
    assert sum(n for status, n in STATUSES.items() if 200 <= status < 300) >= 20
