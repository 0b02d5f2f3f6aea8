"""Fleet, layout and ops over HTTP: orders, pause/resume, integration level, plant model, live events."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from fastapi.testclient import TestClient

from adapters.sql.auth_tables import audit
from coilyard.api import create_app
from coilyard.api.events import BusRelay
from coilyard.api.security import Role
from tests.api_harness import Api, receive, settings_for, sign_in_every_role

pytestmark = pytest.mark.e2e


def test_submit_and_cancel_an_order(api: Api) -> None:
    vehicles = api.get("/api/fleet/vehicles").json()
    assert vehicles, "the tiny plant has vehicles"
    node = vehicles[0]["position"]
    order = {"order": "T1", "destinations": [{"node": node, "operation": "move"}]}
    created = api.post("/api/fleet/orders", Role.PLANNER, order)
    assert created.status_code == 201, created.text
    assert api.get("/api/fleet/orders/T1").json()["order"] == "T1"
    twice = api.post("/api/fleet/orders", Role.PLANNER, order)
    assert twice.status_code == 409 and twice.json()["error"] == "DuplicateOrder"
    cancelled = api.post("/api/fleet/orders/T1/cancel", Role.SUPERVISOR, {"reason": "test"})
    assert cancelled.status_code == 200, cancelled.text


def test_an_order_to_an_unknown_node_is_404_naming_it(api: Api) -> None:
    reply = api.post(
        "/api/fleet/orders", Role.PLANNER, {"order": "T2", "destinations": [{"node": "NOWHERE"}]}
    )
    assert reply.status_code == 404, reply.text
    assert "NOWHERE" in reply.json()["detail"]


def test_pause_resume_and_integration_level(api: Api) -> None:
    vehicle = api.get("/api/fleet/vehicles").json()[0]["vehicle"]
    assert api.post(f"/api/fleet/vehicles/{vehicle}/pause", Role.OPERATOR).json()["paused"] is True
    assert api.post(f"/api/fleet/vehicles/{vehicle}/resume", Role.SUPERVISOR).json()["paused"] is False
    reply = api.client.put(
        f"/api/fleet/vehicles/{vehicle}/integration",
        json={"level": "monitor"},
        headers=api.headers(Role.SUPERVISOR),
    )
    assert reply.json()["integration"] == "monitor"
    assert api.post("/api/fleet/vehicles/NOPE/pause", Role.OPERATOR).status_code == 404


def test_layout_model_and_figures(api: Api) -> None:
    summary = api.get("/api/layout").json()
    assert summary["plant"] == "tiny" and summary["stores"]
    model = api.get("/api/layout/model").json()
    assert {s["id"] for s in model["stores"]} >= {"FS1"}


def test_live_events_stream_committed_ledger_entries(api: Api) -> None:
    received: list[dict[str, object]] = []

    def listen() -> None:
        with api.client.stream(
            "GET", "/api/events", params={"max_events": 1, "types": "ledger"},
            headers={"Authorization": f"Bearer {api.tokens[Role.OPERATOR]}"},
        ) as stream:  # fmt: skip
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line.removeprefix("data: ")))

    hub = api.app.state.services.hub
    before = hub.subscribers  # other parts of the app may listen too
    listener = threading.Thread(target=listen)
    listener.start()
    for _ in range(200):  # wait for the stream's subscription before committing
        if hub.subscribers > before:
            break
        threading.Event().wait(0.05)
    receive(api, "K1")
    listener.join(timeout=30)
    assert received and received[0]["kind"] == "CoilReceived" and received[0]["unit"] == "K1"
    assert received[0]["actor"] == "u-operator"


def test_audit_records_the_acting_user(api: Api) -> None:
    receive(api, "K1")
    api.post("/api/wms/coils/K1/holds", Role.OPERATOR, {"kind": "qa", "reason": "check"})
    api.post("/api/wms/locations/H-FS1/lock", Role.OPERATOR, {"direction": "in", "reason": "x"})  # refused
    assert api.app.state.services.audit.flush() >= 0
    with api.app.state.services.engine.connect() as connection:
        rows = connection.execute(sa.select(audit.c.actor, audit.c.path, audit.c.status)).all()
    assert ("u-operator", "/api/wms/coils", 201) in rows
    assert ("u-operator", "/api/wms/coils/K1/holds", 201) in rows
    assert ("u-operator", "/api/wms/locations/H-FS1/lock", 403) in rows


def test_live_events_go_through_redis_when_configured(tmp_path: Path) -> None:
    """With COILYARD_EVENTS_REDIS the committed entry goes onto the WMS stream and reaches the SSE stream
    from there (needs Redis :6379; streams in a namespace of this test's own, deleted at the end)."""
    namespace = f"coilyard-test-{uuid.uuid4().hex[:12]}"
    app = create_app(settings_for(tmp_path).model_copy(update={"events_redis": True}))
    relay = app.state.event_bus
    assert isinstance(relay, BusRelay)
    relay.namespace = namespace
    client = redis.Redis.from_url(app.state.services.settings.redis_url, decode_responses=True)
    try:
        with TestClient(app, raise_server_exceptions=False) as http:
            tokens = sign_in_every_role(http, app)
            running = Api(app, http, tokens)
            assert app.state.services.hub.relay is relay
            test_live_events_stream_committed_ledger_entries(running)
        entries: list[tuple[str, dict[str, str]]] = list(client.xrange(f"{namespace}:wms") or [])  # type: ignore[arg-type]
        assert [fields["type"] for _, fields in entries] == ["wms"]
        assert '"CoilReceived"' in entries[0][1]["event"] and entries[0][1]["seq"].isdigit()
    finally:
        keys = list(client.scan_iter(match=f"{namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_a_simulation_run_over_http(api: Api) -> None:
    """Start a short run (`coilyard simulate` in a child process), follow it, fetch its KPIs and report."""
    started = api.post("/api/simulations", Role.PLANNER, {"hours": 0.2, "warmup_hours": 0, "replications": 1})
    assert started.status_code == 202, started.text
    run = started.json()["run"]
    assert api.get(f"/api/simulations/{run}/kpis").status_code in (200, 409)  # 409 while running
    state = "running"
    for _ in range(600):
        state = api.get(f"/api/simulations/{run}").json()["state"]
        if state != "running":
            break
        time.sleep(0.2)
    assert state == "done", api.get(f"/api/simulations/{run}").json()
    kpis = api.get(f"/api/simulations/{run}/kpis").json()
    assert kpis["schema"] == "coilyard.kpis/1" and "moves_completed" in kpis["kpis"]
    report = api.get(f"/api/simulations/{run}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert api.get("/api/simulations/000000000000").status_code == 404
