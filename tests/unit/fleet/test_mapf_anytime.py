"""The anytime pipeline: a complete fallback plan whenever prioritised planning leaves agents out, only
valid plans returned, and every answer (or None) handed back by the time limit."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.mapf import check_plan, solve
from fleet.mapf.distances import goal_distances
from fleet.mapf.grid import Cell, GridGraph
from fleet.mapf.lns import PathSet


def grid(*rows: str) -> npt.NDArray[np.bool_]:
    return np.array([[char != "." for char in row] for row in rows], dtype=bool)


class StepClock:
    """Deterministic clock: every reading advances it by `step`; remembers the latest reading."""

    def __init__(self, step: float) -> None:
        self.step, self.now = step, 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


# A dead-end bay of two cells, (1, 0) and (1, 1), opening into a small hall.
BAY = grid(
    "##....",
    "......",
    "##....",
)


def path_set(
    blocked: npt.NDArray[np.bool_], starts: list[Cell], goals: list[Cell]
) -> tuple[PathSet, GridGraph]:
    graph = GridGraph.from_occupancy(blocked)
    start_cells, goal_cells = graph.numbers(starts, "start"), graph.numbers(goals, "goal")
    distance = [memoryview(row) for row in goal_distances(graph, goal_cells)]
    paths = PathSet(graph.neighbours, starts=start_cells, goals=goal_cells, distance=distance, horizon=50)
    return paths, graph


def test_a_goal_sealed_by_an_agent_parked_in_front_of_it_is_walled_in() -> None:
    # Agent 0 parks in the bay's mouth at time 2; agent 1 (goal at the back, 5 steps away) cannot pass it.
    paths, _ = path_set(BAY, [(1, 3), (1, 5)], [(1, 1), (1, 0)])
    paths.set(0, paths.plan(0))
    assert paths.paths[0] is not None and len(paths.paths[0]) == 3
    assert paths.walled_in(1)
    assert paths.plan(1) is None


def test_a_goal_behind_an_agent_that_parks_late_is_not_walled_in() -> None:
    paths, graph = path_set(BAY, [(1, 3), (1, 5)], [(1, 1), (1, 0)])
    # Agent 0 takes a detour and parks only at time 12: agent 1 can slip in before.
    detour = [graph.number(cell) for cell in [(1, 3), (0, 3), (0, 4), (0, 5), (1, 5)]]
    late = detour + [graph.number((1, 4))] * 5 + [graph.number(cell) for cell in [(1, 3), (1, 2), (1, 1)]]
    paths.set(0, late)
    assert not paths.walled_in(1)


# A hall with a one-wide corridor off its right side leading to a dead end at (1, 9).
CORRIDOR = grid(
    "#####.####",
    "..........",
    "#####.####",
)


def test_walls_are_the_fewest_parked_agents_across_every_route() -> None:
    paths, graph = path_set(CORRIDOR, [(1, 7), (1, 0), (0, 5)], [(1, 8), (1, 9), (2, 5)])
    paths.set(0, [graph.number((1, 7)), graph.number((1, 8))])  # parks in the corridor at time 1
    paths.set(2, [graph.number(cell) for cell in [(0, 5), (1, 5), (2, 5)]])  # parks off the route
    assert paths.walls(1) == [0]
    assert paths.walls(2) == []  # its own parking is no wall
    assert paths.plan(1) is None


def test_the_repair_plans_the_walled_in_agent_before_its_wall() -> None:
    paths, graph = path_set(CORRIDOR, [(1, 7), (1, 0)], [(1, 8), (1, 9)])
    paths.set(0, paths.plan(0))
    assert paths.plan(1) is None
    assert paths.repair(1)
    assert paths.paths[0] is not None and paths.paths[1] is not None
    cells = [[graph.cells[cell] for cell in path] for path in (paths.paths[0], paths.paths[1])]
    check = check_plan(CORRIDOR, [(1, 7), (1, 0)], [(1, 8), (1, 9)], cells)
    assert check.valid, check.problems


def test_the_walled_in_agent_gets_a_plan_from_the_fallback_or_the_repair() -> None:
    starts, goals = [(1, 3), (1, 5)], [(1, 1), (1, 0)]
    solution = solve(BAY, starts, goals, clock=StepClock(0.0001), time_limit=2.0, improve=False)
    assert solution is not None
    check = check_plan(BAY, starts, goals, solution.paths)
    assert check.valid, check.problems
    assert solution.sum_of_costs == check.sum_of_costs == solution.initial_sum_of_costs


def crowded_aisles(seed: int, count: int) -> tuple[npt.NDArray[np.bool_], list[Cell], list[Cell]]:
    """Shelf rows with one-wide aisles between them, `count` agents on random distinct free cells."""
    blocked = np.zeros((11, 16), dtype=bool)
    blocked[1:10:2, 2:14] = True
    blocked[1:10:2, 7] = False  # a cross aisle
    free = [(int(r), int(c)) for r, c in zip(*np.nonzero(~blocked), strict=True)]
    rng = np.random.default_rng(seed)
    starts = [free[i] for i in rng.permutation(len(free))[:count]]
    goals = [free[i] for i in rng.permutation(len(free))[:count]]
    return blocked, starts, goals


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(5, 60), st.sampled_from([0.02, 0.1, 0.5, 2.0]))
def test_the_answer_is_valid_and_comes_by_the_time_limit(seed: int, count: int, limit: float) -> None:
    blocked, starts, goals = crowded_aisles(seed, count)
    clock = StepClock(limit / 400)  # one reading per repair or improvement step: 400 fit in the limit
    solution = solve(blocked, starts, goals, clock=clock, time_limit=limit, seed=seed)
    assert clock.now <= limit + 1.001 * clock.step  # the last reading found the time up (float rounding)
    if solution is None:
        return
    check = check_plan(blocked, starts, goals, solution.paths)
    assert check.valid, check.problems
    assert check.sum_of_costs == solution.sum_of_costs <= solution.initial_sum_of_costs


def test_a_crowded_instance_is_solved_within_a_short_limit() -> None:
    blocked, starts, goals = crowded_aisles(7, 40)
    clock = StepClock(0.0005)
    solution = solve(blocked, starts, goals, clock=clock, time_limit=2.0)
    assert solution is not None
    assert check_plan(blocked, starts, goals, solution.paths).valid
    assert clock.now <= 2.0
