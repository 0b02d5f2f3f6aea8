"""A retried request (same Idempotency-Key) is applied once and gets the first reply."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from coilyard.api.security import Role
from tests.api_harness import Api, receive

pytestmark = pytest.mark.e2e


def _move(api: Api, key: str, target: str = "FS1-B1-R01-P03-G", role: Role = Role.OPERATOR):  # type: ignore[no-untyped-def]
    return api.post("/api/wms/moves/direct", role, {"unit": "K1", "target": target, "carrier": "C1"}, key=key)


def test_same_key_twice_applies_once_and_replies_the_same(api: Api) -> None:
    receive(api, "K1")
    first = _move(api, "move-1")
    assert first.status_code == 201, first.text
    version = api.get("/api/wms/stats").json()["version"]
    second = _move(api, "move-1")
    assert second.status_code == first.status_code
    assert {**second.json(), "replayed": False} == {**first.json(), "replayed": False}
    assert second.json()["replayed"] is True and first.json()["replayed"] is False
    assert api.get("/api/wms/stats").json()["version"] == version  # nothing applied the second time
    moves = [row for row in api.get("/api/wms/coils/K1/history").json() if row["what"] == "MoveCompleted"]
    assert len(moves) == 1


def test_twin_requests_racing_apply_once(api: Api) -> None:
    receive(api, "K1")
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: _move(api, "twin"), range(8)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["move"] for r in replies}) == 1
    assert sum(not r.json()["replayed"] for r in replies) == 1
    completed = [row for row in api.get("/api/wms/coils/K1/history").json() if row["what"] == "MoveCompleted"]
    assert len(completed) == 1


def test_a_key_reused_for_another_command_is_refused(api: Api) -> None:
    receive(api, "K1")
    assert _move(api, "k").status_code == 201
    other = _move(api, "k", target="FS1-B1-R01-P04-G")
    assert other.status_code == 409
    assert other.json()["error"] == "IdempotencyKeyReused"


def test_keys_are_per_user(api: Api) -> None:
    receive(api, "K1")
    assert _move(api, "same", role=Role.OPERATOR).status_code == 201
    other_user = _move(api, "same", target="FS1-B1-R01-P04-G", role=Role.SUPERVISOR)
    assert other_user.status_code == 201 and other_user.json()["replayed"] is False


def test_a_refused_command_is_not_remembered(api: Api) -> None:
    receive(api, "K1")
    refused = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": "NOWHERE", "carrier": "C1"}, key="r"
    )
    assert refused.status_code == 404
    again = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": "NOWHERE", "carrier": "C1"}, key="r"
    )
    assert again.status_code == 404


def test_a_mutation_without_a_key_is_422_naming_the_header(api: Api) -> None:
    receive(api, "K1")
    reply = api.client.post(
        "/api/wms/moves/direct", json={"unit": "K1", "target": "FS1-B1-R01-P03-G", "carrier": "C1"},
        headers={"Authorization": f"Bearer {api.tokens[Role.OPERATOR]}"},
    )  # fmt: skip
    assert reply.status_code == 422
    assert reply.json()["field"] == "header.Idempotency-Key"
