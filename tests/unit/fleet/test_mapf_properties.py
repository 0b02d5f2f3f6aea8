"""Property: on random small grids every plan the MAPF solver returns passes the independent checker, and
costs at least the sum of single-agent shortest distances (computed here by a plain BFS)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.mapf import check_plan, solve
from fleet.mapf.grid import Cell
from fleet.mapf.lacam import lacam
from fleet.mapf.pibt import Pibt


def ticking_clock(step: float = 0.001) -> Callable[[], float]:
    """A deterministic clock: every reading advances it by `step` seconds."""
    now = [0.0]

    def read() -> float:
        now[0] += step
        return now[0]

    return read


def bfs(blocked: npt.NDArray[np.bool_], source: Cell) -> dict[Cell, int]:
    height, width = blocked.shape
    seen = {source: 0}
    queue = deque([source])
    while queue:
        row, col = queue.popleft()
        for step in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
            if 0 <= step[0] < height and 0 <= step[1] < width and not blocked[step] and step not in seen:
                seen[step] = seen[(row, col)] + 1
                queue.append(step)
    return seen


@st.composite
def instances(draw: st.DrawFn) -> tuple[npt.NDArray[np.bool_], list[Cell], list[Cell]]:
    height, width = draw(st.integers(2, 7)), draw(st.integers(2, 7))
    cells = height * width
    blocked = np.array(draw(st.lists(st.booleans(), min_size=cells, max_size=cells)), dtype=bool).reshape(
        height, width
    )
    blocked &= np.array(draw(st.lists(st.booleans(), min_size=cells, max_size=cells))).reshape(
        height, width
    )  # ~25 %
    free = [(int(r), int(c)) for r, c in zip(*np.nonzero(~blocked), strict=True)]
    if not free:
        blocked[0, 0] = False
        free = [(0, 0)]
    # Agents live in the largest connected region, so every goal is reachable.
    regions: list[set[Cell]] = []
    for cell in free:
        if not any(cell in region for region in regions):
            regions.append(set(bfs(blocked, cell)))
    largest: set[Cell] = max(regions, key=len)
    region = sorted(largest)
    count = draw(st.integers(1, min(6, len(region))))
    starts = draw(st.permutations(region))[:count]
    goals = draw(st.permutations(region))[:count]
    return blocked, starts, goals


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 3))
def test_every_returned_plan_is_valid_and_costs_at_least_the_lower_bound(
    instance: tuple[npt.NDArray[np.bool_], list[Cell], list[Cell]], seed: int
) -> None:
    blocked, starts, goals = instance
    solution = solve(blocked, starts, goals, clock=ticking_clock(), time_limit=2.0, seed=seed)
    if solution is None:
        return  # unsolvable instances exist (e.g. a swap in a corridor); returning nothing is allowed
    check = check_plan(blocked, starts, goals, solution.paths)
    assert check.valid, check.problems
    assert check.sum_of_costs == solution.sum_of_costs
    lower = sum(bfs(blocked, goal)[start] for start, goal in zip(starts, goals, strict=True))
    assert solution.lower_bound == lower
    assert solution.sum_of_costs >= lower


@settings(max_examples=100, deadline=None)
@given(instances())
def test_every_lacam_plan_is_valid(instance: tuple[npt.NDArray[np.bool_], list[Cell], list[Cell]]) -> None:
    """The complete fallback on its own, so its plans are checked even where prioritised planning wins."""
    from fleet.mapf.distances import goal_distances
    from fleet.mapf.grid import GridGraph

    blocked, starts, goals = instance
    graph = GridGraph.from_occupancy(blocked)
    start_cells, goal_cells = graph.numbers(starts, "start"), graph.numbers(goals, "goal")
    distance = [memoryview(row) for row in goal_distances(graph, goal_cells)]
    budget = iter(range(20_000))
    configs = lacam(
        Pibt(graph.neighbours, goal_cells, distance),
        starts=start_cells,
        goals=goal_cells,
        initial_priorities=[0.5] * len(starts),
        should_stop=lambda: next(budget, None) is None,
    )
    if configs is None:
        return
    paths = [[graph.cells[config[agent]] for config in configs] for agent in range(len(starts))]
    check = check_plan(blocked, starts, goals, paths)
    assert check.valid, check.problems


@settings(max_examples=100, deadline=None)
@given(instances())
def test_goal_distances_match_a_plain_bfs(
    instance: tuple[npt.NDArray[np.bool_], list[Cell], list[Cell]],
) -> None:
    from fleet.mapf.distances import goal_distances
    from fleet.mapf.grid import GridGraph

    blocked, _, goals = instance
    graph = GridGraph.from_occupancy(blocked)
    # Every free cell as a goal: cells outside the goal's region must come out unreachable (-1).
    targets = list(range(graph.size))
    table = goal_distances(graph, [*targets, targets[0]])  # a repeated goal gets the same row
    for row, goal in enumerate(targets):
        expected = bfs(blocked, graph.cells[goal])
        assert {graph.cells[cell]: int(d) for cell, d in enumerate(table[row]) if d >= 0} == expected
    assert (table[-1] == table[0]).all()
    assert goals  # the instance's own goals are among the free cells checked above
