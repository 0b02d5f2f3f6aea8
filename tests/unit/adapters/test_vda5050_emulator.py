"""The emulated AGV and the master port wired back to back in memory (no broker), with the real FleetCore:
orders are accepted, stitched and driven node by node, pick and drop take their time, cancelOrder stops the
vehicle at the next node, bad orders are refused with the 2.1 error types."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from adapters.vda5050.emulator import EmulatedVehicle
from adapters.vda5050.port import Vda5050Port
from adapters.vda5050.wire import encode, header
from fleet.core import CancelOrder, FleetCore, Message, SubmitOrder, Tick
from fleet.domain.orders import Destination, Operation, OrderSpec, OrderState
from fleet.ports import Cancel, SendRoute
from tests.wms_factories import tiny_plant

PLANT = tiny_plant()
AGVS = ("AGV-01", "AGV-02")


class Chain:
    """FleetCore -> port -> (order messages) -> emulators -> (state messages) -> port -> FleetCore."""

    def __init__(self, speed_up: float = 10.0) -> None:
        self.t = 0.0
        self.core = FleetCore(PLANT)
        self.port = Vda5050Port(plant=PLANT, vehicles=[*AGVS, "RGV-01"], clock=lambda: self.t)
        self.vehicles = {
            v: EmulatedVehicle(PLANT, v, "coilyard", speed_up=speed_up) for v in (*AGVS, "RGV-01")
        }
        self.commands: list[SendRoute | Cancel] = []
        for v in self.vehicles:
            online = {**header(0, "coilyard", v), "connectionState": "ONLINE"}
            self.port.process(f"uagv/v2/coilyard/{v}/connection", encode(online), 0.0)

    def handle(self, message: Message) -> None:
        for effect in self.core.handle(message, self.t):
            if isinstance(effect, SendRoute | Cancel):
                self.commands.append(effect)
                self.port.send(effect)

    def step(self, dt: float = 0.05) -> None:
        self.t += dt
        for topic, message in self.port.outbox:
            self.vehicles[message["serialNumber"]].receive(topic, encode(message), self.t)
        self.port.outbox.clear()
        for v, emulated in self.vehicles.items():
            for topic, message in emulated.step(self.t):
                self.port._inbox.append((f"uagv/v2/coilyard/{v}/{topic}", encode(message)))
        for event in self.port.drain():
            self.handle(event)
        self.handle(Tick())
        self.core.traffic.assert_safe()

    def run_until(self, done: Any, seconds: float) -> None:
        end = self.t + seconds
        while not done():
            assert self.t < end, "timed out"
            self.step()


def transport(oid: str, pick: str, drop: str) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination(pick, Operation.PICK), Destination(drop, Operation.DROP)),
        vehicle_class="agv",
        unit=f"K-{oid}",
        weight=20.0,
    )


def test_two_transports_run_to_the_end_through_the_emulators() -> None:
    chain = Chain()
    chain.step()
    chain.handle(SubmitOrder(spec=transport("T1", "HM-X", "H-FS1")))
    chain.handle(SubmitOrder(spec=transport("T2", "DOCK1", "W1")))  # both westwards: no head-on
    chain.run_until(lambda: all(chain.core.book[o].state.terminal for o in ("T1", "T2")), 200)
    assert chain.core.book["T1"].state is OrderState.FINISHED
    assert chain.core.book["T2"].state is OrderState.FINISHED
    assert chain.port.stats["rejected"] == 0
    assert not any(e.errors for e in chain.vehicles.values())
    t1 = chain.vehicles[chain.core.book["T1"].vehicle or ""]
    assert not t1.loaded
    # updates were stitched: more order messages than drives
    assert chain.port.stats["sent order"] > len([c for c in chain.commands if isinstance(c, SendRoute)]) / 2


def test_a_vehicle_stops_at_the_next_node_when_its_order_is_cancelled_and_is_free_again() -> None:
    chain = Chain(speed_up=2.0)
    chain.step()
    chain.handle(SubmitOrder(spec=transport("T1", "H-IS1", "H-FS1")))
    chain.run_until(lambda: chain.core.book["T1"].state is OrderState.ACTIVE, 30)
    vehicle = chain.core.book["T1"].vehicle or ""
    chain.run_until(lambda: chain.vehicles[vehicle].driving, 30)
    chain.handle(CancelOrder(order="T1", reason="operator"))
    sent = len(chain.commands)
    chain.run_until(lambda: any(isinstance(c, SendRoute) for c in chain.commands[sent:]), 60)
    # it stopped at the next node (W5) instead of driving its released base on to W4, and is free again
    after = next(c for c in chain.commands[sent:] if isinstance(c, SendRoute))
    assert (after.vehicle, after.nodes[0], after.order) == (vehicle, "W5", "park-1")
    assert chain.port.stats["sent instantActions"] == 1
    assert chain.core.book["T1"].state is OrderState.CANCELLED
    chain.handle(SubmitOrder(spec=transport("T2", "HM-X", "H-FS1")))
    chain.run_until(lambda: chain.core.book["T2"].state.terminal, 300)
    assert chain.core.book["T2"].state is OrderState.FINISHED


def order(order_id: str, update: int, nodes: list[tuple[str, int, bool]]) -> bytes:
    return encode(
        {
            **header(0, "coilyard", "AGV-01"),
            "orderId": order_id,
            "orderUpdateId": update,
            "nodes": [
                {
                    "nodeId": n,
                    "sequenceId": s,
                    "released": r,
                    "actions": [],
                    "nodePosition": {"x": 0, "y": 0, "mapId": "tiny"},
                }
                for n, s, r in nodes
            ],
            "edges": [
                {
                    "edgeId": f"{a}-{b}",
                    "sequenceId": s + 1,
                    "released": rb,
                    "startNodeId": a,
                    "endNodeId": b,
                    "actions": [],
                }
                for (a, s, _), (b, _, rb) in itertools.pairwise(nodes)
            ],
        }
    )


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        (None, order("X", 0, [("W5", 0, True)]), "noRouteError"),
        (order("X", 0, [("P1", 0, True), ("W5", 2, True)]), order("Y", 0, [("P1", 0, True)]), "orderError"),
        (
            order("X", 3, [("P1", 0, True), ("W5", 2, False)]),
            order("X", 2, [("P1", 0, True)]),
            "orderUpdateError",
        ),
        (
            order("X", 0, [("P1", 0, True), ("W5", 2, False)]),
            order("X", 1, [("W5", 2, True)]),
            "orderUpdateError",
        ),
        (None, b"{not json", "validationError"),
    ],
)
def test_the_emulator_refuses_orders_as_2_1_says(first: bytes | None, second: bytes, error: str) -> None:
    agv = EmulatedVehicle(PLANT, "AGV-01", "coilyard")
    if first is not None:
        agv.receive("order", first, 0.0)
        assert agv.errors == []
    agv.receive("order", second, 0.0)
    assert [e["errorType"] for e in agv.errors] == [error]


def test_a_resent_order_is_ignored_and_an_update_extends_the_base() -> None:
    agv = EmulatedVehicle(PLANT, "AGV-01", "coilyard")
    agv.receive("order", order("X", 0, [("P1", 0, True), ("W5", 2, True), ("W4", 4, False)]), 0.0)
    agv.receive("order", order("X", 0, [("P1", 0, True), ("W5", 2, True), ("W4", 4, False)]), 0.0)
    assert [(n["nodeId"], n["released"]) for n in agv.nodes] == [("W5", True), ("W4", False)]
    agv.receive("order", order("X", 1, [("W5", 2, True), ("W4", 4, True), ("W3", 6, False)]), 0.0)
    assert agv.errors == []
    assert [(n["nodeId"], n["released"]) for n in agv.nodes] == [("W5", True), ("W4", True), ("W3", False)]
    assert [e["sequenceId"] for e in agv.edges] == [1, 3, 5]


def test_the_emulator_never_drives_past_the_released_base() -> None:
    agv = EmulatedVehicle(PLANT, "AGV-01", "coilyard", speed_up=100.0)
    agv.receive("order", order("X", 0, [("P1", 0, True), ("W5", 2, True), ("W4", 4, False)]), 0.0)
    for i in range(100):
        agv.step(i * 0.1)
    assert (agv.last_node, agv.driving) == ("W5", False)
    assert (agv.x, agv.y) == PLANT.node_points["W5"]
    state = agv.state()
    assert [n["nodeId"] for n in state["nodeStates"]] == ["W4"]


def instant(kind: str, action_id: str, **params: object) -> bytes:
    action: dict[str, Any] = {"actionType": kind, "actionId": action_id, "blockingType": "HARD"}
    if params:
        action["actionParameters"] = [{"key": k, "value": v} for k, v in params.items()]
    return encode({**header(0, "coilyard", "AGV-01"), "actions": [action]})


def test_pause_holds_the_vehicle_and_stop_pause_lets_it_go_on() -> None:
    agv = EmulatedVehicle(PLANT, "AGV-01", "coilyard", speed_up=100.0)
    agv.receive("order", order("X", 0, [("P1", 0, True), ("W5", 2, True)]), 0.0)
    agv.receive("instantActions", instant("startPause", "p1"), 0.0)
    for i in range(20):
        agv.step(i * 0.1)
    assert (agv.last_node, agv.paused, agv.state()["paused"]) == ("P1", True, True)
    agv.receive("instantActions", instant("stopPause", "p2"), 2.0)
    for i in range(20, 40):
        agv.step(i * 0.1)
    assert agv.last_node == "W5"
    assert {k: v["actionStatus"] for k, v in agv.action_states.items()} == {
        "p1": "FINISHED",
        "p2": "FINISHED",
    }


def test_cancel_without_an_order_fails_with_no_order_to_cancel_and_init_position_moves_the_vehicle() -> None:
    agv = EmulatedVehicle(PLANT, "AGV-01", "coilyard")
    agv.receive("instantActions", instant("cancelOrder", "c1"), 0.0)
    assert agv.action_states["c1"]["actionStatus"] == "FAILED"
    assert [e["errorType"] for e in agv.errors] == ["noOrderToCancel"]
    agv.receive("instantActions", instant("initPosition", "i1", lastNodeId="W3"), 0.0)
    assert (agv.last_node, (agv.x, agv.y)) == ("W3", PLANT.node_points["W3"])
    agv.receive("instantActions", instant("selfDestruct", "s1"), 0.0)
    assert agv.action_states["s1"]["actionStatus"] == "FAILED"


def test_charging_runs_at_the_class_charge_power_until_full_and_the_master_sees_it() -> None:
    agv = EmulatedVehicle(PLANT, "AGV-01", "coilyard", speed_up=60.0)
    agv.battery = 50.0
    charge = {
        "actionType": "startCharging",
        "actionId": "X/startCharging",
        "blockingType": "HARD",
        "actionParameters": [],
    }
    payload = order("X", 0, [("P1", 0, True)])
    message = json.loads(payload)
    message["nodes"][0]["actions"] = [charge]
    agv.receive("order", encode(message), 0.0)
    agv.step(0.0)
    agv.step(0.01)
    assert agv.charging
    assert agv.state()["batteryState"]["charging"] is True
    agv.step(60.0)  # 3,600 s at 60 kW into 120 kWh: from 50 % to full
    assert (agv.battery, agv.charging) == (100.0, False)
