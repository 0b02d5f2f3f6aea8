"""Traffic control on the tiny plant and on hand-made small plants: conflicts from geometry, allocation in
order up to k nodes, freeing behind, a dead vehicle's release, and deadlock detection and resolution."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.routing import Router
from fleet.traffic import (
    ResolutionKind,
    SafetyViolation,
    TrafficControl,
    TrafficError,
    edge_resource,
)
from layout import Plant, parse_plant
from layout.build import build_plant
from layout.schema import PlantFile
from tests.fleet_factories import agv_class
from tests.wms_factories import tiny_plant

E = edge_resource


def make_plant(nodes: dict[str, tuple[float, float]], edges: list[tuple[str, str]]) -> Plant:
    """A plant with only a network and one AGV class (footprint 6 m x 2.8 m)."""
    raw: dict[str, Any] = {
        "plant": {"id": "t", "outline": [[0, 0], [200, 0], [200, 200], [0, 200]]},
        "network": {
            "nodes": [{"id": n, "at": list(xy)} for n, xy in nodes.items()],
            "edges": [{"from": a, "to": b} for a, b in edges],
        },
        "vehicle_classes": [agv_class()],
    }
    return build_plant(PlantFile.model_validate(raw))


# a - b - c - d on a line, 10 m apart, with a siding c - s.
SIDING = make_plant(
    {"a": (10, 10), "b": (20, 10), "c": (30, 10), "d": (40, 10), "s": (30, 20)},
    [("a", "b"), ("b", "c"), ("c", "d"), ("c", "s")],
)
# Two rows: a - b - c - d below, u - v - w above, joined at a - u and c - w.
LADDER = make_plant(
    {
        "a": (10, 10),
        "b": (20, 10),
        "c": (30, 10),
        "d": (40, 10),
        "u": (10, 20),
        "v": (20, 20),
        "w": (30, 20),
    },
    [("a", "b"), ("b", "c"), ("c", "d"), ("a", "u"), ("u", "v"), ("v", "w"), ("w", "c")],
)


def checked(tc: TrafficControl) -> TrafficControl:
    tc.assert_safe()
    return tc


def step(tc: TrafficControl, vehicle: str, steps: int = 1) -> bool:
    """Allocate, then drive one node if released; True if the vehicle moved."""
    released = tc.allocate(vehicle, steps)
    tc.assert_safe()
    if released < 2:
        return False
    tc.progress(vehicle, tc.base_of(vehicle)[1])
    tc.assert_safe()
    return True


def drive(tc: TrafficControl, router: Router, goals: dict[str, str], ticks: int = 60) -> None:
    """Step every vehicle each tick, re-route vehicles that retreated, resolve deadlocks; all must arrive."""
    for _ in range(ticks):
        for vid, goal in goals.items():
            node = tc.node_of(vid)
            if len(tc.claim_of(vid)) == 1 and node != goal:
                tc.claim(vid, router.route("agv", node, goal).nodes)
            step(tc, vid)
        for cycle in tc.deadlocks():
            resolution = tc.resolve(cycle, router)
            assert resolution is not None
            tc.claim(resolution.victim, resolution.nodes)
            tc.assert_safe()
            break
        if all(tc.node_of(v) == g for v, g in goals.items()):
            return
    raise AssertionError(f"not all arrived: { {v: tc.node_of(v) for v in goals} }")


# ------------------------------------------------------------------------------------------ conflicts


def test_every_resource_conflicts_with_itself_and_adjacent_edges_meet() -> None:
    tc = TrafficControl(SIDING)
    for resource, conflicts in tc.conflicts.items():
        assert resource in conflicts
    assert E("a", "b") in tc.conflicts[E("b", "c")]  # they share node b
    assert "b" in tc.conflicts[E("a", "b")]
    assert "a" not in tc.conflicts["b"]  # nodes 10 m apart, disks of 3 m
    assert E("a", "b") not in tc.conflicts[E("c", "d")]


def test_close_parallel_lanes_conflict_far_ones_do_not() -> None:
    plant = make_plant(
        {
            "a1": (10, 10),
            "a2": (40, 10),
            "b1": (10, 12.5),  # 2.5 m from lane a: less than one footprint width (2.8 m)
            "b2": (40, 12.5),
            "c1": (10, 30),
            "c2": (40, 30),
        },
        [("a1", "a2"), ("b1", "b2"), ("c1", "c2")],
    )
    tc = TrafficControl(plant)
    assert E("b1", "b2") in tc.conflicts[E("a1", "a2")]
    assert E("c1", "c2") not in tc.conflicts[E("a1", "a2")]


def test_parallel_lane_vehicles_exclude_each_other() -> None:
    plant = make_plant(
        {"a1": (30, 10), "a2": (60, 10), "b1": (10, 12.5), "b2": (80, 12.5)},
        [("a1", "a2"), ("b1", "b2")],
    )
    tc = checked(TrafficControl(plant))
    tc.register("V1", "agv", "a1")
    tc.register("V2", "agv", "b1")
    tc.claim("V1", ["a1", "a2"])
    tc.claim("V2", ["b1", "b2"])
    assert tc.allocate("V1", 1) == 2
    assert tc.allocate("V2", 1) == 1
    assert tc.waits_for("V2") == {"V1"}
    checked(tc)


def test_crossing_edges_conflict() -> None:
    plant = make_plant(
        {"p": (10, 10), "q": (40, 40), "r": (10, 40), "s": (40, 10)},
        [("p", "q"), ("r", "s")],
    )
    tc = TrafficControl(plant)
    assert E("r", "s") in tc.conflicts[E("p", "q")]
    tc.register("V1", "agv", "p")
    tc.register("V2", "agv", "r")
    tc.claim("V1", ["p", "q"])
    tc.claim("V2", ["r", "s"])
    assert tc.allocate("V1") == 2
    assert tc.allocate("V2") == 1
    checked(tc)
    tc.progress("V1", "q")
    assert tc.allocate("V2") == 2
    checked(tc)


def test_rail_segments_are_resources_too() -> None:
    tc = TrafficControl(tiny_plant())
    assert E("RS1", "RS2") in tc.conflicts
    assert "RS1" in tc.conflicts[E("RS1", "RS2")]


# ------------------------------------------------------------------------------------------ allocation


@pytest.mark.parametrize("k", [0, 1, 2, 3, 10])
def test_allocation_never_releases_more_than_k_nodes_ahead(k: int) -> None:
    nodes = {f"n{i}": (10.0 + 10 * i, 10.0) for i in range(8)}
    plant = make_plant(nodes, [(f"n{i}", f"n{i + 1}") for i in range(7)])
    tc = TrafficControl(plant)
    tc.register("V", "agv", "n0")
    tc.claim("V", list(nodes))
    while tc.node_of("V") != "n7":
        released = tc.allocate("V", k)
        assert released <= k + 1
        assert len(tc.base_of("V")) == released
        checked(tc)
        if k == 0:
            assert released == 1
            return
        tc.progress("V", tc.base_of("V")[-1])
        checked(tc)


def test_progress_frees_behind_and_standing_vehicle_keeps_its_node() -> None:
    tc = TrafficControl(SIDING)
    tc.register("V", "agv", "a")
    assert tc.held_by("V") == {"a"}
    tc.claim("V", ["a", "b", "c", "d"])
    assert tc.allocate("V", 3) == 4
    assert tc.held_by("V") == {"a", "b", "c", "d", E("a", "b"), E("b", "c"), E("c", "d")}
    tc.progress("V", "c")
    assert tc.held_by("V") == {"c", "d", E("c", "d")}
    assert tc.owner("a") is None and tc.owner(E("a", "b")) is None
    tc.progress("V", "d")
    assert tc.held_by("V") == {"d"}
    checked(tc)


def test_head_on_on_a_single_lane_the_second_vehicle_waits() -> None:
    tc = TrafficControl(SIDING)
    tc.register("V1", "agv", "a")
    tc.register("V2", "agv", "d")
    tc.claim("V1", ["a", "b", "c", "d"])
    tc.claim("V2", ["d", "c", "b", "a"])
    assert tc.allocate("V1", 2) == 3  # a, b, c
    assert tc.allocate("V2", 2) == 1  # c is V1's
    assert tc.waits_for("V2") == {"V1"}
    assert tc.deadlocks() == []  # V1 still has base to drive
    checked(tc)


def test_a_vehicle_that_dies_mid_route_frees_its_resources_and_the_waiting_one_proceeds() -> None:
    tc = TrafficControl(SIDING)
    tc.register("V1", "agv", "a")
    tc.register("V2", "agv", "d")
    tc.claim("V1", ["a", "b", "c", "s"])
    tc.claim("V2", ["d", "c", "b", "a"])
    tc.allocate("V1", 2)
    tc.progress("V1", "b")
    assert tc.allocate("V2", 3) == 1
    tc.release("V1")  # died on b
    checked(tc)
    assert tc.owner("b") is None and tc.owner("c") is None
    assert tc.allocate("V2", 3) == 4
    assert tc.vehicles == ["V2"]
    checked(tc)


def test_claims_must_start_at_the_end_of_the_base_and_follow_edges() -> None:
    tc = TrafficControl(SIDING)
    tc.register("V", "agv", "a")
    with pytest.raises(TrafficError):
        tc.claim("V", ["b", "c"])
    with pytest.raises(TrafficError):
        tc.claim("V", ["a", "c"])  # no edge a -> c
    tc.claim("V", ["a", "b", "c", "d"])
    tc.allocate("V", 1)
    with pytest.raises(TrafficError):
        tc.claim("V", ["a", "b"])  # b is released: the new claim starts there
    tc.claim("V", ["b", "c", "s"])
    assert tc.claim_of("V") == ("a", "b", "c", "s")
    with pytest.raises(TrafficError):
        tc.progress("V", "c")  # not released yet
    with pytest.raises(TrafficError):
        tc.register("W", "agv", "a")  # occupied
    with pytest.raises(TrafficError):
        tc.release("nobody")
    checked(tc)


def test_assert_safe_catches_a_corrupted_state() -> None:
    tc = TrafficControl(SIDING)
    tc.register("V1", "agv", "a")
    tc.register("V2", "agv", "d")
    tc._vehicles["V2"].held.add("a")  # deliberately breaking the bookkeeping
    with pytest.raises(SafetyViolation):
        tc.assert_safe()


# ------------------------------------------------------------------------------------------ deadlock


def _head_on(plant: Plant, p1: int, p2: int) -> tuple[TrafficControl, Router]:
    """V1 from b towards d and V2 from c towards a, each standing on its node: each needs the other's."""
    tc = TrafficControl(plant)
    tc.register("V1", "agv", "b", priority=p1)
    tc.register("V2", "agv", "c", priority=p2)
    tc.claim("V1", ["b", "c", "d"])
    tc.claim("V2", ["c", "b", "a"])
    assert tc.allocate("V1") == 1
    assert tc.allocate("V2") == 1
    checked(tc)
    return tc, Router(plant)


def test_head_on_through_each_other_is_a_deadlock() -> None:
    tc, _ = _head_on(SIDING, 1, 0)
    assert tc.deadlocks() == [("V1", "V2")]
    assert set(tc.wait_for_graph().edges) == {("V1", "V2"), ("V2", "V1")}


def test_deadlock_without_a_way_round_the_victim_retreats_to_the_siding_and_both_finish() -> None:
    tc, router = _head_on(SIDING, 1, 0)
    resolution = tc.resolve(tc.deadlocks()[0], router)
    assert resolution is not None
    assert resolution.victim == "V2"  # lower priority
    assert resolution.kind is ResolutionKind.RETREAT
    assert resolution.nodes == ("c", "s")
    tc.claim("V2", resolution.nodes)
    drive(tc, router, {"V1": "d", "V2": "a"})


def test_deadlock_with_a_way_round_the_victim_reroutes_and_both_finish() -> None:
    tc, router = _head_on(LADDER, 1, 0)
    resolution = tc.resolve(tc.deadlocks()[0], router)
    assert resolution is not None
    assert resolution.victim == "V2"
    assert resolution.kind is ResolutionKind.REROUTE
    assert resolution.nodes == ("c", "w", "v", "u", "a")
    tc.claim("V2", resolution.nodes)
    drive(tc, router, {"V1": "d", "V2": "a"})


def test_a_deadlock_with_no_way_out_is_reported_unresolved() -> None:
    line = make_plant(
        {"a": (10, 10), "b": (20, 10), "c": (30, 10), "d": (40, 10)}, [("a", "b"), ("b", "c"), ("c", "d")]
    )
    tc, router = _head_on(line, 0, 0)
    assert tc.deadlocks() == [("V1", "V2")]
    assert tc.resolve(("V1", "V2"), router) is None


def test_tiny_plant_two_agvs_and_the_rgv() -> None:
    plant = tiny_plant()
    tc = TrafficControl(plant)
    router = Router(plant)
    tc.register("AGV-01", "agv", "W1")
    tc.register("AGV-02", "agv", "P1")
    tc.register("RGV-01", "rgv", "RS1")
    tc.claim("AGV-01", router.route("agv", "W1", "HM-X").nodes)
    tc.claim("AGV-02", router.route("agv", "P1", "H-IS1").nodes)
    tc.claim("RGV-01", router.route("rgv", "RS1", "RS2").nodes)
    checked(tc)
    goals = {"AGV-01": "HM-X", "AGV-02": "H-IS1", "RGV-01": "RS2"}
    for _ in range(40):
        for vid in goals:
            step(tc, vid, 2)
        for cycle in tc.deadlocks():
            resolution = tc.resolve(cycle, router)
            assert resolution is not None
            tc.claim(resolution.victim, resolution.nodes)
            checked(tc)
            break
        for vid, goal in goals.items():
            node = tc.node_of(vid)
            if len(tc.claim_of(vid)) == 1 and node != goal:
                cls = "rgv" if vid.startswith("RGV") else "agv"
                tc.claim(vid, router.route(cls, node, goal).nodes)
    assert {v: tc.node_of(v) for v in goals} == goals


CROSSING_YAML = """
plant: {id: x, outline: [[0, 0], [100, 0], [100, 100], [0, 100]]}
network:
  nodes:
    - {id: p, at: [10, 10]}
    - {id: q, at: [40, 40]}
    - {id: r, at: [10, 40]}
    - {id: s, at: [40, 10]}
  edges:
    - {from: p, to: q}
    - {from: r, to: s}
vehicle_classes:
  - {id: agv, kind: agv, speed_empty: 1.5, speed_loaded: 1.0, acceleration: 0.3, capacity: 30,
     footprint: {length: 6, width: 2.8}}
"""


def test_a_plant_from_yaml_text_with_crossing_edges() -> None:
    tc = TrafficControl(parse_plant(CROSSING_YAML))
    assert E("r", "s") in tc.conflicts[E("p", "q")]
    assert tc.conflicts["p"] == {"p", E("p", "q")}


# ------------------------------------------------------------------------------------------ corridors

LINE6 = make_plant(
    {f"n{i}": (10.0 + 10 * i, 10.0) for i in range(6)}, [(f"n{i}", f"n{i + 1}") for i in range(5)]
)


def test_a_one_lane_chain_is_one_corridor_and_junctions_split_it() -> None:
    tc = TrafficControl(LINE6)
    assert {c for c, _ in tc.corridors.values()} == {0}
    assert len(tc.corridors) == 5
    siding = TrafficControl(SIDING)  # c has three neighbours: a-b-c is a corridor, c-d and c-s are not
    assert set(siding.corridors) == {E("a", "b"), E("b", "c")}


def test_nobody_enters_a_corridor_against_allocated_traffic() -> None:
    tc = TrafficControl(LINE6)
    tc.register("V1", "agv", "n0")
    tc.register("V2", "agv", "n5")
    tc.claim("V1", ["n0", "n1", "n2", "n3", "n4", "n5"])
    tc.claim("V2", ["n5", "n4", "n3", "n2", "n1", "n0"])
    assert tc.allocate("V1", 1) == 2  # holds n0 -> n1
    assert tc.allocate("V2", 1) == 1  # n5 -> n4 is far from V1, but the corridor runs the other way
    assert tc.oncoming("V2", "n5", "n4") == {"V1"}
    assert tc.waits_for("V2") == {"V1"}
    checked(tc)


def test_same_direction_traffic_may_follow_in_a_corridor() -> None:
    tc = TrafficControl(LINE6)
    tc.register("V1", "agv", "n2")
    tc.register("V2", "agv", "n0")
    tc.claim("V1", ["n2", "n3", "n4", "n5"])
    tc.claim("V2", ["n0", "n1", "n2"])
    assert tc.allocate("V1", 1) == 2
    assert tc.allocate("V2", 1) == 2  # follows: n0 -> n1 runs the same way
    assert tc.allocate("V2", 2) == 2  # n1 -> n2 meets V1's edge n2 - n3 at n2
    checked(tc)


# ------------------------------------------------------------------------------------------ parked vehicles


def test_a_parked_vehicle_in_the_way_is_sent_off_the_claims_and_the_other_passes() -> None:
    tc = TrafficControl(SIDING)
    router = Router(SIDING)
    tc.register("V1", "agv", "a")
    tc.register("P", "agv", "c")  # done with its work, standing on the lane
    tc.claim("V1", ["a", "b", "c", "d"])
    assert tc.allocate("V1", 1) == 2
    tc.progress("V1", "b")
    assert tc.allocate("V1", 1) == 1
    assert tc.parked_blockers() == ["P"]
    assert tc.deadlocks() == []
    way = tc.make_way("P", router)
    assert way is not None and way.nodes == ("c", "s")
    tc.claim("P", way.nodes)
    checked(tc)
    drive(tc, router, {"V1": "d", "P": "s"})


# ----------------------------------------------------------------------------------------- joint plans


def _bays_corridor() -> Plant:
    """Corridor c0..c5 (10 m apart) with side bays b0, b1, b2 and b5: vehicles pass only by one waiting in a bay."""
    nodes = {f"c{i}": (10.0 + 10 * i, 50.0) for i in range(6)}
    nodes |= {f"b{i}": (10.0 + 10 * i, 60.0) for i in (0, 1, 2, 5)}
    edges = [(f"c{i}", f"c{i + 1}") for i in range(5)] + [(f"c{i}", f"b{i}") for i in (0, 1, 2, 5)]
    return make_plant(nodes, edges)


def _bay_deadlock(extra: bool = False) -> tuple[TrafficControl, Router]:
    """The case of docs/fleet.md: AGV-03 wants out of bay b2 (west), AGV-02 in front of it wants in, AGV-01
    stands behind AGV-02 and wants west too. With `extra`, V4 in bay b5 wants to drive west through the scene."""
    plant = _bays_corridor()
    tc = TrafficControl(plant)
    claims = {
        "AGV-01": ["c3", "c2", "c1", "b1"],
        "AGV-02": ["c2", "b2"],
        "AGV-03": ["b2", "c2", "c1", "c0", "b0"],
    }
    for vid, claim in claims.items():
        tc.register(vid, "agv", claim[0])
    for vid, claim in claims.items():
        tc.claim(vid, claim)
        assert tc.allocate(vid) == 1
    if extra:
        tc.register("V4", "agv", "b5")
        tc.claim("V4", ["b5", "c5", "c4", "c3"])
    return checked(tc), Router(plant)


def test_a_deadlock_no_single_retreat_resolves_is_untangled_by_moving_several_vehicles() -> None:
    tc, router = _bay_deadlock()
    assert tc.deadlocks() == [("AGV-02", "AGV-03")]
    assert tc.resolve(("AGV-02", "AGV-03"), router) is None  # nobody has a node off the others' claims
    plan = tc.untangle(("AGV-02", "AGV-03"), router, {"AGV-01"}, leads=["AGV-02"])
    assert plan is not None
    assert plan.lead == "AGV-02"
    assert plan.paths["AGV-02"][-1] == "b2"  # the lead gets where it wanted to go
    assert plan.paths["AGV-01"] == ("c3", "c4")  # AGV-01 backs off first, then AGV-02 makes room for AGV-03
    assert plan.moves[0] == ("AGV-01", 1)
    assert len(plan.moves) == 6


def test_a_vehicle_not_allowed_to_move_is_planned_around() -> None:
    tc, router = _bay_deadlock()
    plan = tc.untangle(("AGV-02", "AGV-03"), router, set(), leads=["AGV-02"])  # AGV-01 may not move (loading)
    assert plan is not None
    assert "AGV-01" not in plan.paths
    assert plan.paths["AGV-02"] == ("c2", "c1", "b1", "c1", "c2", "b2")  # it ducks into bay b1 instead


def test_a_head_on_deadlock_on_a_plain_line_has_no_joint_plan_either() -> None:
    line = make_plant(
        {"a": (10, 10), "b": (20, 10), "c": (30, 10), "d": (40, 10)}, [("a", "b"), ("b", "c"), ("c", "d")]
    )
    tc, router = _head_on(line, 0, 0)
    assert tc.untangle(("V1", "V2"), router, {"V1", "V2"}) is None


@pytest.mark.parametrize("extra", [False, True])
@pytest.mark.parametrize("order", ["forwards", "backwards"])
def test_a_joint_plan_runs_in_plan_order_whatever_order_vehicles_allocate_in(order: str, extra: bool) -> None:
    tc, router = _bay_deadlock(extra)
    plan = tc.untangle(("AGV-02", "AGV-03"), router, {"AGV-01"}, leads=["AGV-02"])
    assert plan is not None
    tc.execute(plan)
    assert tc.plan == plan
    assert all(tc.in_plan(v) for v in plan.paths)
    assert tc.deadlocks() == []
    vehicles = tc.vehicles if order == "forwards" else list(reversed(tc.vehicles))
    for _ in range(30):
        for vid in vehicles:
            step(tc, vid, steps=2)
            if tc.plan is not None and "V4" in tc.vehicles:
                # Everyone outside the plan stays off what its remaining moves need.
                held = tc.held_by("V4")
                assert not {c for r in held for c in tc.conflicts[r]} & {
                    n for v in tc.plan.paths if tc.in_plan(v) for n in tc.claim_of(v)
                }
        if tc.plan is None:
            break
    assert tc.plan is None
    assert tc.node_of("AGV-02") == "b2"
    assert tc.node_of("AGV-03") == plan.paths["AGV-03"][-1]
    # The others go on as usual afterwards.
    drive(tc, router, {"AGV-03": "b0", "AGV-01": "b1", **({"V4": "c3"} if extra else {})})


@pytest.mark.parametrize("how", ["claim", "release"])
def test_a_new_claim_for_or_the_release_of_a_vehicle_of_the_plan_ends_the_plan(how: str) -> None:
    tc, router = _bay_deadlock()
    plan = tc.untangle(("AGV-02", "AGV-03"), router, {"AGV-01"})
    assert plan is not None
    tc.execute(plan)
    if how == "claim":  # e.g. its order was cancelled
        tc.claim("AGV-01", [tc.base_of("AGV-01")[-1]])
    else:  # it failed
        tc.release("AGV-01")
        tc.register("AGV-01", "agv", "c3")
    assert tc.plan is None
    assert not tc.in_plan("AGV-02")
    assert tc.allocate("AGV-02", 2) >= 1  # no longer gated
    checked(tc)
