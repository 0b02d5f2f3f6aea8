"""The CAN gateway port against the emulated PLC gateways, on python-can's virtual bus and on SocketCAN vcan0.

The virtual bus needs no server; vcan0 is used when the kernel offers it (the test tries to create it when
running as root) and skipped with the reason otherwise. The heartbeat watchdog runs on a hand-stepped clock,
so "the heartbeat stopped for longer than the timeout" does not depend on the machine's load.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.can.codec import JobKind, Severity
from adapters.can.emulator import GatewayEmulator
from adapters.can.nodes import NodeMap
from adapters.can.port import CanGatewayPort
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import (
    Arrived,
    Cancel,
    CraneAt,
    OperationDone,
    Progress,
    SendCraneMove,
    SendRoute,
    StateChanged,
    VehicleEvent,
)
from layout import Plant, load_plant

pytestmark = pytest.mark.integration

TINY = Path(__file__).parents[2] / "examples" / "tiny.yaml"
VEHICLES = {"RGV-01": 1, "C1": 2}
TIMEOUT_S = 1.0


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    port: CanGatewayPort
    emulator: GatewayEmulator
    clock: ManualClock
    seen: list[VehicleEvent]

    def wait_for(self, found: Callable[[VehicleEvent], bool], timeout_s: float = 5.0) -> VehicleEvent:
        """Drain until an event matches; every drained event is kept in `seen`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in self.port.drain():
                self.seen.append(event)
                if found(event):
                    return event
            time.sleep(0.01)
        raise AssertionError(f"no matching event within {timeout_s} s; seen: {self.seen}")

    def settle(self, seconds: float = 0.15) -> list[VehicleEvent]:
        time.sleep(seconds)
        events = self.port.drain()
        self.seen.extend(events)
        return events


@functools.cache
def _vcan0_reason() -> str | None:
    """None when vcan0 is usable, else why not (after trying to create it when running as root)."""
    if Path("/sys/class/net/vcan0").exists():
        return None
    if os.geteuid() != 0:
        return "no vcan0 interface, and creating one needs root"
    tried = []
    for command in (
        ["modprobe", "vcan"],
        ["ip", "link", "add", "dev", "vcan0", "type", "vcan"],
        ["ip", "link", "set", "up", "vcan0"],
    ):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        except FileNotFoundError:
            tried.append(f"{command[0]} is not installed")
            continue
        if result.returncode != 0:
            tried.append(f"`{' '.join(command)}`: {result.stderr.strip() or result.returncode}")
    if Path("/sys/class/net/vcan0").exists():
        return None
    return "the kernel offers no vcan0 (" + "; ".join(tried) + ")"


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant(TINY)


@pytest.fixture(params=["virtual", "socketcan"])
def rig(request: pytest.FixtureRequest, plant: Plant) -> Iterator[Rig]:
    interface = request.param
    if interface == "socketcan":
        reason = _vcan0_reason()
        if reason is not None:
            pytest.skip(f"SocketCAN run skipped: {reason}")
        channel = "vcan0"
    else:
        channel = f"coilyard-{secrets.token_hex(4)}"  # a private virtual bus per test
    clock = ManualClock()
    emulator = GatewayEmulator(
        channel=channel,
        interface=interface,
        vehicles=VEHICLES,
        node_map=NodeMap.from_plant(plant),
        start_nodes={"RGV-01": "RS1"},
        travel_s=0.15,
        operation_s=0.1,
        heartbeat_period_s=0.05,
        status_period_s=0.1,
    )
    port = CanGatewayPort(
        channel=channel,
        interface=interface,
        vehicles=VEHICLES,
        plant=plant,
        heartbeat_timeout_s=TIMEOUT_S,
        clock=clock,
    )
    with emulator, port:
        rig = Rig(port, emulator, clock, [])
        rig.wait_for(
            lambda e: isinstance(e, StateChanged) and e.vehicle == "RGV-01" and e.state is VehicleState.IDLE
        )
        rig.seen.clear()
        yield rig


def test_job_round_trip_command_ack_positions_done(rig: Rig) -> None:
    route = SendRoute(
        vehicle="RGV-01", order="O1", nodes=("RS1", "RS2"), released=2, operation=Operation.PICK
    )
    rig.port.send(route)
    done = rig.wait_for(lambda e: isinstance(e, OperationDone))
    assert done == OperationDone(
        vehicle="RGV-01", node="RS2", operation=Operation.PICK, at=rig.clock.now, order="O1"
    )
    at = rig.clock.now
    assert [e for e in rig.seen if e.vehicle == "RGV-01"] == [
        StateChanged(vehicle="RGV-01", state=VehicleState.MOVING, at=at),
        Progress(vehicle="RGV-01", node="RS2", at=at, order="O1"),
        Arrived(vehicle="RGV-01", node="RS2", at=at, order="O1"),
        StateChanged(vehicle="RGV-01", state=VehicleState.LOADING, at=at),
        done,
    ]
    [command] = rig.emulator.commands("RGV-01")
    assert command.kind is JobKind.PICK and rig.port.nodes.node(command.target_node or 0) == "RS2"
    assert rig.emulator.load_present("RGV-01")
    assert rig.port.telemetry("RGV-01").load_present


def test_only_the_released_base_is_sent_and_an_extension_moves_the_target(rig: Rig) -> None:
    rig.port.send(
        SendRoute(vehicle="RGV-01", order="O2", nodes=("RS1", "RS2"), released=1, operation=Operation.DROP)
    )
    rig.settle()
    [first] = rig.emulator.commands("RGV-01")
    assert first.kind is JobKind.MOVE and rig.port.nodes.node(first.target_node or 0) == "RS1"
    assert not any(isinstance(e, OperationDone) for e in rig.seen)
    rig.port.send(
        SendRoute(vehicle="RGV-01", order="O3", nodes=("RS1",), released=1, operation=Operation.PICK)
    )
    rig.wait_for(
        lambda e: isinstance(e, OperationDone) and e.order == "O3"
    )  # O2 ended at its base: a new job


def test_crane_move_reports_position_and_done_at_the_place(rig: Rig) -> None:
    rig.port.send(
        SendCraneMove(vehicle="C1", order="K1", along=12.5, across=3.25, operation=Operation.MOVE, place=None)
    )
    done = rig.wait_for(lambda e: isinstance(e, OperationDone) and e.vehicle == "C1")
    assert done == OperationDone(
        vehicle="C1", node="", operation=Operation.MOVE, at=rig.clock.now, order="K1"
    )
    assert CraneAt(vehicle="C1", along=12.5, at=rig.clock.now) in rig.seen
    [command] = rig.emulator.commands("C1")
    assert (command.along_mm, command.across_mm, command.target_node) == (12500, 3250, None)


def test_heartbeat_loss_marks_the_vehicle_unavailable_and_its_return_brings_it_back(rig: Rig) -> None:
    rig.emulator.stop_heartbeat("RGV-01")
    rig.settle()  # heartbeats already on the bus arrive, stamped with the clock that has not moved
    rig.clock.now += TIMEOUT_S * 0.9
    assert not [e for e in rig.port.drain() if isinstance(e, StateChanged) and e.vehicle == "RGV-01"]
    rig.clock.now += TIMEOUT_S * 0.2
    lost = rig.wait_for(lambda e: isinstance(e, StateChanged) and e.vehicle == "RGV-01")
    assert isinstance(lost, StateChanged) and lost.state is VehicleState.UNAVAILABLE
    assert lost.error is not None and "no heartbeat from CAN node 1" in lost.error
    assert not any(
        isinstance(e, StateChanged) and e.vehicle == "C1" and e.state is VehicleState.UNAVAILABLE
        for e in rig.seen
    )
    rig.port.send(SendRoute(vehicle="RGV-01", order="O9", nodes=("RS1", "RS2"), released=2))
    refused = rig.wait_for(lambda e: isinstance(e, StateChanged) and e.vehicle == "RGV-01")
    assert isinstance(refused, StateChanged) and refused.error is not None and "refused" in refused.error
    assert rig.emulator.commands("RGV-01") == []  # nothing was sent to a gateway that does not answer

    rig.emulator.resume_heartbeat("RGV-01")
    back = rig.wait_for(lambda e: isinstance(e, StateChanged) and e.vehicle == "RGV-01")
    assert isinstance(back, StateChanged) and (back.state, back.error) == (VehicleState.IDLE, None)


def test_fault_frame_puts_the_vehicle_in_error_with_the_reason(rig: Rig) -> None:
    rig.port.send(
        SendRoute(vehicle="RGV-01", order="O4", nodes=("RS1", "RS2"), released=2, operation=Operation.MOVE)
    )
    rig.wait_for(lambda e: isinstance(e, StateChanged) and e.state is VehicleState.MOVING)
    rig.emulator.raise_fault("RGV-01", 0x0301, Severity.FATAL)
    fault = rig.wait_for(lambda e: isinstance(e, StateChanged) and e.vehicle == "RGV-01")
    assert isinstance(fault, StateChanged) and fault.state is VehicleState.ERROR
    assert fault.error == "fault 0x0301 emergency_stop (fatal)"
    assert rig.port.telemetry("RGV-01").error == fault.error
    assert not [e for e in rig.settle() if isinstance(e, OperationDone)]  # the job was aborted

    rig.port.send(
        SendRoute(vehicle="RGV-01", order="O5", nodes=("RS1",), released=1, operation=Operation.PARK)
    )
    rejected = rig.wait_for(
        lambda e: isinstance(e, StateChanged) and e.error is not None and "rejected" in e.error
    )
    assert isinstance(rejected, StateChanged) and "fault_active" in (rejected.error or "")

    rig.emulator.clear_fault("RGV-01")
    cleared = rig.wait_for(lambda e: isinstance(e, StateChanged) and e.state is VehicleState.IDLE)
    assert isinstance(cleared, StateChanged) and cleared.error is None


def test_a_warning_fault_is_only_logged(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.can.port"):
        rig.emulator.raise_fault("RGV-01", 0x0102, Severity.WARNING)
        rig.settle()
    assert not [e for e in rig.seen if isinstance(e, StateChanged) and e.state is VehicleState.ERROR]
    assert "fault 0x0102 drive_overtemperature (warning) raised" in caplog.text


def test_cancel_stops_the_job(rig: Rig) -> None:
    rig.port.send(
        SendRoute(vehicle="RGV-01", order="O6", nodes=("RS1", "RS2"), released=2, operation=Operation.MOVE)
    )
    rig.settle(0.02)
    rig.port.send(Cancel(vehicle="RGV-01", order="O6"))
    rig.settle(0.4)
    kinds = [c.kind for c in rig.emulator.commands("RGV-01")]
    assert kinds[-1] is JobKind.CANCEL
    assert not any(isinstance(e, OperationDone) for e in rig.seen)
    assert rig.port.telemetry("RGV-01").state is VehicleState.IDLE


def test_garbled_and_unknown_frames_are_ignored_with_a_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="adapters.can.port"):
        rig.emulator.send_raw(0x281, b"\x01")  # Position from node 1, one byte instead of eight
        rig.emulator.send_raw(0x123, b"\x00\x01")  # not a gateway message at all
        rig.emulator.send_raw(0x301, bytes([9, 0, 0, 0]))  # Status with state 9, outside its table
        rig.emulator.send_raw(0x709, b"\x00")  # a heartbeat from node 9, which no vehicle has
        rig.settle()
    assert "Position from node 1 (id 0x281) is garbled" in caplog.text
    assert "CAN id 0x123 is not a coilyard gateway message" in caplog.text
    assert "state 9 is not a GatewayState" in caplog.text
    assert "node 9 ignored" in caplog.text
    # ...and the port goes on working.
    rig.port.send(SendRoute(vehicle="RGV-01", order="O7", nodes=("RS1", "RS2"), released=2))
    rig.wait_for(lambda e: isinstance(e, OperationDone) and e.order == "O7")


def test_the_registry_builds_and_opens_the_can_port(plant: Plant) -> None:
    from adapters.registry import connect_vehicle

    channel = f"coilyard-{secrets.token_hex(4)}"
    emulator = GatewayEmulator(channel=channel, vehicles={"RGV-01": 1}, node_map=NodeMap.from_plant(plant))
    with (
        emulator,
        connect_vehicle(
            "can", channel=channel, interface="virtual", vehicles={"RGV-01": 1}, plant=plant
        ) as port,
    ):
        deadline = time.monotonic() + 5
        events: list[VehicleEvent] = []
        while time.monotonic() < deadline and not events:
            events = port.drain()
            time.sleep(0.01)
        assert events and isinstance(events[0], StateChanged) and events[0].state is VehicleState.IDLE


def test_a_job_orphaned_by_heartbeat_loss_is_cancelled_when_the_heartbeat_returns(rig: Rig) -> None:
    rig.emulator.travel_s = 2.0  # still driving when the heartbeat comes back
    rig.port.send(SendRoute(vehicle="RGV-01", order="O8", nodes=("RS1", "RS2"), released=2))
    rig.wait_for(lambda e: isinstance(e, StateChanged) and e.state is VehicleState.MOVING)
    rig.emulator.stop_heartbeat("RGV-01")
    rig.settle()
    rig.clock.now += TIMEOUT_S * 1.1
    rig.wait_for(lambda e: isinstance(e, StateChanged) and e.state is VehicleState.UNAVAILABLE)
    rig.emulator.resume_heartbeat("RGV-01")
    rig.wait_for(lambda e: isinstance(e, StateChanged) and e.state is VehicleState.IDLE)
    assert [c.kind for c in rig.emulator.commands("RGV-01")] == [JobKind.MOVE, JobKind.CANCEL]
    assert not any(isinstance(e, OperationDone) for e in rig.settle(0.3))


def test_the_fleet_core_drives_an_rgv_order_through_the_can_gateway(plant: Plant) -> None:
    """The live path: FleetCore effects -> CanGatewayPort -> emulated PLC -> events -> FleetCore, to FINISHED."""
    from fleet.core import FleetCore, Message, OrderChanged, SubmitOrder, Tick
    from fleet.domain.orders import Destination, OrderSpec, OrderState

    channel = f"coilyard-{secrets.token_hex(4)}"
    emulator = GatewayEmulator(
        channel=channel,
        vehicles={"RGV-01": 1},
        node_map=NodeMap.from_plant(plant),
        start_nodes={"RGV-01": "RS1"},
        travel_s=0.1,
        operation_s=0.05,
    )
    core = FleetCore(plant)
    spec = OrderSpec(
        id="T1",
        destinations=(Destination("RS1", Operation.PICK), Destination("RS2", Operation.DROP)),
        vehicle_class="rgv",
        unit="C1",
        weight=20.0,
    )
    states: list[OrderState] = []
    with emulator, CanGatewayPort(channel=channel, vehicles={"RGV-01": 1}, plant=plant) as port:

        def feed(message: Message, at: float) -> None:
            for effect in core.handle(message, at):
                if isinstance(effect, OrderChanged):
                    states.append(effect.transition.to_state)
                elif isinstance(effect, SendRoute | Cancel):
                    port.send(effect)

        feed(SubmitOrder(spec=spec), time.monotonic())
        deadline = time.monotonic() + 10
        while OrderState.FINISHED not in states and time.monotonic() < deadline:
            for event in port.drain():
                feed(event, event.at)
            feed(Tick(), time.monotonic())
            time.sleep(0.01)
    assert states[-1] is OrderState.FINISHED, states
    assert [c.kind for c in emulator.commands("RGV-01")] == [JobKind.PICK, JobKind.DROP]
    assert emulator.node_of("RGV-01") == "RS2" and not emulator.load_present("RGV-01")


def test_a_bus_that_cannot_be_opened_is_named() -> None:
    from adapters.errors import AdapterConfigError, ConnectionLost

    missing = CanGatewayPort(channel="nocan9", interface="socketcan", vehicles={"A": 1}, node_map={"X": 1})
    with pytest.raises(ConnectionLost, match="CAN socketcan channel 'nocan9'"):
        missing.open()
    unknown = CanGatewayPort(channel="x", interface="carrier-pigeon", vehicles={"A": 1}, node_map={"X": 1})
    with pytest.raises(AdapterConfigError, match="CAN interface 'carrier-pigeon' is not available"):
        unknown.open()
