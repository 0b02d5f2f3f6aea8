"""MAPF solver on small hand-made grids: corridors, swaps that need a side pocket, dead ends, bad input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from fleet.mapf import MapfInputError, check_plan, solve
from fleet.mapf.distances import goal_distances
from fleet.mapf.grid import Cell, GridGraph
from fleet.mapf.lacam import lacam
from fleet.mapf.movingai import parse_map, parse_scenario
from fleet.mapf.pibt import Pibt
from fleet.mapf.spacetime import PathTable, space_time_astar


def ticking_clock(step: float = 0.001) -> Callable[[], float]:
    """A deterministic clock: every reading advances it by `step` seconds."""
    now = [0.0]

    def read() -> float:
        now[0] += step
        return now[0]

    return read


def grid(*rows: str) -> npt.NDArray[np.bool_]:
    return np.array([[char != "." for char in row] for row in rows], dtype=bool)


def solved(blocked: npt.NDArray[np.bool_], starts: list[Cell], goals: list[Cell], **options: object) -> int:
    """Solve, check the plan independently, and return its sum of costs."""
    solution = solve(blocked, starts, goals, clock=ticking_clock(), time_limit=5.0, **options)  # type: ignore[arg-type]
    assert solution is not None
    check = check_plan(blocked, starts, goals, solution.paths)
    assert check.valid, check.problems
    assert check.sum_of_costs == solution.sum_of_costs
    assert solution.sum_of_costs >= solution.lower_bound
    return solution.sum_of_costs


def test_one_agent_down_a_corridor_takes_the_shortest_path() -> None:
    assert solved(grid("....."), [(0, 0)], [(0, 4)]) == 4


def test_followers_in_a_corridor_move_in_a_train() -> None:
    # Three agents in a row all shift right by two: no delay needed.
    assert solved(grid("......"), [(0, 0), (0, 1), (0, 2)], [(0, 2), (0, 3), (0, 4)]) == 6


def test_head_on_swap_uses_the_side_pocket() -> None:
    blocked = grid(".....", "TT.TT")
    cost = solved(blocked, [(0, 0), (0, 4)], [(0, 4), (0, 0)])
    assert cost > 8  # one of them must step into the pocket and wait


def test_agent_in_a_dead_end_makes_room_for_the_one_whose_goal_it_is() -> None:
    blocked = grid("....", "T.TT")
    solved(blocked, [(1, 1), (0, 0)], [(0, 3), (1, 1)])


def test_agent_sitting_on_its_goal_in_a_corridor_steps_aside_and_back() -> None:
    blocked = grid(".....", "TT.TT")
    # Agent 1 already stands on its goal in the way; agent 0 must pass it.
    assert solved(blocked, [(0, 0), (0, 3)], [(0, 4), (0, 3)]) > 4


def test_the_lacam_fallback_alone_solves_the_pocket_swap() -> None:
    blocked = grid(".....", "TT.TT")
    graph = GridGraph.from_occupancy(blocked)
    starts, goals = graph.numbers([(0, 0), (0, 4)], "start"), graph.numbers([(0, 4), (0, 0)], "goal")
    distance = [memoryview(row) for row in goal_distances(graph, goals)]
    configs = lacam(
        Pibt(graph.neighbours, goals, distance),
        starts=starts,
        goals=goals,
        initial_priorities=[0.5, 0.25],
        should_stop=lambda: False,
    )
    assert configs is not None
    paths = [[graph.cells[config[agent]] for config in configs] for agent in range(2)]
    assert check_plan(blocked, [(0, 0), (0, 4)], [(0, 4), (0, 0)], paths).valid


def test_a_swap_in_a_plain_corridor_has_no_solution() -> None:
    assert (
        solve(grid("...."), [(0, 0), (0, 3)], [(0, 3), (0, 0)], clock=ticking_clock(), time_limit=1.0) is None
    )


def test_sipp_waits_for_an_agent_crossing_its_way() -> None:
    blocked = grid("...", ".T.", "...")
    graph = GridGraph.from_occupancy(blocked)
    table = PathTable(graph.size)
    # Another agent holds (1, 0) until time 2, then moves down to (2, 0) and parks there.
    other = [graph.number(cell) for cell in [(1, 0), (1, 0), (1, 0), (2, 0)]]
    table.add(1, other)
    start, goal = graph.number((0, 1)), graph.number((1, 0))
    distance = memoryview(goal_distances(graph, [goal])[0])
    path = space_time_astar(table, graph.neighbours, distance=distance, start=start, goal=goal, horizon=20)
    assert path is not None
    cells = [graph.cells[cell] for cell in path]
    assert cells[0] == (0, 1) and cells[-1] == (1, 0)
    assert cells == [(0, 1), (0, 0), (0, 0), (1, 0)]  # waits one step behind the other agent


@pytest.mark.parametrize(
    ("starts", "goals", "message"),
    [
        ([(0, 1)], [(0, 0)], "start of agent 0 (0, 1) is a blocked cell"),
        ([(0, 0)], [(5, 0)], "goal of agent 0 (5, 0) is outside the 2x3 grid"),
        ([(0, 0), (0, 2)], [(1, 0), (1, 0)], "agents 0 and 1 share the goal cell (1, 0)"),
        ([(0, 0)], [(1, 1), (1, 2)], "1 starts but 2 goals"),
    ],
)
def test_bad_input_is_named(starts: list[Cell], goals: list[Cell], message: str) -> None:
    with pytest.raises(MapfInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        solve(grid(".T.", "..."), starts, goals, clock=ticking_clock())


def test_unreachable_goal_is_named() -> None:
    with pytest.raises(MapfInputError, match=r"goal \(0, 2\) of agent 0 cannot be reached"):
        solve(grid(".T.", ".T."), [(0, 0)], [(0, 2)], clock=ticking_clock())


def test_moving_ai_map_and_scenario_text() -> None:
    blocked = parse_map("type octile\nheight 2\nwidth 3\nmap\n.@.\nG.T\n")
    assert blocked.tolist() == [[False, True, False], [False, False, True]]
    agents = parse_scenario("version 1\n0\tm.map\t3\t2\t0\t1\t2\t0\t2.0\n")
    assert (agents[0].start, agents[0].goal) == ((1, 0), (0, 2))  # x is the column, y the row


def test_moving_ai_errors_name_the_line() -> None:
    with pytest.raises(MapfInputError, match="header says height 3, found 2 rows"):
        parse_map("type octile\nheight 3\nwidth 2\nmap\n..\n..\n")
    with pytest.raises(MapfInputError, match="row 1 has 3 characters"):
        parse_map("type octile\nheight 2\nwidth 2\nmap\n..\n...\n")
    with pytest.raises(MapfInputError, match="scen line 2: start/goal coordinates must be integers"):
        parse_scenario("version 1\n0\tm\t3\t2\tx\t1\t2\t0\t2.0\n")


def test_empty_instance() -> None:
    solution = solve(grid("..."), [], [], clock=ticking_clock())
    assert solution is not None and solution.paths == [] and solution.sum_of_costs == 0
