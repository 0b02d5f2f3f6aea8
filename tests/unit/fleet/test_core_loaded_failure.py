"""A vehicle that breaks down with the unit on board keeps its order: nobody else can pick the unit up.

The fleet core on the tiny plant through fake vehicles (tests/fleet_harness): the order stays ACTIVE with
the failed vehicle, no other vehicle is sent to its pickup, and when the vehicle reports IDLE again it
drives on from where it stands and drops the unit.
"""

from __future__ import annotations

from fleet.core import CancelOrder, SubmitOrder
from fleet.domain.orders import Destination, Operation, OrderSpec, OrderState
from fleet.ports import SendRoute
from tests.fleet_harness import Loop
from tests.wms_factories import tiny_plant

C, A, AS, F = OrderState.CREATED, OrderState.ASSIGNED, OrderState.ACTIVE, OrderState.FINISHED


def transport(oid: str) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP)),
        vehicle_class="agv",
        unit=f"K-{oid}",
        weight=20.0,
    )


def loaded_and_failed() -> tuple[Loop, str, str]:
    """T1 picked at HM-X, then its vehicle fails on the way to the drop. (loop, vehicle, node it stands on)"""
    loop = Loop.on(tiny_plant())
    loop.feed(SubmitOrder(spec=transport("T1")))
    vid = ""
    for _ in range(80):
        loop.tick()
        order = loop.core.book["T1"]
        if order.done == 1 and order.vehicle is not None:
            vid = order.vehicle
            if loop.fleet.vehicles[vid].node != "HM-X":  # picked and on its way
                break
    assert vid and loop.core.vehicles[vid].load is not None
    loop.fleet.vehicles[vid].fail(loop.t, "drive fault")
    loop.pump()
    return loop, vid, loop.core.traffic.node_of(vid)


def routes_for(loop: Loop, order: str) -> dict[str, list[SendRoute]]:
    out: dict[str, list[SendRoute]] = {}
    for vid, fake in loop.fleet.vehicles.items():
        sent = [c for c in fake.commands if isinstance(c, SendRoute) and c.order == order]
        if sent:
            out[vid] = sent
    return out


def test_the_order_stays_with_the_failed_vehicle_and_nobody_else_is_sent_to_the_pickup() -> None:
    loop, vid, node = loaded_and_failed()
    order = loop.core.book["T1"]
    assert (order.state, order.vehicle, order.done) == (AS, vid, 1)
    assert loop.core.vehicles[vid].order == "T1"
    assert loop.core.traffic.held_by(vid) == frozenset({node})  # it stands there: nobody drives into it
    loop.run(40)
    assert loop.core.book["T1"].state is AS
    assert loop.core.book["T1"].vehicle == vid
    assert set(routes_for(loop, "T1")) == {vid}  # no other vehicle ever got a route for T1
    assert loop.fleet.vehicles[vid].node == node


def test_after_the_repair_the_vehicle_drives_on_and_drops_the_unit() -> None:
    loop, vid, node = loaded_and_failed()
    loop.run(10)
    loop.fleet.vehicles[vid].recover(loop.t)
    loop.pump()
    resumed = routes_for(loop, "T1")[vid][-1]
    assert resumed.nodes[0] == node and resumed.nodes[-1] == "H-FS1"
    assert resumed.operation is Operation.DROP
    loop.run(80, until="T1")
    assert loop.core.book["T1"].state is F
    assert loop.states("T1") == [C, A, AS, F]  # never given back to the book
    assert loop.fleet.vehicles[vid].node == "H-FS1"
    assert loop.core.vehicles[vid].load is None
    assert loop.core.vehicles[vid].order is None


def test_an_order_cancelled_while_its_vehicle_is_out_is_not_driven_after_the_repair() -> None:
    loop, vid, _node = loaded_and_failed()
    loop.feed(CancelOrder(order="T1", reason="operator"))
    sent = len(routes_for(loop, "T1")[vid])
    loop.fleet.vehicles[vid].recover(loop.t)
    loop.pump()
    loop.run(5)
    assert loop.core.book["T1"].state is OrderState.CANCELLED
    assert len(routes_for(loop, "T1")[vid]) == sent
    assert loop.core.vehicles[vid].order is None  # free for other work (it may be sent to park)


def test_an_empty_vehicle_still_gives_its_order_back() -> None:
    loop = Loop.on(tiny_plant())
    loop.feed(SubmitOrder(spec=transport("T1")))
    loop.tick()
    vid = loop.core.book["T1"].vehicle
    assert vid is not None and loop.core.vehicles[vid].load is None
    loop.fleet.vehicles[vid].fail(loop.t, "drive fault")
    loop.pump()
    assert loop.core.book["T1"].state is C
    assert loop.core.vehicles[vid].order is None
