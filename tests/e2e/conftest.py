"""Fixtures of the HTTP tests: `api` (a fresh app per test) and `shared_api` (one app per module).

The helpers live in tests/api_harness.py; they are re-exported here for tests that import them from
`conftest`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_harness import (  # noqa: F401  (re-exported)
    PASSWORD,
    TINY,
    Api,
    fresh_key,
    receive,
    running_api,
    settings_for,
    sign_in_every_role,
)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for a whole module (RBAC, schemathesis): for tests that do not care what others wrote."""
    with running_api(tmp_path_factory.mktemp("api")) as running:
        yield running
