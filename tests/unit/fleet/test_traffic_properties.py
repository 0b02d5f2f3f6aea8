"""Property tests: on random grid plants with 2-5 vehicles, traffic control never lets two vehicles hold the
same or conflicting resources, whatever they do; and a run either gets every vehicle to its goal or ends
reporting why not (an unresolved deadlock, or a vehicle waiting behind one that has finished).

Each tick every vehicle (re)claims a router route to its goal if its claim is used up, allocates up to k
nodes and drives one node if released; then one deadlock is resolved (victim rerouted or retreated).
A vehicle that has finished but blocks a stalled one is sent off everyone's claims (`make_way`) and comes
back later. `assert_safe` runs after every operation. The completion rate is measured on a fixed seeded
sample (run with -s to see it).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.routing import NoRoute, Router
from fleet.traffic import TrafficControl
from layout import Plant
from layout.build import build_plant
from layout.schema import PlantFile
from tests.fleet_factories import agv_class

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TICKS = 120
OUTCOMES: Counter[str] = Counter()


@dataclass(frozen=True)
class Scenario:
    plant: Plant
    starts: dict[str, str]
    goals: dict[str, str]
    steps: int


def grid_file(width: int, height: int, missing: set[int]) -> dict[str, Any]:
    nodes = [
        {"id": f"n{i}_{j}", "at": [10.0 + 10 * i, 10.0 + 10 * j]} for i in range(width) for j in range(height)
    ]
    pairs = [((i, j), (i + 1, j)) for i in range(width - 1) for j in range(height)]
    pairs += [((i, j), (i, j + 1)) for i in range(width) for j in range(height - 1)]
    edges = [
        {"from": f"n{a[0]}_{a[1]}", "to": f"n{b[0]}_{b[1]}"}
        for k, (a, b) in enumerate(pairs)
        if k not in missing
    ]
    return {
        "plant": {"id": "grid", "outline": [[0, 0], [200, 0], [200, 200], [0, 200]]},
        "network": {"nodes": nodes, "edges": edges},
        "vehicle_classes": [agv_class()],
    }


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    width, height = draw(st.integers(4, 6)), draw(st.integers(4, 6))
    count = (width - 1) * height + width * (height - 1)
    missing = draw(st.sets(st.integers(0, count - 1), max_size=count // 4))
    plant = build_plant(PlantFile.model_validate(grid_file(width, height, missing)))
    nodes = sorted(plant.graph("agv"))
    vehicles = draw(st.integers(2, 5))
    starts = draw(st.lists(st.sampled_from(nodes), min_size=vehicles, max_size=vehicles, unique=True))
    goals = draw(st.lists(st.sampled_from(nodes), min_size=vehicles, max_size=vehicles, unique=True))
    names = [f"V{i}" for i in range(vehicles)]
    return Scenario(
        plant,
        dict(zip(names, starts, strict=True)),
        dict(zip(names, goals, strict=True)),
        draw(st.integers(1, 3)),
    )


def run(scenario: Scenario, priorities: dict[str, int]) -> str:
    """Drive the scenario; return "arrived", "unreachable", "deadlock" (unresolved) or "blocked"."""
    tc = TrafficControl(scenario.plant)
    router = Router(scenario.plant)
    for vid, node in scenario.starts.items():
        tc.register(vid, "agv", node, priority=priorities[vid])
        tc.assert_safe()
    goals = scenario.goals
    for _ in range(TICKS):
        for vid, goal in goals.items():
            node = tc.node_of(vid)
            if len(tc.claim_of(vid)) == 1 and node != goal:
                try:
                    route = router.route("agv", node, goal)
                except NoRoute:
                    return "unreachable"
                tc.claim(vid, route.nodes)
                tc.assert_safe()
            released = tc.allocate(vid, scenario.steps)
            tc.assert_safe()
            assert 1 <= released <= scenario.steps + 1
            assert released == len(tc.base_of(vid))
            if released > 1:
                tc.progress(vid, tc.base_of(vid)[1])
                tc.assert_safe()
        cycles = tc.deadlocks()
        for cycle in cycles:
            # Every vehicle of a reported cycle is stalled and waits on the next one.
            for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
                assert b in tc.waits_for(a)
                assert tc.base_of(a) == (tc.node_of(a),)
        free = [c for c in cycles if not any(tc.in_plan(v) for v in c)]
        if free:
            resolution = tc.resolve(free[0], router)
            if resolution is not None:
                assert resolution.victim in free[0]
                tc.claim(resolution.victim, resolution.nodes)
                tc.assert_safe()
            elif tc.plan is None:
                # No single victim has a way out: plan the moves of several vehicles together.
                plan = tc.untangle(free[0], router, tc.vehicles)
                if plan is None:
                    return "deadlock"
                assert plan.lead in free[0]
                tc.execute(plan)
                tc.assert_safe()
        for parked in tc.parked_blockers():
            # A vehicle done with its claim blocks a stalled one: send it off everyone's claims, it
            # comes back to its goal when its retreat is done.
            way = tc.make_way(parked, router)
            if way is not None:
                assert way.nodes[-1] != tc.node_of(parked)
                tc.claim(parked, way.nodes)
                tc.assert_safe()
        if all(tc.node_of(v) == g for v, g in goals.items()):
            return "arrived"
    return "blocked"


@PROPERTY
@given(scenario=scenarios(), data=st.data())
def test_traffic_is_safe_and_runs_end_in_arrival_or_a_reported_reason(
    scenario: Scenario, data: st.DataObject
) -> None:
    priorities = {v: data.draw(st.integers(0, 2), label=f"priority {v}") for v in scenario.starts}
    outcome = run(scenario, priorities)
    OUTCOMES[outcome] += 1
    assert outcome in {"arrived", "unreachable", "deadlock", "blocked"}


def random_scenario(rng: random.Random) -> tuple[Scenario, dict[str, int]]:
    width, height = rng.randint(4, 6), rng.randint(4, 6)
    count = (width - 1) * height + width * (height - 1)
    missing = set(rng.sample(range(count), rng.randint(0, count // 4)))
    plant = build_plant(PlantFile.model_validate(grid_file(width, height, missing)))
    nodes = sorted(plant.graph("agv"))
    names = [f"V{i}" for i in range(rng.randint(2, 5))]
    starts = dict(zip(names, rng.sample(nodes, len(names)), strict=True))
    goals = dict(zip(names, rng.sample(nodes, len(names)), strict=True))
    return Scenario(plant, starts, goals, rng.randint(1, 3)), {v: rng.randint(0, 2) for v in names}


def test_completion_rate_on_a_fixed_sample() -> None:
    """300 seeded random scenarios: of those where every goal is reachable, at least 95 % finish (96.8 %,
    i.e. 271 of 280, when written). The rest end in an unresolved deadlock or a livelock / a parked vehicle
    with nowhere to go; all stay safe."""
    rng = random.Random(1)
    outcomes = Counter(run(*random_scenario(rng)) for _ in range(300))
    reachable = outcomes.total() - outcomes["unreachable"]
    print(f"\ntraffic completion on 300 seeded scenarios: {dict(outcomes)}")
    if OUTCOMES:
        print(f"hypothesis runs this session: {dict(OUTCOMES)}")
    assert outcomes["arrived"] >= 0.95 * reachable
