"""The API on the Redis Streams bus (COILYARD_EVENTS_REDIS): two app instances share one Redis (real,
127.0.0.1:6379, `./scripts/services`); each test uses its own stream and cache namespace and deletes it.

- a move committed through instance A shows up on instance B's /api/events stream, once;
- instance A drives the twin's simulated vehicles: their reports reach the vehicle-state cache and B's
  /api/vehicles/live, and A's order changes reach B's /api/events;
- without Redis, /api/vehicles/live says what is missing; an unreachable Redis stops the start, named.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.redis_bus import BusUnavailable, RedisEventBus
from coilyard.api import create_app
from coilyard.api.events import BusRelay
from coilyard.api.security import Role
from coilyard.cli_serve import build_app
from coilyard.settings import Settings
from tests.api_harness import Api, receive, settings_for, sign_in_every_role
from wms.domain.events import HoldReleased

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/0"
ORDER = {
    "order": "T1", "vehicle_class": "agv", "unit": "K1", "weight": 20,
    "destinations": [{"node": "HM-X", "operation": "pick"}, {"node": "H-FS1", "operation": "drop"}],
}  # fmt: skip


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"coilyard-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def bus_settings(directory: Path, **overrides: Any) -> Settings:
    directory.mkdir(parents=True, exist_ok=True)
    return settings_for(directory).model_copy(
        update={"events_redis": True, "redis_url": REDIS_URL, **overrides}
    )


@contextlib.contextmanager
def running(app: FastAPI, namespace: str) -> Iterator[Api]:
    relay = app.state.event_bus
    assert isinstance(relay, BusRelay)
    relay.namespace = namespace  # before the lifespan: nothing has touched Redis yet
    with TestClient(app, raise_server_exceptions=False) as client:
        assert app.state.services.hub.relay is relay
        yield Api(app, client, sign_in_every_role(client, app))


class Listener:
    """Reads an instance's /api/events in a thread until `until(event)` or `limit` events."""

    def __init__(self, api: Api, types: str, until: Any = None, limit: int = 10_000) -> None:
        self.api = api
        self.events: list[dict[str, Any]] = []
        self.done = threading.Event()
        self._types, self._until, self._limit = types, until, limit
        hub = api.app.state.services.hub
        before = hub.subscribers
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while hub.subscribers <= before:  # subscribed before anything is published
            assert time.monotonic() < deadline, "the event stream did not subscribe"
            time.sleep(0.02)

    def _listen(self) -> None:
        headers = {"Authorization": f"Bearer {self.api.tokens[Role.OPERATOR]}"}
        params = {"types": self._types, "max_events": self._limit}
        with self.api.client.stream("GET", "/api/events", params=params, headers=headers) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    self.events.append(event)
                    if self._until is not None and self._until(event):
                        break
        self.done.set()

    def wait(self, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        assert self.done.wait(timeout_s), f"stream did not finish; got {self.events}"
        return self.events


def test_a_move_committed_on_one_instance_streams_on_the_other(tmp_path: Path, namespace: str) -> None:
    a_app = create_app(bus_settings(tmp_path / "a"))
    b_app = create_app(bus_settings(tmp_path / "b"))
    with running(b_app, namespace) as b, running(a_app, namespace) as a:
        moved_on = lambda e: e["kind"] == "MoveCompleted"  # noqa: E731
        on_b = Listener(b, "ledger", until=moved_on)
        on_a = Listener(a, "ledger", until=moved_on)
        receive(a, "K1")
        target = "FS1-B1-R01-P03-G"
        moved = a.post(
            "/api/wms/moves/direct", Role.OPERATOR, {"unit": "K1", "target": target, "carrier": "C1"}
        )
        assert moved.status_code == 201, moved.text
        seen_on_b = on_b.wait()
        seen_on_a = on_a.wait()
        history = [row["what"] for row in a.get("/api/wms/coils/K1/history").json()]
        assert [e["kind"] for e in seen_on_b] == history  # every committed entry, in order, once
        assert {e["unit"] for e in seen_on_b} == {"K1"} and seen_on_b[-1]["target"] == target
        assert seen_on_b[0]["kind"] == "CoilReceived" and seen_on_b[0]["actor"] == "u-operator"
        assert seen_on_a == seen_on_b  # A hears its own commits through the bus too, the same way
        assert [e["seq"] for e in seen_on_b] == sorted({e["seq"] for e in seen_on_b})

        # A ledger entry appended twice (a publish retried after a lost reply) reaches the stream once.
        bus = RedisEventBus(REDIS_URL)
        try:
            again = Listener(b, "ledger", limit=1)
            event = HoldReleased(unit="K9", hold="H1", actor="u-bus", at=1.0)
            wms_stream = f"{namespace}:wms"
            bus.publish(wms_stream, event, seq=seen_on_b[0]["seq"])  # already delivered: dropped
            bus.publish(wms_stream, event, seq=10_000)
            assert [(e["unit"], e["seq"]) for e in again.wait()] == [("K9", 10_000)]
        finally:
            bus.close()
    assert a_app.state.services.hub.relay is None  # stopped with the app


def test_vehicle_reports_reach_the_cache_and_the_other_instance(tmp_path: Path, namespace: str) -> None:
    b_app = create_app(bus_settings(tmp_path / "b"))
    a_app = build_app(bus_settings(tmp_path / "a", vehicles="sim", sim_speed_up=200.0))
    with running(b_app, namespace) as b, running(a_app, namespace) as a:
        finished = Listener(b, "fleet", until=lambda e: e.get("order") == "T1" and e["state"] == "finished")
        vehicles_on_b = Listener(b, "vehicle", until=lambda e: e.get("node") == "H-FS1" and "operation" in e)
        reply = a.post("/api/fleet/orders", Role.PLANNER, ORDER)
        assert reply.status_code == 201, reply.text

        changes = [e["state"] for e in finished.wait(60) if e.get("order") == "T1"]
        assert changes == ["assigned", "active", "finished"]
        reports = vehicles_on_b.wait(60)
        vehicle = a.get("/api/fleet/orders/T1").json()["vehicle"]
        path = [e["node"] for e in reports if e["vehicle"] == vehicle and "node" in e]
        assert "HM-X" in path and path[-1] == "H-FS1", path

        # The vehicle may still be clearing the handover: wait until it is idle and every view agrees.
        plant = a_app.state.services.plant
        deadline = time.monotonic() + 30
        while True:
            on_b, on_a = b.get("/api/vehicles/live").json(), a.get("/api/vehicles/live").json()
            live = {row["vehicle"]: row for row in on_b}
            row = live.get(vehicle, {})
            fleet_view = {v["vehicle"]: v for v in a.get("/api/fleet/vehicles").json()}[vehicle]
            settled = row.get("state") == "idle" and fleet_view["state"] == "idle"
            if settled and on_a == on_b and row["node"] == fleet_view["position"]:
                break  # one cache, any replica; the cache agrees with A's fleet core
            assert time.monotonic() < deadline, f"live view {row} vs fleet {fleet_view}"
            time.sleep(0.05)
        assert row["load"] is False  # dropped at H-FS1
        assert (row["x"], row["y"]) == plant.node_points[row["node"]]
        assert abs(row["at"] - time.time()) < 60  # wall clock, not the simulated port's own
        assert set(live) <= set(plant.vehicles)
        cache = b_app.state.event_bus.cache
        snapshot = cache.read(vehicle)
        assert snapshot is not None and (snapshot.node, snapshot.load) == (row["node"], False)
        assert cache.ttl_s(vehicle) is not None  # expires if the vehicle goes quiet


def test_without_redis_the_live_vehicles_route_says_what_is_missing(api: Api) -> None:
    assert api.app.state.event_bus is None and api.app.state.services.hub.relay is None
    reply = api.get("/api/vehicles/live")
    assert reply.status_code == 404
    assert "COILYARD_EVENTS_REDIS" in reply.json()["detail"]


def test_an_unreachable_redis_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    app = create_app(bus_settings(tmp_path, redis_url="redis://127.0.0.1:1/0"))  # nothing listens on port 1
    with (
        pytest.raises(
            BusUnavailable, match=r"COILYARD_EVENTS_REDIS is set but Redis at redis://127\.0\.0\.1:1/0"
        ),
        TestClient(app),
    ):
        pass
