"""The twin's vehicles as a live vehicle port: a real-time SimPy thread behind `fleet.ports.VehiclePort`,
driven by the asyncio fleet shell on the tiny plant; its lifecycle and its configuration errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.errors import AdapterConfigError
from adapters.registry import connect_vehicle, load_adapter
from coilyard.live import LiveFleet
from fleet.core import FleetCore, SubmitOrder
from fleet.domain.orders import Destination, Operation, OrderSpec, OrderState
from fleet.domain.vehicles import VehicleState
from fleet.ports import Arrived, OperationDone, Progress, SendRoute, StateChanged, VehiclePort
from simulation.live_port import SimPortClosed, SimPortConfigError, SimVehiclePort, UnknownSimUnit
from tests.wms_factories import tiny_plant

PLANT = tiny_plant()


def transport(oid: str) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP)),
        vehicle_class="agv",
        unit=f"K-{oid}",
        weight=20.0,
    )


def test_the_sim_kind_of_the_registry_is_this_port() -> None:
    assert load_adapter("sim") is SimVehiclePort
    assert isinstance(SimVehiclePort(plant=PLANT), VehiclePort)


def test_an_order_through_the_live_shell_is_driven_to_the_end_by_simulated_vehicles() -> None:
    async def scenario(port: SimVehiclePort) -> tuple[LiveFleet, list[object]]:
        seen: list[object] = []

        class Recording:  # the live shell's view of the port, recorded for the checks below
            def send(self, command: object) -> None:
                port.send(command)  # type: ignore[arg-type]

            def drain(self) -> list[object]:
                events = port.drain()
                seen.extend(events)
                return events  # type: ignore[return-value]

        live = LiveFleet(FleetCore(PLANT), Recording(), poll_interval=0.005)  # type: ignore[arg-type]
        task = asyncio.create_task(live.run())
        try:
            await live.submit(SubmitOrder(spec=transport("T1")))
            assert await live.wait_for("T1", timeout=30) is OrderState.FINISHED
        finally:
            live.stop()
            await task
        return live, seen

    with connect_vehicle("sim", plant=PLANT, speed_up=400.0, seed=7) as connected:
        port = connected.adapter
        assert isinstance(port, SimVehiclePort)
        live, events = asyncio.run(scenario(port))
    assert not port.running
    vehicle = live.core.book["T1"].vehicle
    assert vehicle is not None
    assert port.vehicles[vehicle].node == "H-FS1"
    assert not port.vehicles[vehicle].loaded  # picked at HM-X, dropped at H-FS1
    done = [(e.node, e.operation) for e in events if isinstance(e, OperationDone) and e.order == "T1"]
    assert done == [("HM-X", Operation.PICK), ("H-FS1", Operation.DROP)]
    assert any(isinstance(e, Progress) and e.vehicle == vehicle for e in events)
    stamps = [e.at for e in events if hasattr(e, "at")]
    assert stamps == sorted(stamps)  # oldest first, on the monotonic clock
    assert time.monotonic() - 60 < stamps[0] <= stamps[-1] <= time.monotonic()


def test_simulated_time_is_paced_by_the_wall_clock() -> None:
    """A drive of known simulated length takes that long divided by speed_up in real time, not less."""
    port = SimVehiclePort(plant=PLANT, speed_up=100.0)
    port.open()
    try:
        home = PLANT.vehicles["AGV-01"].home
        route = ("P1", "W5", "W4", "W3") if home == "P1" else None
        assert route is not None, f"tiny plant changed: AGV-01 parks at {home}"
        started = time.monotonic()
        port.send(SendRoute(vehicle="AGV-01", order="M1", nodes=route, released=len(route)))
        events: list[object] = []
        deadline = started + 10
        while not any(isinstance(e, Arrived) for e in events):
            assert time.monotonic() < deadline, f"no arrival; events so far: {events}"
            events += port.drain()
            time.sleep(0.002)
        took = time.monotonic() - started
    finally:
        port.close()
    simulated = port.env.now
    assert simulated > 10  # ~50 m at 1.5 m/s: far from instant in simulated time
    assert took >= 0.9 * simulated / 100.0
    states = [e.state for e in events if isinstance(e, StateChanged)]
    assert states[0] is VehicleState.MOVING


def test_close_stops_the_thread_and_later_commands_are_refused() -> None:
    port = SimVehiclePort(plant=PLANT, speed_up=10.0)
    assert not port.running
    port.open()
    assert port.running
    port.close()
    assert not port.running
    port.close()  # twice is fine
    with pytest.raises(SimPortClosed, match="closed"):
        port.send(SendRoute(vehicle="AGV-01", order="M1", nodes=("P1", "W5"), released=2))
    with pytest.raises(SimPortClosed):
        port.open()


def test_a_command_for_a_vehicle_the_plant_lacks_is_refused_by_name() -> None:
    port = SimVehiclePort(plant=PLANT)
    with pytest.raises(UnknownSimUnit, match=r"'AGV-99'.*'tiny"):
        port.send(SendRoute(vehicle="AGV-99", order="M1", nodes=("P1",), released=1))


def test_a_route_from_the_wrong_node_is_reported_as_an_error_state_not_raised() -> None:
    port = SimVehiclePort(plant=PLANT, speed_up=50.0)
    port.open()
    try:
        port.send(SendRoute(vehicle="AGV-01", order="M1", nodes=("W3", "W4"), released=2))
        deadline = time.monotonic() + 5
        events: list[object] = []
        while not events:
            assert time.monotonic() < deadline
            events += port.drain()
            time.sleep(0.005)
    finally:
        port.close()
    assert isinstance(events[0], StateChanged) and events[0].state is VehicleState.ERROR
    assert "starts at W3" in (events[0].error or "")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"speed_up": 0}, "speed_up must be a positive finite number, got 0"),
        ({"speed_up": float("inf")}, "speed_up"),
        ({"speed_up": "fast"}, "speed_up"),
        ({"seed": -1}, "seed must be a whole number >= 0, got -1"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_configuration_is_named(config: dict[str, Any], named: str) -> None:
    with pytest.raises(SimPortConfigError, match=named.replace("(", r"\(")) as caught:
        connect_vehicle("sim", plant=PLANT, **config)
    assert str(caught.value).startswith("vehicle adapter 'sim': ")


def test_a_bad_plant_is_named(tmp_path: Path) -> None:
    with pytest.raises(SimPortConfigError, match="plant must be a Plant or a layout file path, got int"):
        SimVehiclePort(plant=42)  # type: ignore[arg-type]
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(SimPortConfigError, match=r"plant: .*nowhere\.yaml"):
        SimVehiclePort(plant=missing)
    with pytest.raises(AdapterConfigError, match="speedup"):  # an unknown keyword, caught by the registry
        connect_vehicle("sim", plant=PLANT, speedup=3)


def test_a_layout_path_is_accepted_as_the_plant() -> None:
    port = SimVehiclePort(plant=Path(__file__).resolve().parents[3] / "examples" / "tiny.yaml")
    assert sorted(port.vehicles) == sorted(PLANT.vehicles)


def test_a_dead_simulation_is_reported_by_drain_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    port = SimVehiclePort(plant=PLANT, speed_up=10.0)

    def broken(command: object) -> None:
        raise RuntimeError("kinematics exploded")

    monkeypatch.setattr(port.fleet, "send", broken)
    port.open()
    port.send(SendRoute(vehicle="AGV-01", order="M1", nodes=("P1", "W5"), released=2))
    deadline = time.monotonic() + 5
    while port.running:
        assert time.monotonic() < deadline, "the thread should have stopped"
        time.sleep(0.01)
    with pytest.raises(SimPortClosed, match="kinematics exploded"):
        port.drain()
    port.close()
