"""Master side of VDA 5050 without a broker: state messages become fleet events, resends are bounded, a
cancel is sent once and never loops, an interrupted order never leaves a vehicle "executing"."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.vda5050.link import Timing
from adapters.vda5050.port import Vda5050Port
from adapters.vda5050.wire import encode, header
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import (
    Arrived,
    Cancel,
    EnergyReport,
    OperationDone,
    Progress,
    SendRoute,
    StateChanged,
    VehicleEvent,
)
from tests.wms_factories import tiny_plant

PLANT = tiny_plant()
ROUTE = ("P1", "W5", "W4", "W3", "IO-HB1")
PREFIX = "uagv/v2/coilyard/AGV-01"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Master:
    """A port with no broker: inbound messages are fed by hand, outbound ones land in `port.outbox`."""

    def __init__(self, timing: Timing | None = None) -> None:
        self.clock = Clock()
        self.port = Vda5050Port(plant=PLANT, vehicles=["AGV-01"], clock=self.clock, timing=timing)
        self.headers = 0
        self.port.drain()  # the initial "unavailable until online"
        self.feed("connection", connectionState="ONLINE")
        assert self.state() == [
            EnergyReport(vehicle="AGV-01", energy=60.0, at=self.clock.t),
            StateChanged(vehicle="AGV-01", state=VehicleState.IDLE, at=self.clock.t),
        ]

    def feed(self, topic: str, **fields: Any) -> list[VehicleEvent]:
        self.headers += 1
        message = {**header(self.headers, "coilyard", "AGV-01"), **fields}
        return self.port.process(f"{PREFIX}/{topic}", encode(message), self.clock.t)

    def state(self, **fields: Any) -> list[VehicleEvent]:
        sent = self.port.links["AGV-01"].sent
        values: dict[str, Any] = {
            "orderId": sent.order_id if sent else "",
            "orderUpdateId": sent.update_id if sent else 0,
            "lastNodeId": "P1",
            "lastNodeSequenceId": 0,
            "nodeStates": [],
            "edgeStates": [],
            "driving": False,
            "actionStates": [],
            "batteryState": {"batteryCharge": 50.0, "charging": False},
            "operatingMode": "AUTOMATIC",
            "errors": [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
        }
        values.update(fields)
        return self.feed("state", **values)

    def sent(self, topic: str) -> list[dict[str, Any]]:
        return [m for t, m in self.port.outbox if t == topic]

    def drain_after(self, seconds: float) -> list[VehicleEvent]:
        self.clock.t += seconds
        return self.port.drain()


def nodes(*pairs: tuple[str, int, bool]) -> list[dict[str, Any]]:
    return [{"nodeId": n, "sequenceId": s, "released": r} for n, s, r in pairs]


def kinds(events: list[VehicleEvent]) -> list[str]:
    out = []
    for e in events:
        name = type(e).__name__
        out.append(f"{name}:{e.state}" if isinstance(e, StateChanged) else name)
    return [k for k in out if k != "EnergyReport"]


def started(master: Master, released: int = 3, op: Operation = Operation.PICK) -> None:
    master.port.send(SendRoute(vehicle="AGV-01", order="T1", nodes=ROUTE, released=released, operation=op))


def test_a_vehicle_is_unavailable_until_it_says_online() -> None:
    port = Vda5050Port(plant=PLANT)
    events = port.drain()
    assert {e.vehicle for e in events} == set(PLANT.vehicles)
    assert all(isinstance(e, StateChanged) and e.state is VehicleState.UNAVAILABLE for e in events)


def test_nodes_passed_between_two_states_each_become_progress_in_order() -> None:
    master = Master()
    started(master, released=5)
    moving = master.state(driving=True, nodeStates=nodes(("W5", 2, True), ("W4", 4, True)))
    assert kinds(moving) == ["StateChanged:moving"]
    events = master.state(
        lastNodeId="W3", lastNodeSequenceId=6, driving=True, nodeStates=nodes(("IO-HB1", 8, True))
    )
    assert [(type(e).__name__, getattr(e, "node", None)) for e in events if isinstance(e, Progress)] == [
        ("Progress", "W5"),
        ("Progress", "W4"),
        ("Progress", "W3"),
    ]
    assert all(e.order == "T1" for e in events if isinstance(e, Progress))


def test_arrival_then_the_pick_then_idle() -> None:
    master = Master()
    started(master, released=5)
    action = master.port.links["AGV-01"].sent.action_id  # type: ignore[union-attr]
    running = [{"actionId": action, "actionType": "pick", "actionStatus": "RUNNING"}]
    events = master.state(lastNodeId="IO-HB1", lastNodeSequenceId=8, actionStates=running)
    assert kinds(events) == ["Progress"] * 4 + ["Arrived", "StateChanged:loading"]
    assert isinstance(events[-2], Arrived)
    finished = [{"actionId": action, "actionType": "pick", "actionStatus": "FINISHED"}]
    done = master.state(lastNodeId="IO-HB1", lastNodeSequenceId=8, actionStates=finished)
    assert kinds(done) == ["OperationDone", "StateChanged:idle"]
    assert isinstance(done[0], OperationDone)
    assert (done[0].node, done[0].operation, done[0].order) == ("IO-HB1", Operation.PICK, "T1")
    assert master.state(lastNodeId="IO-HB1", lastNodeSequenceId=8, actionStates=finished) == []  # once only


def test_a_failed_pick_is_an_error_of_the_vehicle() -> None:
    master = Master()
    started(master, released=5)
    action = master.port.links["AGV-01"].sent.action_id  # type: ignore[union-attr]
    failed = [{"actionId": action, "actionType": "pick", "actionStatus": "FAILED"}]
    events = master.state(lastNodeId="IO-HB1", lastNodeSequenceId=8, actionStates=failed)
    [error] = [e for e in events if isinstance(e, StateChanged)]
    assert error.state is VehicleState.ERROR
    assert "pick at IO-HB1 failed" in (error.error or "")
    assert not any(isinstance(e, OperationDone) for e in events)


def test_a_vehicle_never_reports_progress_past_the_released_base() -> None:
    master = Master()
    started(master, released=2)
    events = master.state(lastNodeId="W3", lastNodeSequenceId=6)  # a confused vehicle
    assert [e.node for e in events if isinstance(e, Progress)] == ["W5"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"operatingMode": "MANUAL"}, VehicleState.UNAVAILABLE),
        ({"errors": [{"errorType": "eStop", "errorLevel": "FATAL"}]}, VehicleState.ERROR),
        ({"errors": [{"errorType": "bumper", "errorLevel": "WARNING"}]}, VehicleState.IDLE),
        ({"batteryState": {"batteryCharge": 40.0, "charging": True}}, VehicleState.CHARGING),
        ({"driving": True}, VehicleState.MOVING),
    ],
)
def test_state_mapping(fields: dict[str, Any], expected: VehicleState) -> None:
    master = Master()
    changes = [e for e in master.state(**fields) if isinstance(e, StateChanged)]
    assert [c.state for c in changes] == ([] if expected is VehicleState.IDLE else [expected])


def test_battery_charge_becomes_energy_in_kwh() -> None:
    master = Master()
    [report] = [
        e
        for e in master.state(batteryState={"batteryCharge": 25.0, "charging": False})
        if isinstance(e, EnergyReport)
    ]
    assert report.energy == pytest.approx(30.0)  # 25 % of 120 kWh


def test_the_last_will_makes_the_vehicle_unavailable_and_ends_its_drive() -> None:
    master = Master()
    started(master)
    [event] = master.feed("connection", connectionState="CONNECTIONBROKEN")
    assert isinstance(event, StateChanged)
    assert (event.state, event.error) == (VehicleState.UNAVAILABLE, "connection CONNECTIONBROKEN")
    assert master.drain_after(60) == []  # no resends to a vehicle that is gone


def test_an_unacknowledged_order_is_resent_a_bounded_number_of_times_then_escalated() -> None:
    master = Master(Timing(ack_timeout=1.0, max_sends=3))
    started(master)
    assert master.drain_after(0.5) == []
    assert master.drain_after(0.6) == []
    assert master.drain_after(1.1) == []
    orders = master.sent("order")
    assert len(orders) == 3
    assert {(o["orderId"], o["orderUpdateId"]) for o in orders} == {("T1.1", 0)}
    assert len({o["headerId"] for o in orders}) == 3  # headerId counts up per message
    [escalation] = master.drain_after(1.1)
    assert isinstance(escalation, StateChanged)
    assert escalation.state is VehicleState.ERROR
    assert "not acknowledged after 3 sends" in (escalation.error or "")
    assert master.drain_after(10) == []
    assert len(master.sent("order")) == 3


def test_an_echoed_order_is_not_resent() -> None:
    master = Master(Timing(ack_timeout=1.0))
    started(master)
    master.state(nodeStates=nodes(("W5", 2, True)))
    master.drain_after(5)
    assert len(master.sent("order")) == 1


def test_a_rejected_order_puts_the_vehicle_in_error_once() -> None:
    master = Master()
    started(master)
    rejection = {
        "errorType": "noRouteError",
        "errorLevel": "WARNING",
        "errorReferences": [{"referenceKey": "orderId", "referenceValue": "T1.1"}],
    }
    events = master.state(orderId="", errors=[rejection])
    assert [(e.state, "noRouteError" in (e.error or "")) for e in events if isinstance(e, StateChanged)] == [
        (VehicleState.ERROR, True)
    ]
    assert master.state(orderId="", errors=[rejection]) == []
    assert master.drain_after(60) == []  # no resend of a rejected order


def test_cancel_is_sent_once_retried_a_bounded_number_of_times_and_never_loops() -> None:
    """openTCS commadapter-vda5050 #2: a vehicle that ignores cancelOrder made the driver resend it forever."""
    master = Master(Timing(cancel_timeout=1.0, max_cancel_tries=3))
    started(master)
    master.state(driving=True, nodeStates=nodes(("W5", 2, True), ("W4", 4, True)))
    master.port.send(Cancel(vehicle="AGV-01", order="T1"))
    master.port.send(Cancel(vehicle="AGV-01", order="T1"))  # the core asking again changes nothing
    assert len(master.sent("instantActions")) == 1
    events: list[VehicleEvent] = []
    for _ in range(10):
        events += master.drain_after(1.1)
        master.state(driving=True, nodeStates=nodes(("W5", 2, True), ("W4", 4, True)))  # ignores the cancel
    cancels = master.sent("instantActions")
    assert len(cancels) == 3
    assert {c["actions"][0]["actionId"] for c in cancels} == {"cancel/T1.1"}
    assert [
        (e.state, "not confirmed after 3 tries" in (e.error or ""))
        for e in events
        if isinstance(e, StateChanged)
    ] == [(VehicleState.ERROR, True)]


def test_an_interrupted_order_never_leaves_the_vehicle_executing() -> None:
    """openTCS commadapter-vda5050 #12: horizon nodes kept in nodeStates after an interrupted order kept the
    vehicle EXECUTING forever. Once the cancel is confirmed, leftover node states of that order do not count."""
    master = Master()
    started(master, released=2)
    master.state(driving=True, nodeStates=nodes(("W5", 2, True), ("W4", 4, False)))
    master.port.send(Cancel(vehicle="AGV-01", order="T1"))
    cancel_id = master.sent("instantActions")[0]["actions"][0]["actionId"]
    finished = [{"actionId": cancel_id, "actionType": "cancelOrder", "actionStatus": "FINISHED"}]
    events = master.state(
        lastNodeId="W5", lastNodeSequenceId=2, nodeStates=nodes(("W4", 4, False)), actionStates=finished
    )
    assert [e.node for e in events if isinstance(e, Progress)] == ["W5"]
    assert [e.state for e in events if isinstance(e, StateChanged)] == [VehicleState.IDLE]
    assert not any(isinstance(e, Arrived | OperationDone) for e in events)
    later = master.state(
        lastNodeId="W5", lastNodeSequenceId=2, nodeStates=nodes(("W4", 4, False)), actionStates=finished
    )
    assert later == []  # still idle, not moving


def test_a_cancel_with_nothing_running_is_answered_at_once_so_the_core_can_settle() -> None:
    master = Master()
    master.port.send(Cancel(vehicle="AGV-01", order="T9"))
    assert master.sent("instantActions") == []
    assert [e.state for e in master.port.drain() if isinstance(e, StateChanged)] == [VehicleState.IDLE]
