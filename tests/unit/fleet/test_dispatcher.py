"""The dispatcher on the tiny plant and on a small line: optimal assignment, priorities, classes, capacity,
failures and takeovers, charging and parking."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.dispatcher import Assignment, AssignmentKind, Dispatcher, solve
from fleet.domain.orders import Destination, Operation, OrderBook, OrderSpec, OrderState
from fleet.domain.vehicles import AtNode, Load, OnEdge, Vehicle, VehicleState, vehicles_of
from fleet.routing import Router
from layout import Plant, parse_plant
from tests.wms_factories import tiny_plant

# A straight road A–B–C–D–E (x = 10, 70, 110, 160, 260; 1 m/s, so seconds = metres), two parking places
# off A and B, two chargers off D and E. Class "agv" carries 30 t and has a battery; "heavy" carries 60 t.
LINE = """
plant: {id: line, outline: [[0, 0], [400, 0], [400, 100], [0, 100]]}
network:
  nodes:
    - {id: A, at: [10, 10]}
    - {id: B, at: [70, 10]}
    - {id: C, at: [110, 10]}
    - {id: D, at: [160, 10]}
    - {id: E, at: [260, 10]}
    - {id: P1, at: [10, 50], kind: parking}
    - {id: P2, at: [70, 50], kind: parking}
    - {id: CH1, at: [160, 50], kind: charger}
    - {id: CH2, at: [260, 50], kind: charger}
  edges:
    - {from: A, to: B}
    - {from: B, to: C}
    - {from: C, to: D}
    - {from: D, to: E}
    - {from: A, to: P1}
    - {from: B, to: P2}
    - {from: D, to: CH1}
    - {from: E, to: CH2}
vehicle_classes:
  - {id: agv, kind: agv, speed_empty: 1.0, speed_loaded: 1.0, acceleration: 0.5, capacity: 30,
     footprint: {length: 6, width: 2.8},
     battery: {capacity_kwh: 100, moving_kw: 10, charge_kw: 50, low_fraction: 0.25, full_fraction: 0.9}}
  - {id: heavy, kind: agv, speed_empty: 1.0, speed_loaded: 1.0, acceleration: 0.5, capacity: 60,
     footprint: {length: 8, width: 3}}
"""
ROAD = ["A", "B", "C", "D", "E"]


@cache
def line() -> Plant:
    return parse_plant(LINE)


def vehicle(vid: str, node: str, vclass: str = "agv", energy: float | None = None) -> Vehicle:
    plant = line()
    spec = plant.vehicle_classes[vclass]
    battery = spec.battery
    full = battery.capacity_kwh if battery is not None else None
    return Vehicle(
        id=vid, spec=spec, home=node, position=AtNode(node), energy=full if energy is None else energy
    )


def fleet(*vehicles: Vehicle) -> dict[str, Vehicle]:
    return {v.id: v for v in vehicles}


def order(oid: str, pick: str, drop: str = "E", **kw: object) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination(pick, Operation.PICK), Destination(drop, Operation.DROP)),
        **kw,  # type: ignore[arg-type]
    )


def setup(*specs: OrderSpec, plant: Plant | None = None) -> tuple[Dispatcher, OrderBook, Router]:
    plant = plant or line()
    book = OrderBook(plant)
    for spec in specs:
        book.add(spec)
    router = Router(plant)
    return Dispatcher(plant, router, book), book, router


def orders_of(assignments: list[Assignment]) -> dict[str, str]:
    return {a.order: a.vehicle for a in assignments if a.order is not None}


# ------------------------------------------------------------------------------------------- assignment


def test_nearest_vehicle_gets_the_order_on_the_tiny_plant() -> None:
    plant = tiny_plant()
    spec = OrderSpec(
        id="O1",
        destinations=(Destination("DOCK1", Operation.PICK), Destination("H-FS1", Operation.DROP)),
        weight=20.0,
    )
    dispatcher, book, _ = setup(spec, plant=plant)
    vehicles = vehicles_of(plant)  # AGV-01 on P1, AGV-02 on P2 (one further from the dock), RGV-01 on rail
    out = dispatcher.dispatch(vehicles, at=5.0)
    real = [a for a in out if a.kind is AssignmentKind.ORDER]
    assert [(a.vehicle, a.order, a.target_node) for a in real] == [("AGV-01", "O1", "DOCK1")]
    assert book["O1"].state is OrderState.ASSIGNED and book["O1"].vehicle == "AGV-01"
    assert book.history("O1")[-1].at == 5.0
    # The rest idle on parking or their rail stop: nothing else to do (the rail has no parking node).
    assert {a.vehicle for a in out} == {"AGV-01"}


def test_nearest_vehicle_on_the_line() -> None:
    dispatcher, book, _ = setup(order("O1", "D"))
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("V2", "C")), at=0.0)
    assert orders_of(out) == {"O1": "V2"}
    assert next(a for a in out if a.order == "O1").cost == pytest.approx(50.0)
    assert book["O1"].vehicle == "V2"


def test_global_optimum_beats_greedy_on_a_crafted_two_by_two() -> None:
    # Greedy (O1 first, nearest vehicle): V1 (C) takes O1 at B for 40 s, V2 (A) gets O2 at D for 150 s: 190 s.
    # Optimal: V2 -> B 60 s, V1 -> D 50 s: 110 s.
    dispatcher, _, _ = setup(order("O1", "B"), order("O2", "D"))
    out = dispatcher.dispatch(fleet(vehicle("V1", "C"), vehicle("V2", "A")), at=0.0)
    assert orders_of(out) == {"O1": "V2", "O2": "V1"}
    assert sum(a.cost for a in out if a.kind is AssignmentKind.ORDER) == pytest.approx(110.0)


@settings(max_examples=60, deadline=None)
@given(
    starts=st.lists(st.sampled_from(ROAD), min_size=1, max_size=4),
    picks=st.lists(st.sampled_from(ROAD), min_size=1, max_size=4),
)
def test_total_travel_is_the_brute_force_minimum(starts: list[str], picks: list[str]) -> None:
    dispatcher, _, router = setup(*(order(f"O{j}", p) for j, p in enumerate(picks)))
    vehicles = fleet(*(vehicle(f"V{i}", s) for i, s in enumerate(starts)))
    out = [a for a in dispatcher.dispatch(vehicles, at=0.0) if a.kind is AssignmentKind.ORDER]
    k = min(len(starts), len(picks))
    assert len(out) == k
    assert len({a.vehicle for a in out}) == k
    best = min(
        sum(router.cost("agv", starts[i], picks[j]) for i, j in zip(rows, columns, strict=True))
        for rows in itertools.permutations(range(len(starts)), k)
        for columns in itertools.combinations(range(len(picks)), k)
    )
    assert sum(a.cost for a in out) == pytest.approx(best)


def test_priority_beats_distance() -> None:
    dispatcher, book, _ = setup(order("NEAR", "B"), order("FAR", "E", drop="A", priority=1))
    out = dispatcher.dispatch(fleet(vehicle("V1", "A")), at=0.0)
    assert orders_of(out) == {"FAR": "V1"}
    assert book["NEAR"].state is OrderState.CREATED


def test_deadline_at_risk_wins_the_only_vehicle() -> None:
    # Same priority, NEAR is closer, but LATE must be picked up by t = 150 and E is 250 s away: waiting makes
    # it later still, so it goes first.
    dispatcher, _, _ = setup(order("NEAR", "B"), order("LATE", "E", drop="A", deadline=150.0))
    out = dispatcher.dispatch(fleet(vehicle("V1", "A")), at=0.0)
    assert orders_of(out) == {"LATE": "V1"}


def test_deadline_picks_the_vehicle_that_keeps_it() -> None:
    # Minimum travel would send V1 (C) to D and V2 (A) to B (50 + 60 = 110 s), but OB is due at 45 s, which
    # only V1 (40 s away) meets: the lateness term (10 x 15 s) makes V1 take B at 40 + 150 = 190 s of travel.
    dispatcher, _, _ = setup(order("OB", "B", deadline=45.0), order("OD", "D"))
    out = dispatcher.dispatch(fleet(vehicle("V1", "C"), vehicle("V2", "A")), at=0.0)
    assert orders_of(out) == {"OB": "V1", "OD": "V2"}


def test_wrong_class_and_too_heavy_orders_are_never_assigned() -> None:
    dispatcher, book, _ = setup(
        order("HEAVY", "B", weight=45.0),
        order("CLASS", "B", vehicle_class="heavy", weight=5.0),
        order("BIG", "B", min_capacity=40.0),
    )
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("V2", "C")), at=0.0)
    assert orders_of(out) == {}
    assert all(o.state is OrderState.CREATED for o in book.orders.values())
    # A heavy vehicle takes one of them (all three fit it; only one vehicle).
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("V2", "C"), vehicle("H", "E", "heavy")), 1.0)
    assert set(orders_of(out).values()) == {"H"}
    assert len(orders_of(out)) == 1


def test_class_specific_order_goes_to_the_far_vehicle_of_its_class() -> None:
    dispatcher, _, _ = setup(order("O1", "A", vehicle_class="heavy"))
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("H", "E", "heavy")), at=0.0)
    assert orders_of(out) == {"O1": "H"}


def test_more_orders_than_vehicles_and_the_rest_next_time() -> None:
    dispatcher, book, _ = setup(
        order("O1", "B", priority=2), order("O2", "C", priority=1), order("O3", "D"), order("O4", "A")
    )
    vehicles = fleet(vehicle("V1", "E"), vehicle("V2", "A"))
    out = dispatcher.dispatch(vehicles, at=0.0)
    assert set(orders_of(out)) == {"O1", "O2"}
    assert {book[o].state for o in ("O3", "O4")} == {OrderState.CREATED}
    # The assigned vehicles are busy (the book says so): a third vehicle gets the best remaining one.
    vehicles["V3"] = vehicle("V3", "D")
    out = dispatcher.dispatch(vehicles, at=1.0)
    assert orders_of(out) == {"O3": "V3"}


def test_more_vehicles_than_orders_leaves_the_far_ones_idle() -> None:
    dispatcher, _, _ = setup(order("O1", "B"))
    out = dispatcher.dispatch(fleet(vehicle("V1", "E"), vehicle("V2", "A"), vehicle("V3", "D")), at=0.0)
    assert orders_of(out) == {"O1": "V2"}


def test_dependencies_hold_an_order_back() -> None:
    dispatcher, book, _ = setup(order("FIRST", "D"), order("THEN", "B", dependencies=frozenset({"FIRST"})))
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("V2", "D")), at=0.0)
    assert orders_of(out) == {"FIRST": "V2"}
    assert book["THEN"].state is OrderState.CREATED


def test_busy_erroneous_and_low_vehicles_get_no_order() -> None:
    dispatcher, book, _ = setup(order("O1", "B"))
    broken, off, low, moving = (
        vehicle("V1", "B"),
        vehicle("V2", "B"),
        vehicle("V3", "B", energy=10.0),
        vehicle("V4", "B"),
    )
    broken.state = VehicleState.ERROR
    off.state = VehicleState.UNAVAILABLE
    moving.state = VehicleState.MOVING
    out = dispatcher.dispatch(fleet(broken, off, low, moving), at=0.0)
    assert orders_of(out) == {}
    assert book["O1"].state is OrderState.CREATED


def test_vehicle_on_an_edge_is_costed_from_the_edge_end() -> None:
    dispatcher, _, _ = setup(order("O1", "D"))
    v1, v2 = vehicle("V1", "A"), vehicle("V2", "E")
    v1.position = OnEdge("B", "C", 10.0)  # its route starts at C: 50 s to D; V2 needs 100 s
    out = dispatcher.dispatch(fleet(v1, v2), at=0.0)
    assert orders_of(out) == {"O1": "V1"}


def test_solve_drops_infeasible_pairs_and_maximises_feasible_ones() -> None:
    cost = np.array([[1.0, 100.0], [5.0, np.inf]])
    feasible = np.isfinite(cost)
    # Cheapest would be V0 -> O0 (1) alone, but two feasible pairs exist: V0 -> O1, V1 -> O0.
    assert sorted(solve(cost, feasible)) == [(0, 1), (1, 0)]
    assert solve(cost, np.zeros_like(feasible)) == []


# ------------------------------------------------------------------------------------ failure, takeover


def test_failed_vehicles_assigned_order_goes_to_another_vehicle() -> None:
    dispatcher, book, _ = setup(order("O1", "B"))
    vehicles = fleet(vehicle("V1", "A"), vehicle("V2", "E"))
    assert orders_of(dispatcher.dispatch(vehicles, at=0.0)) == {"O1": "V1"}
    changes = dispatcher.vehicle_failed("V1", at=3.0)
    assert [(c.from_state, c.to_state) for c in changes] == [(OrderState.ASSIGNED, OrderState.CREATED)]
    vehicles["V1"].state = VehicleState.ERROR
    assert orders_of(dispatcher.dispatch(vehicles, at=4.0)) == {"O1": "V2"}
    assert book["O1"].vehicle == "V2"


def test_failed_vehicles_active_order_is_reassigned_before_the_drop_only() -> None:
    dispatcher, book, _ = setup(order("O1", "B"), order("O2", "C"))
    vehicles = fleet(vehicle("V1", "B"), vehicle("V2", "C"), vehicle("V3", "E"))
    assert orders_of(dispatcher.dispatch(vehicles, at=0.0)) == {"O1": "V1", "O2": "V2"}
    for oid in ("O1", "O2"):
        book.start(oid, at=1.0)
        book.destination_done(oid, at=2.0)  # picked up
    book.destination_done("O2", at=3.0)  # O2 already dropped
    assert [c.order for c in dispatcher.vehicle_failed("V1", at=4.0)] == ["O1"]
    assert dispatcher.vehicle_failed("V2", at=4.0) == []  # after the drop: left to the caller
    assert book["O1"].state is OrderState.CREATED and book["O1"].done == 0
    vehicles["V1"].state = VehicleState.ERROR
    vehicles["V2"].state = VehicleState.ERROR
    assert orders_of(dispatcher.dispatch(vehicles, at=5.0)) == {"O1": "V3"}


def test_a_much_nearer_vehicle_takes_over_an_order_before_pickup() -> None:
    dispatcher, book, _ = setup(order("O1", "B"))
    vehicles = fleet(vehicle("V1", "E"))
    assert orders_of(dispatcher.dispatch(vehicles, at=0.0)) == {"O1": "V1"}  # 190 s away
    vehicles["V1"].state = VehicleState.MOVING
    vehicles["V2"] = vehicle("V2", "A")  # 60 s away
    out = dispatcher.dispatch(vehicles, at=1.0)
    taken = [a for a in out if a.order == "O1"]
    assert [(a.vehicle, a.previous) for a in taken] == [("V2", "V1")]
    assert book["O1"].vehicle == "V2"
    assert [e.to_state for e in book.history("O1")] == [
        OrderState.ASSIGNED,
        OrderState.CREATED,
        OrderState.ASSIGNED,
    ]


def test_no_takeover_within_the_margin_or_after_the_start() -> None:
    dispatcher, book, _ = setup(order("O1", "C"))
    vehicles = fleet(vehicle("V1", "D"))  # 50 s from C
    assert orders_of(dispatcher.dispatch(vehicles, at=0.0)) == {"O1": "V1"}
    vehicles["V1"].state = VehicleState.MOVING
    vehicles["V2"] = vehicle("V2", "B")  # 40 s: saves 10 s, less than the 30 s margin
    out = dispatcher.dispatch(vehicles, at=1.0)
    assert book["O1"].vehicle == "V1"
    assert all(a.order is None for a in out)  # V2 is only sent to park
    # Once started, an order is never taken over, however near another vehicle is.
    book.start("O1", at=2.0)
    vehicles["V3"] = vehicle("V3", "C")
    out = dispatcher.dispatch(vehicles, at=3.0)
    assert book["O1"].vehicle == "V1"
    assert all(a.order is None for a in out)


def started_setup(*specs: OrderSpec) -> tuple[Dispatcher, OrderBook]:
    """A dispatcher that may take over started orders (as the fleet core runs it)."""
    plant = line()
    book = OrderBook(plant)
    for spec in specs:
        book.add(spec)
    return Dispatcher(plant, Router(plant), book, takeover_started=True), book


def test_a_started_order_with_nothing_done_is_taken_over_by_a_much_nearer_vehicle() -> None:
    dispatcher, book = started_setup(order("O1", "B"))
    vehicles = fleet(vehicle("V1", "E"))
    assert orders_of(dispatcher.dispatch(vehicles, at=0.0)) == {"O1": "V1"}  # 190 s away
    book.start("O1", at=1.0)
    vehicles["V1"].state = VehicleState.MOVING
    vehicles["V1"].position = AtNode("D")  # 90 s away now
    vehicles["V2"] = vehicle("V2", "A")  # 60 s away: saves less than the margin
    assert all(a.order is None for a in dispatcher.dispatch(vehicles, at=2.0))
    assert book["O1"].vehicle == "V1"
    vehicles["V2"].position = AtNode("P2")  # 40 s away: saves 50 s
    taken = [a for a in dispatcher.dispatch(vehicles, at=3.0) if a.order == "O1"]
    assert [(a.vehicle, a.previous) for a in taken] == [("V2", "V1")]
    assert book["O1"].vehicle == "V2" and book["O1"].state is OrderState.ASSIGNED
    assert [(e.from_state, e.to_state, e.vehicle) for e in book.history("O1")[-3:]] == [
        (OrderState.ASSIGNED, OrderState.ACTIVE, "V1"),
        (OrderState.ACTIVE, OrderState.CREATED, "V1"),
        (OrderState.CREATED, OrderState.ASSIGNED, "V2"),
    ]


def test_no_takeover_of_a_started_order_once_loaded_loading_picked_or_kept() -> None:
    dispatcher, book = started_setup(order("O1", "B"))
    vehicles = fleet(vehicle("V1", "E"))
    assert orders_of(dispatcher.dispatch(vehicles, at=0.0)) == {"O1": "V1"}
    book.start("O1", at=1.0)
    vehicles["V2"] = vehicle("V2", "B")  # at the pickup: 190 s sooner
    holder = vehicles["V1"]
    holder.state = VehicleState.LOADING
    assert all(a.order is None for a in dispatcher.dispatch(vehicles, at=2.0))
    holder.state = VehicleState.MOVING
    holder.load = Load("K1", 10.0)
    assert all(a.order is None for a in dispatcher.dispatch(vehicles, at=3.0))
    holder.load = None
    assert all(a.order is None for a in dispatcher.dispatch(vehicles, at=4.0, keep={"V1"}))
    book.destination_done("O1", at=5.0)  # picked: its next destination (E) is where V1 is anyway
    vehicles["V2"].position = AtNode("E")
    holder.position = AtNode("A")
    assert all(a.order is None for a in dispatcher.dispatch(vehicles, at=6.0))
    assert book["O1"].vehicle == "V1" and book["O1"].state is OrderState.ACTIVE
    # The same situation with nothing done and nothing kept: taken over (the checks above are what stopped it).
    fresh, book2 = started_setup(order("O2", "B"))
    others = fleet(vehicle("V1", "E"))
    fresh.dispatch(others, at=0.0)
    book2.start("O2", at=1.0)
    others["V1"].state = VehicleState.MOVING
    others["V2"] = vehicle("V2", "B")
    assert orders_of(fresh.dispatch(others, at=2.0)) == {"O2": "V2"}


def test_a_taken_over_order_never_goes_back_to_the_vehicle_it_was_taken_from() -> None:
    dispatcher, book = started_setup(order("O1", "B"))
    vehicles = fleet(vehicle("V1", "E"))
    dispatcher.dispatch(vehicles, at=0.0)
    book.start("O1", at=1.0)
    vehicles["V1"].state = VehicleState.MOVING
    vehicles["V2"] = vehicle("V2", "A")
    assert orders_of(dispatcher.dispatch(vehicles, at=2.0)) == {"O1": "V2"}
    book.start("O1", at=3.0)
    # V1 stopped right at the pickup, V2 turned far away: V1 would now be much sooner, but does not get it.
    vehicles["V1"].state = VehicleState.IDLE
    vehicles["V1"].position = AtNode("B")
    vehicles["V2"].state = VehicleState.MOVING
    vehicles["V2"].position = AtNode("E")
    assert all(a.order != "O1" for a in dispatcher.dispatch(vehicles, at=4.0))
    assert book["O1"].vehicle == "V2"


# ----------------------------------------------------------------------------------- charging, parking


def test_low_vehicle_goes_to_the_nearest_free_charger() -> None:
    dispatcher, _, _ = setup()
    out = dispatcher.dispatch(fleet(vehicle("V1", "C", energy=10.0)), at=0.0)
    assert [(a.vehicle, a.kind, a.target_node, a.order) for a in out] == [
        ("V1", AssignmentKind.CHARGE, "CH1", None)
    ]
    assert out[0].cost == pytest.approx(90.0)
    assert out[0].dispensable


def test_two_low_vehicles_do_not_share_a_charger() -> None:
    dispatcher, _, _ = setup()
    vehicles = fleet(vehicle("V1", "C", energy=10.0), vehicle("V2", "D", energy=10.0))
    out = dispatcher.dispatch(vehicles, at=0.0)
    # Both matchings cost 230 s (90 + 140 or 190 + 40): either is optimal, but never one charger for both.
    assert all(a.kind is AssignmentKind.CHARGE for a in out)
    assert sorted(a.vehicle for a in out) == ["V1", "V2"]
    assert sorted(a.target_node for a in out) == ["CH1", "CH2"]
    # A third low vehicle finds both chargers held: it waits, and the holds are not issued again.
    vehicles["V3"] = vehicle("V3", "B", energy=10.0)
    assert dispatcher.dispatch(vehicles, at=1.0) == []
    assert {h.target_node for h in dispatcher.holds.values()} == {"CH1", "CH2"}


def test_a_vehicle_standing_on_a_charger_takes_it() -> None:
    dispatcher, _, _ = setup()
    sitting = vehicle("V0", "CH1")
    sitting.state = VehicleState.CHARGING
    out = dispatcher.dispatch(fleet(sitting, vehicle("V1", "D", energy=10.0)), at=0.0)
    assert [(a.vehicle, a.target_node) for a in out] == [("V1", "CH2")]


def test_charged_vehicle_leaves_for_parking_and_low_one_gets_no_order() -> None:
    dispatcher, book, _ = setup()
    v = vehicle("V1", "C", energy=10.0)
    dispatcher.dispatch(fleet(v), at=0.0)
    v.position = AtNode("CH1")
    book.add(order("O1", "D"))
    assert orders_of(dispatcher.dispatch(fleet(v), at=10.0)) == {}  # still low: charges, no order
    v.energy = 95.0
    out = dispatcher.dispatch(fleet(v), at=20.0)
    assert orders_of(out) == {"O1": "V1"}
    assert "V1" not in dispatcher.holds


def test_idle_vehicles_are_parked_on_different_places() -> None:
    dispatcher, _, _ = setup()
    vehicles = fleet(vehicle("V1", "C"), vehicle("V2", "D"), vehicle("V3", "P1"))
    out = dispatcher.dispatch(vehicles, at=0.0)
    # V3 is already on P1, so only P2 is free: V1 (40 + 40 s via B) gets it over V2 (130 s).
    assert [(a.vehicle, a.kind, a.target_node) for a in out] == [("V1", AssignmentKind.PARK, "P2")]
    assert out[0].cost == pytest.approx(80.0)
    assert dispatcher.dispatch(vehicles, at=1.0) == []  # V1 holds P2 now; nothing new for V2


def test_a_real_order_preempts_parking() -> None:
    dispatcher, book, _ = setup()
    vehicles = fleet(vehicle("V1", "E"))
    assert [a.kind for a in dispatcher.dispatch(vehicles, at=0.0)] == [AssignmentKind.PARK]
    vehicles["V1"].state = VehicleState.MOVING  # on its way to park
    book.add(order("O1", "D"))
    out = dispatcher.dispatch(vehicles, at=1.0)
    assert orders_of(out) == {"O1": "V1"}
    assert dispatcher.holds == {}


def test_a_parked_vehicle_that_runs_low_goes_to_a_charger_and_a_failure_drops_its_hold() -> None:
    dispatcher, _, _ = setup()
    v = vehicle("V1", "C")
    assert [a.kind for a in dispatcher.dispatch(fleet(v), at=0.0)] == [AssignmentKind.PARK]
    v.position = AtNode("P2")
    v.energy = 10.0
    out = dispatcher.dispatch(fleet(v), at=1.0)
    assert [(a.kind, a.target_node) for a in out] == [(AssignmentKind.CHARGE, "CH1")]
    assert dispatcher.holds["V1"].kind is AssignmentKind.CHARGE
    dispatcher.vehicle_failed("V1", at=2.0)
    assert dispatcher.holds == {}


def test_busy_vehicles_get_nothing_but_keep_their_holds_and_places() -> None:
    dispatcher, book, _ = setup(order("O1", "C"))
    vehicles = fleet(vehicle("V1", "C", energy=10.0), vehicle("V2", "B"))
    assert [(a.vehicle, a.kind) for a in dispatcher.dispatch(vehicles, at=0.0, busy={"V2"})] == [
        ("V1", AssignmentKind.CHARGE)
    ]
    assert book["O1"].state is OrderState.CREATED  # V2 is busy, V1 is low: nobody takes the order
    # V1 drives to its charger (the caller marks it busy): its hold stays, nobody else gets CH1.
    vehicles["V3"] = vehicle("V3", "D", energy=10.0)
    out = dispatcher.dispatch(vehicles, at=1.0, busy={"V1", "V2"})
    assert [(a.vehicle, a.target_node) for a in out] == [("V3", "CH2")]
    assert dispatcher.holds["V1"].target_node == "CH1"


def test_a_vehicle_still_low_on_its_charger_is_sent_to_charge_again_there() -> None:
    dispatcher, _, _ = setup()
    v = vehicle("V1", "C", energy=10.0)
    assert [a.target_node for a in dispatcher.dispatch(fleet(v), at=0.0)] == ["CH1"]
    v.position = AtNode("CH1")  # arrived, charged a little, stopped (IDLE) while still low
    v.energy = 20.0
    assert dispatcher.dispatch(fleet(v), at=30.0) == []  # it may still be charging while it stands idle
    out = dispatcher.dispatch(fleet(v), at=60.0)
    assert [(a.vehicle, a.kind, a.target_node, a.cost) for a in out] == [
        ("V1", AssignmentKind.CHARGE, "CH1", 0.0)
    ]
    assert dispatcher.dispatch(fleet(v), at=61.0) == []  # not again before the next retry


def test_release_hold_lets_the_next_dispatch_plan_the_vehicle_again() -> None:
    dispatcher, _, _ = setup()
    vehicles = fleet(vehicle("V1", "C"))
    assert [a.target_node for a in dispatcher.dispatch(vehicles, at=0.0)] == ["P2"]
    assert dispatcher.dispatch(vehicles, at=1.0) == []  # held: not sent twice
    dispatcher.release_hold("V1")
    assert [a.target_node for a in dispatcher.dispatch(vehicles, at=2.0)] == ["P2"]


# ------------------------------------------------------------------------------------ topology changes


def test_after_a_closure_and_repair_a_decision_runs_no_search(monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher, book, router = setup(order("O1", "D"), order("O2", "B"))
    # The line plant has no fleet of its own (what `Dispatcher.prepare` goes by): prepare for class agv.
    router.prepare("agv", ["D", "B", "CH1", "CH2", "P1", "P2"], dispatcher.profile)
    router.close_edge("C", "D")  # D out of reach from the road before it
    assert dispatcher.repair() >= 1  # the column to D (at least) was wrong and is searched again
    assert dispatcher.repair() == 0

    def no_search(*_: object) -> None:
        raise AssertionError("a decision searched")

    monkeypatch.setattr(router, "_dijkstra", no_search)
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("V2", "C")), at=0.0)
    assert orders_of(out) == {"O2": "V2"}  # D cannot be reached now: one order, the nearer vehicle
    monkeypatch.undo()
    router.open_edge("C", "D")
    assert dispatcher.repair() >= 1
    monkeypatch.setattr(router, "_dijkstra", no_search)
    book.withdraw("O2", 1.0, "test")
    out = dispatcher.dispatch(fleet(vehicle("V1", "A"), vehicle("V2", "C")), at=1.0)
    assert orders_of(out) == {"O1": "V2", "O2": "V1"}
