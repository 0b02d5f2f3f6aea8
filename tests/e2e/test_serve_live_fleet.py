"""`coilyard serve` with COILYARD_VEHICLES=sim: the app under uvicorn on a free port drives the twin's
simulated vehicles in real time (sped up) through the live fleet shell; an order posted over HTTP is driven to
the end, the vehicles' positions and the order's changes stream on /api/events, and shutdown stops the
simulation thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from adapters.errors import AdapterConfigError
from coilyard.api.fleet import BookOnlyFleet, LiveFleetControl
from coilyard.api.security import Role
from coilyard.bootstrap import LiveEventsPort
from coilyard.cli import app as cli
from coilyard.cli_serve import build_app
from coilyard.settings import Settings
from simulation.live_port import SimVehiclePort
from tests.api_harness import PASSWORD, TINY

pytestmark = pytest.mark.e2e

SPEED_UP = "200"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("COILYARD_LAYOUT", str(TINY))
    monkeypatch.setenv("COILYARD_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("COILYARD_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COILYARD_VEHICLES", "sim")
    monkeypatch.setenv("COILYARD_SIM_SPEED_UP", SPEED_UP)
    return tmp_path


@dataclass
class Served:
    app: Any
    url: str
    token: str

    def get(self, path: str, **params: object) -> Any:
        reply = httpx.get(f"{self.url}{path}", params=params, headers=self.auth, timeout=10)  # type: ignore[arg-type]
        assert reply.status_code == 200, reply.text
        return reply.json()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def served(env: Path) -> Iterator[Served]:
    settings = Settings()
    assert settings.vehicles == "sim" and settings.sim_speed_up == float(SPEED_UP)
    app = build_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    app.state.services.users.add_user("planner", Role.SUPERVISOR, PASSWORD)
    reply = httpx.post(f"{url}/api/auth/token", json={"username": "planner", "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    try:
        yield Served(app, url, reply.json()["access_token"])
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _sim_port(app: Any) -> SimVehiclePort:
    control = app.state.services.fleet
    assert isinstance(control, LiveFleetControl)
    tap = control.live.port
    assert isinstance(tap, LiveEventsPort)
    adapter = tap.port.adapter  # LiveEventsPort -> ConnectedPort -> the simulation
    assert isinstance(adapter, SimVehiclePort)
    return adapter


def test_an_order_posted_over_http_is_driven_by_simulated_vehicles_and_streamed(served: Served) -> None:
    sim = _sim_port(served.app)
    assert sim.running and sim.speed_up == float(SPEED_UP)
    events: list[dict[str, Any]] = []
    finished = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET", f"{served.url}/api/events", params={"types": "vehicle,fleet"}, headers=served.auth,
            timeout=httpx.Timeout(30.0),
        ) as stream:  # fmt: skip
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    events.append(event)
                    if event.get("order") == "T1" and event.get("state") == "finished":
                        finished.set()
                        return

    hub = served.app.state.services.hub
    before = hub.subscribers
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    deadline = time.monotonic() + 10
    while hub.subscribers <= before:
        assert time.monotonic() < deadline, "the event stream did not subscribe"
        time.sleep(0.02)

    order = {
        "order": "T1", "vehicle_class": "agv", "unit": "K1", "weight": 20,
        "destinations": [{"node": "HM-X", "operation": "pick"}, {"node": "H-FS1", "operation": "drop"}],
    }  # fmt: skip
    reply = httpx.post(f"{served.url}/api/fleet/orders", json=order, headers=served.auth)
    assert reply.status_code == 201, reply.text

    deadline = time.monotonic() + 60  # ~2 simulated minutes of driving and handling at 200x: about a second
    while (state := served.get("/api/fleet/orders/T1")["state"]) != "finished":
        assert state not in ("failed", "cancelled"), state
        assert time.monotonic() < deadline, f"order T1 still {state}"
        time.sleep(0.05)
    vehicle = served.get("/api/fleet/orders/T1")["vehicle"]
    home = served.app.state.services.plant.vehicles[vehicle].home
    rows = {v["vehicle"]: v for v in served.get("/api/fleet/vehicles")}
    assert rows[vehicle]["position"] != home  # it drove (and may be clearing the handover already)

    assert finished.wait(10), f"no 'finished' fleet event for T1; got {events}"
    listener.join(timeout=5)
    reported = [e for e in events if e["type"] == "vehicle" and e.get("source") == "sim"]
    path = [e["node"] for e in reported if e["vehicle"] == vehicle and "node" in e]
    assert "HM-X" in path and path[-1] == "H-FS1", path
    last = [e for e in reported if e["vehicle"] == vehicle and "x" in e][-1]
    assert (last["x"], last["y"]) == (38.0, 33.0)  # H-FS1 on the tiny plan
    assert {e["state"] for e in reported if "state" in e} >= {"moving", "loading", "idle"}
    done = [(e["node"], e["operation"]) for e in reported if e["vehicle"] == vehicle and "operation" in e]
    assert done == [("HM-X", "pick"), ("H-FS1", "drop")]
    changes = [e["state"] for e in events if e["type"] == "fleet" and e.get("order") == "T1"]
    assert changes == ["assigned", "active", "finished"]


def test_shutdown_stops_the_simulated_vehicles(env: Path) -> None:
    settings = Settings()
    app = build_app(settings)
    sim = _sim_port(app)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    assert sim.running
    server.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive() and not sim.running


def test_without_vehicles_the_fleet_books_orders_only(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COILYARD_VEHICLES", "none")
    app = build_app(Settings())
    assert type(app.state.services.fleet) is BookOnlyFleet


def test_a_bad_vehicle_configuration_is_named(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COILYARD_VEHICLES", "can")
    with pytest.raises(AdapterConfigError, match="COILYARD_CAN_VEHICLES names no vehicle gateway"):
        build_app(Settings())
    monkeypatch.setenv("COILYARD_CAN_VEHICLES", '{"AGV-77": 3}')
    with pytest.raises(AdapterConfigError, match="no vehicle AGV-77 in plant 'tiny'"):
        build_app(Settings())
    monkeypatch.setenv("COILYARD_VEHICLES", "sim")
    monkeypatch.setenv("COILYARD_SIM_SPEED_UP", "0")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2, result.output
    assert "COILYARD_SIM_SPEED_UP: Input should be greater than 0 (got '0')" in result.output
    monkeypatch.setenv("COILYARD_SIM_SPEED_UP", "2")
    monkeypatch.setenv("COILYARD_VEHICLES", "can")
    monkeypatch.delenv("COILYARD_CAN_VEHICLES")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2, result.output
    assert "vehicle adapter 'can': COILYARD_CAN_VEHICLES names no vehicle gateway" in result.output
