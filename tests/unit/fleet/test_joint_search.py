"""The joint search of `TrafficControl.untangle` (configurations coded as integers) finds exactly the plan of
a plain A* over tuples of nodes, with the same tie-breaking and budget; the pair test that spares hopeless
searches never gives up on an instance the search could solve; and a search that read the same inputs is not
run again."""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.routing import Router
from fleet.traffic import TrafficControl
from layout.build import build_plant
from layout.schema import PlantFile
from tests.fleet_factories import agv_class

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WIDTH, HEIGHT = 4, 3


def grid() -> dict[str, Any]:
    nodes = [
        {"id": f"n{i}_{j}", "at": [10.0 + 10 * i, 10.0 + 10 * j]} for i in range(WIDTH) for j in range(HEIGHT)
    ]
    pairs = [((i, j), (i + 1, j)) for i in range(WIDTH - 1) for j in range(HEIGHT)]
    pairs += [((i, j), (i, j + 1)) for i in range(WIDTH) for j in range(HEIGHT - 1)]
    return {
        "plant": {"id": "grid", "outline": [[0, 0], [100, 0], [100, 100], [0, 100]]},
        "network": {
            "nodes": nodes,
            "edges": [{"from": f"n{a[0]}_{a[1]}", "to": f"n{b[0]}_{b[1]}"} for a, b in pairs],
        },
        "vehicle_classes": [agv_class()],
    }


PLANT = build_plant(PlantFile.model_validate(grid()))
EDGES = sorted(PLANT.graph("agv").edges)
NODES = sorted(PLANT.graph("agv"))


def hops_to(goal: str, lead_moves: dict[str, list[str]]) -> dict[str, int]:
    reverse: dict[str, list[str]] = {}
    for a, bs in lead_moves.items():
        for b in bs:
            reverse.setdefault(b, []).append(a)
    found = {goal: 0}
    queue = deque([goal])
    while queue:
        n = queue.popleft()
        for m in sorted(reverse.get(n, ())):
            if m not in found:
                found[m] = found[n] + 1
                queue.append(m)
    return found


def plain_search(
    tc: TrafficControl,
    goal: str,
    start: tuple[str, ...],
    moves: list[dict[str, list[str]]],
    to_goal: dict[str, int],
    *,
    budget: int,
) -> list[tuple[int, str]] | None:
    """The joint search written plainly: configurations as tuples of nodes."""
    seen: dict[tuple[str, ...], tuple[tuple[str, ...], int] | None] = {start: None}
    cost = {start: 0}
    heap = [(to_goal[start[0]], 0, 0, start)]
    counter = expanded = 0
    while heap and expanded < budget:
        _, g, _, state = heapq.heappop(heap)
        if g > cost[state]:
            continue
        if state[0] == goal:
            steps: list[tuple[int, str]] = []
            link = seen[state]
            while link is not None:
                previous, i = link
                steps.append((i, state[i]))
                state = previous
                link = seen[state]
            return steps[::-1]
        expanded += 1
        for i, a in enumerate(state):
            others = set(state[:i] + state[i + 1 :])
            for b in moves[i].get(a, ()):
                if tc._move_conflicts(a, b) & others:
                    continue
                nxt = (*state[:i], b, *state[i + 1 :])
                h = to_goal.get(nxt[0])
                if h is None or (nxt in cost and cost[nxt] <= g + 1):
                    continue
                cost[nxt] = g + 1
                seen[nxt] = (state, i)
                counter += 1
                heapq.heappush(heap, (g + 1 + h, g + 1, counter, nxt))
    return None


@st.composite
def instances(draw: st.DrawFn) -> tuple[str, tuple[str, ...], list[dict[str, list[str]]], int]:
    agents = draw(st.integers(2, 4))
    start = tuple(draw(st.lists(st.sampled_from(NODES), min_size=agents, max_size=agents, unique=True)))
    goal = draw(st.sampled_from(NODES))
    sparse = draw(st.booleans())  # half of the edges (many hopeless instances), else about three quarters
    moves = []
    for _ in range(agents):
        kept = draw(st.lists(st.booleans(), min_size=len(EDGES), max_size=len(EDGES)))
        adjacency: dict[str, list[str]] = {}
        for (a, b), keep in zip(EDGES, kept, strict=True):
            if keep or (not sparse and draw(st.booleans())):
                adjacency.setdefault(a, []).append(b)
        moves.append({a: sorted(bs) for a, bs in adjacency.items()})
    return goal, start, moves, draw(st.sampled_from([5, 40, 2_000]))


@PROPERTY
@given(instances())
def test_the_coded_search_finds_the_plain_searchs_plan(
    instance: tuple[str, tuple[str, ...], list[dict[str, list[str]]], int],
) -> None:
    goal, start, moves, budget = instance
    tc = TrafficControl(PLANT)
    to_goal = hops_to(goal, moves[0])
    if start[0] not in to_goal:
        return
    expected = plain_search(tc, goal, start, moves, to_goal, budget=budget)
    found, stood = tc._search_configurations(goal, start, moves, to_goal, budget)
    assert found == expected
    if found is None:
        assert all(node in stood[i] for i, node in enumerate(start))
    hopeless = any(tc._lead_cannot_pass(goal, start, moves, to_goal, i) for i in range(1, len(start)))
    if hopeless:
        assert plain_search(tc, goal, start, moves, to_goal, budget=10**6) is None  # no plan at any budget


def test_a_failed_search_is_not_run_again_on_the_same_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    tc = TrafficControl(PLANT)
    router = Router(PLANT)
    # Two vehicles that want each other's node; a budget of one configuration finds no plan.
    for vid, node in (("V0", "n1_0"), ("V1", "n0_0")):
        tc.register(vid, "agv", node)
    tc.claim("V0", ["n1_0", "n0_0"])
    tc.claim("V1", ["n0_0", "n1_0"])
    calls: list[str] = []
    search = tc._search_configurations

    def counted(*args: Any) -> Any:
        calls.append(args[0])
        return search(*args)

    monkeypatch.setattr(tc, "_search_configurations", counted)
    first = tc.untangle(("V0", "V1"), router, {"V0", "V1"}, budget=1)
    again = tc.untangle(("V0", "V1"), router, {"V0", "V1"}, budget=1)
    assert first is None and again is None
    assert len(calls) <= 2  # one search per lead at most; the second call read the same inputs
