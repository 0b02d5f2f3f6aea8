"""Takeovers in the fleet core (dispatcher phase 2 on started orders): an order whose vehicle still drives
empty to the first destination goes to a free vehicle that gets there at least the margin sooner; the old
vehicle is stopped the safe way (Cancel, base kept until it stands) and is free again."""

from __future__ import annotations

import pytest

from fleet.core import SubmitOrder, Tick
from fleet.domain.orders import (
    InvalidOrderTransition,
    OrderBook,
    OrderSpec,
    OrderState,
)
from fleet.ports import Cancel, SendRoute
from tests.fleet_harness import Loop
from tests.unit.fleet.test_core import move_to, transport
from tests.wms_factories import tiny_plant

C, A, AS, F = OrderState.CREATED, OrderState.ASSIGNED, OrderState.ACTIVE, OrderState.FINISHED


def first_busy_then(spec: OrderSpec, first: OrderSpec) -> Loop:
    """AGV-01 drives `first` (a move); when it has arrived, `spec` is submitted: AGV-01 is still busy, so the
    order goes to AGV-02 (parked behind it at P2), which starts driving."""
    loop = Loop.on(tiny_plant())
    loop.feed(SubmitOrder(spec=first))
    for _ in range(40):
        loop.tick()
        if loop.fleet.vehicles["AGV-01"].arrived:
            break
    assert loop.fleet.vehicles["AGV-01"].arrived
    assert loop.core.book[first.id].state is AS
    loop.feed(SubmitOrder(spec=spec))
    loop.tick()
    assert loop.core.book[spec.id].vehicle == "AGV-02"
    return loop


def cancels(loop: Loop, vehicle: str) -> list[Cancel]:
    return [c for c in loop.fleet.vehicles[vehicle].commands if isinstance(c, Cancel)]


def test_a_vehicle_freed_near_the_pickup_takes_the_order_from_the_far_one_which_stops_safely() -> None:
    # AGV-01 ends its move at H-IS1, 7 s from the pickup H-FS1; AGV-02 set off from P2, about 50 s away.
    loop = first_busy_then(transport("T1", "H-FS1", "IO-HB1"), move_to("M1", "H-IS1"))
    assert loop.core.book["T1"].state is AS  # AGV-02 is driving empty to the pickup
    loop.tick()  # M1 done: AGV-01 is free, and takes T1 over
    assert loop.core.book["M1"].state is F
    assert loop.core.book["T1"].vehicle == "AGV-01"
    assert loop.core.takeovers == 1
    assert cancels(loop, "AGV-02") == [Cancel(vehicle="AGV-02", order="T1")]
    assert loop.core.vehicles["AGV-02"].order is None
    loop.run(80, until="T1")
    assert loop.core.book["T1"].state is F
    assert loop.states("T1") == [C, A, AS, C, A, AS, F]
    history = loop.core.book.history("T1")
    assert [(e.to_state, e.vehicle) for e in history[1:3]] == [(AS, "AGV-02"), (C, "AGV-02")]
    assert "taken over by AGV-01" in history[2].reason
    assert history[-1].vehicle == "AGV-01"
    # The unit was picked and dropped once, by AGV-01; AGV-02 never did an operation for T1.
    assert [c for c in loop.fleet.vehicles["AGV-02"].commands if isinstance(c, SendRoute) and c.order == "T1"]
    assert loop.fleet.vehicles["AGV-01"].node == "IO-HB1"
    assert loop.core.vehicles["AGV-01"].load is None
    # AGV-02 has no drive for T1 any more (it is free: at most parked again).
    drive = loop.core.drive_of("AGV-02")
    assert drive is None or drive.order != "T1"


def test_the_stopped_vehicle_keeps_only_its_base_until_it_stands() -> None:
    loop = first_busy_then(transport("T1", "H-FS1", "IO-HB1"), move_to("M1", "H-IS1"))
    loop.t += 1.0
    effects = loop.feed(Tick())  # M1 was done at the end of the last tick: AGV-01 is free now
    assert Cancel(vehicle="AGV-02", order="T1") in effects
    drive = loop.core.drive_of("AGV-02")
    assert drive is not None and drive.stopping  # it was driving: it stops at the end of its base
    assert loop.core.traffic.claim_of("AGV-02") == loop.core.traffic.base_of("AGV-02")
    assert loop.core.vehicles["AGV-02"].order is None
    loop.pump()  # the fake stops where it is and reports IDLE
    assert loop.core.drive_of("AGV-02") is None
    assert loop.core.traffic.held_by("AGV-02") == frozenset({loop.core.traffic.node_of("AGV-02")})


def seconds(loop: Loop, vehicle: str, node: str) -> float:
    router = loop.core.router
    return router.route("agv", loop.core.traffic.node_of(vehicle), node).cost


def test_no_takeover_once_the_unit_is_on_board() -> None:
    # AGV-02 picks at the far end W1 and drives loaded back to DOCK1; AGV-01, free (parked near P1), is far
    # sooner at the drop.
    loop = first_busy_then(transport("T1", "W1", "DOCK1"), move_to("M1", "W6"))
    saving = 0.0
    for _ in range(80):
        loop.tick()
        if loop.core.vehicles["AGV-02"].load is not None and loop.core.vehicles["AGV-01"].order is None:
            saving = max(saving, seconds(loop, "AGV-02", "DOCK1") - seconds(loop, "AGV-01", "DOCK1"))
        if loop.core.book["T1"].state.terminal:
            break
    assert saving > 30.0  # AGV-01 would have been far sooner at the order's next destination
    assert loop.core.book["T1"].state is F
    assert loop.states("T1") == [C, A, AS, F]
    assert {e.vehicle for e in loop.core.book.history("T1")} == {"AGV-02"}
    assert loop.core.takeovers == 0
    assert cancels(loop, "AGV-02") == []


def test_no_takeover_when_the_free_vehicle_saves_less_than_the_margin() -> None:
    # AGV-01 becomes free at H-IS1, 18 s from the pickup IO-HB1; AGV-02 is 38 s (at P1) or less away.
    loop = first_busy_then(transport("T1", "IO-HB1", "H-FS1"), move_to("M1", "H-IS1"))
    saving = 0.0
    for _ in range(80):
        loop.tick()
        if loop.core.book["T1"].done == 0 and loop.core.vehicles["AGV-01"].order is None:
            saving = max(saving, seconds(loop, "AGV-02", "IO-HB1") - seconds(loop, "AGV-01", "IO-HB1"))
        if loop.core.book["T1"].state.terminal:
            break
    assert 0.0 < saving < 30.0  # nearer, but not by the margin
    assert loop.core.book["T1"].state is F
    assert loop.states("T1") == [C, A, AS, F]
    assert {e.vehicle for e in loop.core.book.history("T1")} == {"AGV-02"}
    assert loop.core.takeovers == 0


def test_recall_takes_back_an_active_order_only_while_nothing_is_done() -> None:
    book = OrderBook(tiny_plant())
    book.add(transport("T1", "HM-X", "H-FS1"))
    with pytest.raises(InvalidOrderTransition, match="only for active"):
        book.recall("T1", 1.0, "taken over")
    book.assign("T1", "AGV-01", 1.0)
    book.start("T1", 2.0)
    with pytest.raises(InvalidOrderTransition, match="needs a reason"):
        book.recall("T1", 3.0, "")
    (event,) = book.recall("T1", 3.0, "taken over by AGV-02")
    assert (event.from_state, event.to_state, event.vehicle) == (AS, C, "AGV-01")
    assert book["T1"].state is C and book["T1"].vehicle is None
    book.assign("T1", "AGV-02", 4.0)
    book.start("T1", 5.0)
    book.destination_done("T1", 6.0)  # picked: too late
    with pytest.raises(InvalidOrderTransition, match="already done"):
        book.recall("T1", 7.0, "taken over")
    assert book["T1"].state is AS and book["T1"].vehicle == "AGV-02"
