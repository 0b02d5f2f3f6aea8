from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.fake_vehicle import BeyondReleasedBase, CannotStep, ContractViolation, FakeFleet, FakeVehicle
from fleet.ports import (
    Arrived,
    Cancel,
    EnergyReport,
    OperationDone,
    Pause,
    Progress,
    Resume,
    SendRoute,
    StateChanged,
    VehicleCommand,
    VehiclePort,
)

ROUTE = ("P1", "W5", "W4", "HM-X")


def state_of(fake: FakeVehicle) -> VehicleState:
    return fake.state


def route(released: int, nodes: tuple[str, ...] = ROUTE, operation: Operation = Operation.PICK) -> SendRoute:
    return SendRoute(vehicle="AGV-01", order="T1", nodes=nodes, released=released, operation=operation)


def test_the_fakes_are_vehicle_ports() -> None:
    port: VehiclePort = FakeVehicle("AGV-01", "P1")
    assert isinstance(port, VehiclePort)
    assert isinstance(FakeFleet({"AGV-01": FakeVehicle("AGV-01", "P1")}), VehiclePort)


def test_send_route_splits_base_and_horizon_and_checks_released() -> None:
    command = route(2)
    assert command.base == ("P1", "W5")
    assert command.horizon == ("W4", "HM-X")
    with pytest.raises(ValueError, match=r"released must be 1\.\.4"):
        route(5)
    with pytest.raises(ValueError, match=r"released must be 1\.\.4"):
        route(0)


def test_it_keeps_the_commands_it_received() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    commands: list[VehicleCommand] = [
        route(2),
        Pause(vehicle="AGV-01"),
        Resume(vehicle="AGV-01"),
        Cancel(vehicle="AGV-01", order="T1"),
    ]
    for c in commands:
        fake.send(c)
    assert fake.commands == commands


def test_it_never_moves_past_the_released_base() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    fake.send(route(2))
    assert fake.step(1.0) == "W5"
    with pytest.raises(BeyondReleasedBase, match="may not move past 'W4'") as info:
        fake.step(2.0)
    assert info.value.released == ("P1", "W5")
    assert fake.node == "W5"
    assert fake.visited == ["P1", "W5"]
    assert set(fake.visited) <= set(fake.released_base)
    # traffic control releases one more node: the vehicle may go exactly that far
    fake.send(route(3))
    assert fake.step(3.0) == "W4"
    with pytest.raises(BeyondReleasedBase):
        fake.step(4.0)
    assert fake.visited == ["P1", "W5", "W4"]


def test_the_events_of_a_whole_route_in_order() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    fake.send(route(4))
    fake.step(10.0)
    fake.step(20.0)
    fake.step(30.0)
    done = fake.complete_operation(55.0)
    assert fake.drain() == [
        StateChanged(vehicle="AGV-01", state=VehicleState.MOVING, at=0.0),
        Progress(vehicle="AGV-01", node="W5", at=10.0, order="T1"),
        Progress(vehicle="AGV-01", node="W4", at=20.0, order="T1"),
        Progress(vehicle="AGV-01", node="HM-X", at=30.0, order="T1"),
        Arrived(vehicle="AGV-01", node="HM-X", at=30.0, order="T1"),
        StateChanged(vehicle="AGV-01", state=VehicleState.LOADING, at=30.0),
        OperationDone(vehicle="AGV-01", node="HM-X", operation=Operation.PICK, at=55.0, order="T1"),
        StateChanged(vehicle="AGV-01", state=VehicleState.IDLE, at=55.0),
    ]
    assert done.operation is Operation.PICK
    assert fake.drain() == []
    assert fake.state is VehicleState.IDLE and fake.route is None
    with pytest.raises(CannotStep, match="no route"):
        fake.step(60.0)


def test_a_move_ends_idle_and_a_charge_ends_charging() -> None:
    fake = FakeVehicle("AGV-01", "P2")
    fake.send(
        SendRoute(vehicle="AGV-01", order="C1", nodes=("P2", "CH1"), released=2, operation=Operation.CHARGE)
    )
    fake.step(1.0)
    assert state_of(fake) is VehicleState.CHARGING
    fake.report_energy(118.0, 2.0)
    fake.complete_operation(3.0)
    events = fake.drain()
    assert EnergyReport(vehicle="AGV-01", energy=118.0, at=2.0) in events
    assert events[-1] == StateChanged(vehicle="AGV-01", state=VehicleState.IDLE, at=3.0)
    fake.send(SendRoute(vehicle="AGV-01", order="M1", nodes=("CH1", "P2"), released=2))
    fake.step(4.0)
    assert fake.state is VehicleState.IDLE
    assert fake.drain()[-2:] == [
        Arrived(vehicle="AGV-01", node="P2", at=4.0, order="M1"),
        StateChanged(vehicle="AGV-01", state=VehicleState.IDLE, at=4.0),
    ]


def test_a_one_node_route_arrives_at_once() -> None:
    fake = FakeVehicle("AGV-01", "P1", now=5.0)
    fake.send(SendRoute(vehicle="AGV-01", order="T1", nodes=("P1",), released=1, operation=Operation.DROP))
    assert fake.drain() == [
        Arrived(vehicle="AGV-01", node="P1", at=5.0, order="T1"),
        StateChanged(vehicle="AGV-01", state=VehicleState.LOADING, at=5.0),
    ]


def test_a_fault_leaves_it_on_its_last_node_and_reports_the_error() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    fake.send(route(3))
    fake.step(1.0)
    fake.drain()
    fake.fail(2.0, "laser scanner blocked")
    assert fake.drain() == [
        StateChanged(vehicle="AGV-01", state=VehicleState.ERROR, at=2.0, error="laser scanner blocked")
    ]
    assert fake.node == "W5"
    with pytest.raises(CannotStep):
        fake.step(3.0)
    # a route sent to a failed vehicle is refused as an event, not driven
    fake.send(SendRoute(vehicle="AGV-01", order="T2", nodes=("W5", "W4"), released=2))
    (refused,) = fake.drain()
    assert (
        isinstance(refused, StateChanged)
        and refused.state is VehicleState.ERROR
        and "T2" in (refused.error or "")
    )
    assert fake.route is None
    fake.recover(4.0)
    assert fake.state is VehicleState.IDLE


def test_unavailable_vehicles_do_not_move() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    fake.send(route(2))
    fake.make_unavailable(1.0, "manual mode")
    assert fake.drain()[-1] == StateChanged(
        vehicle="AGV-01", state=VehicleState.UNAVAILABLE, at=1.0, error="manual mode"
    )
    with pytest.raises(CannotStep):
        fake.step(2.0)
    assert fake.node == "P1"


def test_pause_holds_it_and_resume_lets_it_go_on() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    fake.send(route(3))
    fake.send(Pause(vehicle="AGV-01"))
    with pytest.raises(CannotStep, match="paused"):
        fake.step(1.0)
    fake.send(Resume(vehicle="AGV-01"))
    assert fake.step(2.0) == "W5"


def test_cancel_stops_it_where_it_is() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    fake.send(route(3))
    fake.step(1.0)
    fake.send(Cancel(vehicle="AGV-01", order="OTHER"))
    assert fake.route is not None
    fake.send(Cancel(vehicle="AGV-01", order="T1"))
    assert fake.route is None and fake.state is VehicleState.IDLE and fake.node == "W5"


def test_contract_violations_fail_loudly() -> None:
    fake = FakeVehicle("AGV-01", "P1")
    with pytest.raises(ContractViolation, match="starts at 'W5' but AGV-01 is at 'P1'"):
        fake.send(route(2, nodes=("W5", "W4")))
    fake.send(route(3))
    with pytest.raises(ContractViolation, match="changes released nodes"):
        fake.send(route(3, nodes=("P1", "W5", "W6", "DOCK1")))
    with pytest.raises(ContractViolation, match="changes released nodes"):
        fake.send(route(2))  # taking a release back
    with pytest.raises(ContractViolation, match="'AGV-02'"):
        fake.send(Pause(vehicle="AGV-02"))
    # the horizon may change freely
    fake.send(route(3, nodes=("P1", "W5", "W4", "W3")))
    assert fake.route is not None and fake.route.horizon == ("W3",)


def test_the_fleet_routes_commands_and_merges_events_by_time() -> None:
    a, b = FakeVehicle("AGV-01", "P1"), FakeVehicle("AGV-02", "P2")
    fleet = FakeFleet({"AGV-01": a, "AGV-02": b})
    fleet.send(route(2))
    fleet.send(
        SendRoute(vehicle="AGV-02", order="T2", nodes=("P2", "CH1"), released=2, operation=Operation.CHARGE)
    )
    b.step(1.0)
    a.step(2.0)
    events = fleet.drain()
    assert [e.at for e in events] == sorted(e.at for e in events)
    progress = [(e.vehicle, e.node) for e in events if isinstance(e, Progress)]
    assert progress == [("AGV-02", "CH1"), ("AGV-01", "W5")]
    with pytest.raises(ContractViolation, match="no fake vehicle 'AGV-09'"):
        fleet.send(Pause(vehicle="AGV-09"))


@given(st.lists(st.sampled_from(["step", "release"]), max_size=30))
def test_no_interleaving_of_steps_and_releases_takes_it_past_the_base(actions: list[str]) -> None:
    nodes = ("P1", "W5", "W4", "W3", "W2", "H-FS1")
    fake = FakeVehicle("AGV-01", "P1")
    released = 1
    fake.send(route(released, nodes=nodes, operation=Operation.DROP))
    for i, action in enumerate(actions):
        if action == "release" and released < len(nodes):
            released += 1
            fake.send(route(released, nodes=nodes, operation=Operation.DROP))
        elif action == "step":
            with contextlib.suppress(BeyondReleasedBase, CannotStep):
                fake.step(float(i))
        assert fake.visited == list(nodes[: len(fake.visited)])
        assert len(fake.visited) <= released
    progressed = [e.node for e in fake.drain() if isinstance(e, Progress)]
    assert progressed == fake.visited[1:]
