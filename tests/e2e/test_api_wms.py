"""WMS over HTTP: receive, put away, move, where, history; refusals are 4xx JSON naming what is wrong."""

from __future__ import annotations

import contextlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.sql import SqlUnitOfWork, create_engine_for
from coilyard.api.security import Role
from coilyard.bootstrap import SystemClock
from tests.api_harness import Api, receive
from wms.domain.errors import WmsError
from wms.service_layer import commands as cmd
from wms.service_layer.messagebus import MessageBus

pytestmark = pytest.mark.e2e


def test_receive_putaway_and_complete_a_move(api: Api) -> None:
    receive(api, "K1")
    proposal = api.post("/api/wms/putaway", Role.OPERATOR, {"coil": "K1", "store": "FS1"})
    assert proposal.status_code == 201, proposal.text
    move = proposal.json()
    assert move["unit"] == "K1" and move["state"] == "planned" and move["score"]
    started = api.post(f"/api/wms/moves/{move['move']}/start", Role.VEHICLE, {"carrier": "C1"})
    assert started.status_code == 200, started.text
    done = api.post(f"/api/wms/moves/{move['move']}/complete", Role.VEHICLE)
    assert done.status_code == 200, done.text
    where = api.get("/api/wms/coils/K1").json()
    assert where["location"] == move["target"]
    history = api.get("/api/wms/coils/K1/history").json()
    assert [row["what"] for row in history][:2] == ["CoilReceived", "MovePlanned"]
    assert {row["actor"] for row in history} == {"u-operator", "u-vehicle"}  # the acting users


def test_unknown_ids_are_404_with_the_id_named(api: Api) -> None:
    reply = api.get("/api/wms/coils/NOPE")
    assert reply.status_code == 404
    assert reply.json() == {
        "error": "UnknownUnit",
        "detail": "unknown coil or ingot stack 'NOPE'",
        "field": "unit",
    }


def test_out_of_range_body_is_422_naming_the_field(api: Api) -> None:
    reply = api.post(
        "/api/wms/coils", Role.OPERATOR,
        {"coil": "K9", "location": "H-FS1", "alloy": "5182", "width": -1, "gauge": 2, "outer_diameter": 1.8,
         "inner_diameter": 0.6, "weight": 10},
    )  # fmt: skip
    assert reply.status_code == 422
    assert reply.json()["field"] == "body.width"


def test_a_rule_violation_is_409_and_changes_nothing(api: Api) -> None:
    receive(api, "K1")
    receive(api, "K2")
    first = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": "FS1-B1-R01-P03-G", "carrier": "C1"}
    )
    assert first.status_code == 201, first.text
    version = api.get("/api/wms/stats").json()["version"]
    second = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K2", "target": "FS1-B1-R01-P03-G", "carrier": "C1"}
    )
    assert second.status_code == 409, second.text
    assert api.get("/api/wms/stats").json()["version"] == version
    assert api.get("/api/wms/coils/K2").json()["location"] == "H-FS1"


def test_a_multi_step_command_failing_half_way_leaves_no_trace(api: Api) -> None:
    receive(api, "K1")
    version = api.get("/api/wms/stats").json()["version"]
    # plan succeeds, the lift fails: the carrier is no vehicle or crane
    reply = api.post(
        "/api/wms/moves/direct",
        Role.OPERATOR,
        {"unit": "K1", "target": "FS1-B1-R01-P03-G", "carrier": "H-FS1"},
    )
    assert 400 <= reply.status_code < 500, reply.text
    assert api.get("/api/wms/stats").json()["version"] == version
    ok = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": "FS1-B1-R01-P03-G", "carrier": "C1"}
    )
    assert ok.status_code == 201, ok.text


def test_no_token_is_401(api: Api) -> None:
    assert api.client.get("/api/wms/coils").status_code == 401
    assert api.client.get("/api/wms/coils", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_health_ready_metrics_openapi(api: Api) -> None:
    assert api.client.get("/health").json()["status"] == "ok"
    ready = api.client.get("/ready").json()
    assert ready["ready"] is True and ready["schema_revision"] == ready["schema_head"]
    receive(api, "K1")
    metrics = api.client.get("/metrics").text
    assert 'coilyard_wms_commands_total{command="ReceiveCoil",outcome="applied"} 1.0' in metrics
    spec = api.client.get("/openapi.json").json()
    assert spec["paths"]["/api/wms/moves/direct"]["post"]["x-roles"]


def test_commits_of_another_process_are_seen_and_raced_safely(api: Api) -> None:
    """Another writer (the CLI, a second replica) commits behind the service's back: the service's next
    command is decided on the fresh state (caught up at the start of a burst, or after losing on the
    ledger's key)."""
    receive(api, "K1")
    services = api.app.state.services
    other = create_engine_for(services.settings.database_url)  # its own engine: its own yard cache
    try:
        bus = MessageBus(SqlUnitOfWork(other, services.plant), SystemClock())
        bus.handle(cmd.MoveNow(actor="cli", unit="K1", target="FS1-B1-R01-P03-G", carrier="C1"))
    finally:
        other.dispose()
    again = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": "FS1-B1-R01-P03-G", "carrier": "C1"}
    )
    assert again.status_code == 422, again.text  # already there: decided on the fresh state
    moved = api.post(
        "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": "FS1-B1-R01-P04-G", "carrier": "C1"}
    )
    assert moved.status_code == 201, moved.text
    assert api.get("/api/wms/coils/K1").json()["location"] == "FS1-B1-R01-P04-G"
    history = [row["actor"] for row in api.get("/api/wms/coils/K1/history").json()]
    assert "cli" in history


def test_racing_another_writer_under_load_keeps_the_yard_whole(api: Api) -> None:
    """Requests flood the service while another engine commits moves of the same coils: every reply is a
    commit or a refusal, and the stored ledger replays to a yard with every coil in exactly one place."""
    coils = [f"K{i}" for i in range(6)]
    for coil in coils:
        receive(api, coil)
    targets = [f"FS1-B1-R0{r}-P0{p}-G" for r in (1, 2) for p in range(3, 9)]
    services = api.app.state.services
    other = create_engine_for(services.settings.database_url)
    stop = threading.Event()

    def other_writer() -> None:
        bus = MessageBus(SqlUnitOfWork(other, services.plant), SystemClock())
        rng = random.Random(1)
        while not stop.is_set():
            with contextlib.suppress(WmsError):
                bus.handle(
                    cmd.MoveNow(actor="cli", unit=rng.choice(coils), target=rng.choice(targets), carrier="C1")
                )

    def client(n: int) -> list[int]:
        rng = random.Random(100 + n)
        statuses = []
        for _ in range(15):
            body = {"unit": rng.choice(coils), "target": rng.choice(targets), "carrier": "C1"}
            statuses.append(api.post("/api/wms/moves/direct", Role.OPERATOR, body).status_code)
        return statuses

    racer = threading.Thread(target=other_writer)
    racer.start()
    try:
        with ThreadPoolExecutor(6) as pool:
            statuses = [s for batch in pool.map(client, range(6)) for s in batch]
    finally:
        stop.set()
        racer.join()
        other.dispose()
    assert set(statuses) <= {201, 409, 422}
    assert 201 in statuses
    engine = create_engine_for(services.settings.database_url)
    try:
        with SqlUnitOfWork(engine, services.plant) as uow:
            yard = uow.yard
            assert [e.seq for e in yard.ledger] == list(range(1, len(yard.ledger) + 1))
            places = [c.location for c in yard.coils.values()]
            assert sorted(yard.coils) == coils
            assert len(set(places) - {"H-FS1"}) == len([p for p in places if p != "H-FS1"])
            assert api.get("/api/wms/stats").json()["version"] == len(yard.ledger)
    finally:
        engine.dispose()
