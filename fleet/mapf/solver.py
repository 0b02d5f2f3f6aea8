"""One-shot MAPF on a 4-connected grid: collision-free paths for all agents from their starts to their goals.

Pipeline, all within one time limit (anytime: a complete plan is in hand as early as possible):

1. one BFS per goal (`distances`): exact single-agent distances, the heuristic of everything below;
2. on a sparse grid, prioritised planning first: shortest trips first, each agent by SIPP around the ones
   before (`spacetime`). Near-shortest paths, but it can fail for a few agents (others parked in their
   aisle); those are repaired (`lns`): each is planned again before the agents parked across its way,
   then those after it;
3. on a busier grid, or when step 2 gave no complete plan, LaCAM with PIBT (`lacam`, `pibt`): complete
   and fast, the fallback, but its paths are long (agents get pushed off their goals and come back).
   Only if it cannot finish in time is there no answer. Step 2 then runs (or carries on) in the time
   left, and the cheaper of the two complete plans is kept;
4. the remaining time goes to large neighbourhood search, which shortens the delayed agents' paths and
   only ever swaps a valid plan for a cheaper valid one.

Costs: an agent's cost is the time step of its last arrival at its goal, after which it never leaves;
the sum of costs (SoC) adds them up. The lower bound is the sum of BFS distances.

Pure: no I/O; time comes from the `clock` the caller passes (e.g. `time.perf_counter`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleet.mapf.distances import goal_distances
from fleet.mapf.grid import Cell, GridGraph, MapfInputError
from fleet.mapf.lacam import lacam
from fleet.mapf.lns import PathSet
from fleet.mapf.pibt import Pibt

SPARSE = 0.04  # agents per free cell up to which prioritised planning goes first
LACAM_SHARE = 0.95  # LaCAM (the complete fallback plan) may run until this share of the time limit
REPAIR_SHARE = 0.85  # prioritised planning and its repair must be done by this share
PRIORITISED_WEIGHT = 1.3  # weighted A* in the first pass: fewer states, paths a few % longer
IMPROVE_SHARE = 0.9  # improvement stops by then, leaving room to build the answer
STALL = 50  # improvement stops after this many neighbourhoods in a row brought nothing
HORIZON_FACTOR = 3  # paths may be up to this many times the longest single-agent distance (plus slack)


@dataclass(frozen=True, slots=True)
class MapfSolution:
    paths: list[list[Cell]]  # per agent, its cell at each time step until it reaches its goal for good
    sum_of_costs: int
    lower_bound: int  # sum of single-agent shortest distances
    makespan: int
    method: str  # "prioritised" or "lacam": which complete plan was kept before the improvement phase
    initial_sum_of_costs: int  # before the improvement phase
    initial_seconds: float  # clock time from the call to the first complete plan


@dataclass(frozen=True, slots=True)
class _Instance:
    graph: GridGraph
    starts: list[int]
    goals: list[int]
    distance: list[memoryview]
    lower_bound: int


def _instance(blocked: npt.ArrayLike, starts: Sequence[Cell], goals: Sequence[Cell]) -> _Instance:
    if len(starts) != len(goals):
        raise MapfInputError(f"{len(starts)} starts but {len(goals)} goals")
    graph = GridGraph.from_occupancy(blocked)
    start_cells, goal_cells = graph.numbers(starts, "start"), graph.numbers(goals, "goal")
    table = goal_distances(graph, goal_cells) if goal_cells else np.zeros((0, graph.size), dtype=np.int32)
    distance = [memoryview(row) for row in table]
    for agent, (start, row) in enumerate(zip(start_cells, distance, strict=True)):
        if row[start] < 0:
            raise MapfInputError(
                f"goal {goals[agent]} of agent {agent} cannot be reached from its start {starts[agent]}"
            )
    lower_bound = sum(row[start] for start, row in zip(start_cells, distance, strict=True))
    return _Instance(graph, start_cells, goal_cells, distance, lower_bound)


def solve(
    blocked: npt.ArrayLike,
    starts: Sequence[Cell],
    goals: Sequence[Cell],
    *,
    clock: Callable[[], float],
    time_limit: float = 2.0,
    improve: bool = True,
    target_ratio: float = 1.10,
    seed: int = 0,
) -> MapfSolution | None:
    """Paths for all agents on the grid (`blocked[row, col]` True = obstacle), or None if not found in time.

    The improvement phase stops at the time limit, after `STALL` fruitless tries in a row, or once the
    sum of costs is within `target_ratio` of the lower bound (1.0: improve as long as anything helps).

    Raises MapfInputError for starts/goals off the grid, on obstacles, shared, or unreachable.
    """
    began = clock()

    def past(share: float) -> Callable[[], bool]:
        return lambda: clock() - began >= share * time_limit

    problem = _instance(blocked, starts, goals)
    count = len(problem.starts)
    if count == 0:
        return MapfSolution([], 0, 0, 0, "prioritised", 0, 0.0)
    longest = max(row[start] for start, row in zip(problem.starts, problem.distance, strict=True))
    paths = PathSet(
        problem.graph.neighbours,
        starts=problem.starts,
        goals=problem.goals,
        distance=problem.distance,
        horizon=HORIZON_FACTOR * longest + count // 4 + 16,
        seed=seed,
    )
    # On a sparse grid prioritised planning goes first and may take all the time: it all but never fails
    # there, and it is much cheaper than LaCAM, whose long paths take many steps of every agent. On a
    # busier grid LaCAM goes first, so that there is an answer however long the rest takes.
    order = sorted(range(count), key=lambda agent: paths.distance[agent][paths.starts[agent]])
    done = 0
    planned = False
    if count <= SPARSE * problem.graph.size:
        done = _prioritised(paths, order, clock, began + REPAIR_SHARE * time_limit)
        planned = done == count and _repair(paths, past(REPAIR_SHARE))
    method = "prioritised"
    if planned:
        first_plan_at = clock() - began
    else:
        # A complete plan (the fallback), however long its paths: from here on there is an answer.
        configs = _lacam(problem, past(LACAM_SHARE), seed)
        if configs is None:
            return None
        first_plan_at = clock() - began
        fallback = [_trim([config[a] for config in configs], problem.goals[a]) for a in range(count)]
        # Then finish the prioritised plan and its repair, if that can be done in the time left.
        if done < count:
            done += _prioritised(paths, order[done:], clock, began + REPAIR_SHARE * time_limit)
        planned = done == count and _repair(paths, past(REPAIR_SHARE))
        if not planned or sum(len(path) - 1 for path in fallback) < sum(map(paths.cost, range(count))):
            method = "lacam"
            # Searches must be able to finish after the last of its (long) paths has passed their goals.
            paths.horizon = max(paths.horizon, max(map(len, fallback)) + longest + 16)
            for agent in range(count):
                paths.set(agent, None)
            for agent, path in enumerate(fallback):
                paths.set(agent, path)
    initial = sum(paths.cost(agent) for agent in range(count))
    initial_seconds = first_plan_at
    if improve:
        target = int(target_ratio * problem.lower_bound) - problem.lower_bound
        _improve(paths, problem.distance, problem.starts, past(IMPROVE_SHARE), target)
    return _solution(problem, paths, method, initial, initial_seconds)


def _prioritised(paths: PathSet, order: Sequence[int], clock: Callable[[], float], deadline: float) -> int:
    """Plan the agents one by one in `order` (some may get no path) until the deadline; returns how many
    it went through."""
    paths.weight = PRIORITISED_WEIGHT
    try:
        for done, agent in enumerate(order):
            if done % 16 == 0 and done and clock() >= deadline:
                return done
            paths.set(agent, paths.plan(agent))
    finally:
        paths.weight = 1.0
    return len(order)


def _repair(paths: PathSet, stop: Callable[[], bool]) -> bool:
    """Give the agents prioritised planning missed a path; False if some still have none when time is up."""
    while True:
        missing = [agent for agent, path in enumerate(paths.paths) if path is None]
        if not missing:
            return True
        for agent in missing:
            if stop():
                return False
            paths.repair(agent)


def _lacam(problem: _Instance, stop: Callable[[], bool], seed: int) -> list[tuple[int, ...]] | None:
    pibt = Pibt(problem.graph.neighbours, problem.goals, problem.distance, seed)
    longest = max(row[start] for start, row in zip(problem.starts, problem.distance, strict=True)) + 1
    # Initial priorities in [0, 1): agents with longer trips lead first.
    priorities = [row[start] / longest for start, row in zip(problem.starts, problem.distance, strict=True)]
    return lacam(
        pibt,
        starts=problem.starts,
        goals=problem.goals,
        initial_priorities=priorities,
        should_stop=stop,
        seed=seed,
    )


def _trim(path: list[int], goal: int) -> list[int]:
    """Drop the tail an agent spends waiting on its goal for good."""
    end = len(path)
    while end > 1 and path[end - 2] == goal:
        end -= 1
    return path[:end]


def _improve(
    paths: PathSet,
    distance: Sequence[Sequence[int]],
    starts: Sequence[int],
    stop: Callable[[], bool],
    target: int,
) -> None:
    delays = [paths.cost(agent) - distance[agent][start] for agent, start in enumerate(starts)]
    misses = 0
    while any(delays) and misses < STALL and not stop():
        if sum(delays) <= target:
            return
        if paths.improve(delays):
            misses = 0
            for agent, start in enumerate(starts):
                delays[agent] = paths.cost(agent) - distance[agent][start]
        else:
            misses += 1


def _solution(problem: _Instance, paths: PathSet, method: str, initial: int, seconds: float) -> MapfSolution:
    cells = problem.graph.cells
    found = [path for path in paths.paths if path is not None]
    if len(found) != len(problem.starts):
        raise AssertionError("an agent lost its path")  # replan() restores on failure; cannot happen
    return MapfSolution(
        paths=[[cells[cell] for cell in path] for path in found],
        sum_of_costs=sum(len(path) - 1 for path in found),
        lower_bound=problem.lower_bound,
        makespan=max(len(path) - 1 for path in found),
        method=method,
        initial_sum_of_costs=initial,
        initial_seconds=seconds,
    )
