"""The independent MAPF plan checker catches every kind of rule break and recomputes costs."""

from __future__ import annotations

import numpy as np

from fleet.mapf.validate import agent_cost, check_plan

OPEN = np.zeros((3, 4), dtype=bool)  # 3 rows x 4 columns, all free


def test_a_valid_plan_passes_with_its_sum_of_costs() -> None:
    starts, goals = [(0, 0), (2, 0)], [(0, 3), (2, 2)]
    paths = [[(0, 0), (0, 1), (0, 2), (0, 3)], [(2, 0), (2, 0), (2, 1), (2, 2)]]
    check = check_plan(OPEN, starts, goals, paths)
    assert check.valid, check.problems
    assert (check.sum_of_costs, check.makespan) == (3 + 3, 3)


def test_vertex_conflict() -> None:
    paths = [[(0, 0), (0, 1), (0, 2)], [(1, 1), (0, 1), (0, 0)]]
    check = check_plan(OPEN, [(0, 0), (1, 1)], [(0, 2), (0, 0)], paths)
    assert any("vertex conflict: agents 0 and 1 both at (0, 1) at time 1" in p for p in check.problems)


def test_swap_conflict() -> None:
    paths = [[(0, 0), (0, 1)], [(0, 1), (0, 0)]]
    check = check_plan(OPEN, [(0, 0), (0, 1)], [(0, 1), (0, 0)], paths)
    assert check.problems == ("swap conflict: agents 0 and 1 trade (0, 0) and (0, 1) between times 0 and 1",)


def test_an_agent_parked_at_its_goal_still_occupies_it() -> None:
    # Agent 0 arrives at (0, 1) at time 1 and stays; agent 1 runs through that cell at time 2.
    paths = [[(0, 0), (0, 1)], [(1, 1), (1, 1), (0, 1), (0, 2)]]
    check = check_plan(OPEN, [(0, 0), (1, 1)], [(0, 1), (0, 2)], paths)
    assert any("both at (0, 1) at time 2" in p for p in check.problems)


def test_jumps_obstacles_off_grid_and_wrong_ends() -> None:
    blocked = OPEN.copy()
    blocked[1, 2] = True
    paths = [[(0, 1), (0, 3)], [(1, 1), (1, 2), (1, 3), (1, 4)]]
    check = check_plan(blocked, [(0, 0), (1, 1)], [(0, 3), (2, 3)], paths)
    problems = "\n".join(check.problems)
    assert "agent 0: starts at (0, 1), not at its start (0, 0)" in problems
    assert "agent 0: jumps from (0, 1) to (0, 3) at time 1" in problems
    assert "agent 1: on blocked cell (1, 2) at time 1" in problems
    assert "agent 1: off the grid at (1, 4), time 3" in problems
    assert "agent 1: ends at (1, 4), not at its goal (2, 3)" in problems


def test_counts_must_match() -> None:
    check = check_plan(OPEN, [(0, 0)], [(0, 1), (0, 2)], [[(0, 0), (0, 1)]])
    assert not check.valid
    assert "counts differ" in check.problems[0]


def test_cost_is_the_last_arrival_after_which_the_agent_stays() -> None:
    assert agent_cost([(0, 0), (0, 1), (0, 0), (0, 1), (0, 1)], (0, 1)) == 3
    assert agent_cost([(0, 1)], (0, 1)) == 0
    assert agent_cost([(0, 1), (0, 0), (0, 1)], (0, 1)) == 2
