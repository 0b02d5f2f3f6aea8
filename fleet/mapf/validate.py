"""Independent check of a MAPF plan on a 4-connected grid, written apart from the solver (shares no code).

A plan is one path per agent: its (row, col) cell at time 0, 1, 2, ...; after its last entry the agent
stays there forever. Valid when every path starts at its start and ends at its goal, every step moves to
an up/down/left/right neighbour or waits, no cell is blocked or off the grid, no two agents are on one cell
at one time (vertex conflict, counting agents already parked at their goals), and no two agents trade
cells along one edge in one step (swap conflict).

Cost of an agent: the last time step at which it arrives at its goal and stays there for good (0 if it
starts there and never leaves). The sum of costs adds them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class PlanCheck:
    problems: tuple[str, ...]  # empty when the plan is valid
    sum_of_costs: int
    makespan: int

    @property
    def valid(self) -> bool:
        return not self.problems


def agent_cost(path: Sequence[Position], goal: Position) -> int:
    """Time of the last arrival at the goal after which the agent never leaves it."""
    time = len(path) - 1
    while time > 0 and (path[time - 1][0], path[time - 1][1]) == (goal[0], goal[1]):
        time -= 1
    return time


def check_plan(
    blocked: npt.ArrayLike,
    starts: Sequence[Position],
    goals: Sequence[Position],
    paths: Sequence[Sequence[Position]],
    max_problems: int = 20,
) -> PlanCheck:
    """All the rule breaks of the plan (up to `max_problems`), with its recomputed sum of costs."""
    grid = np.asarray(blocked, dtype=bool)
    height, width = grid.shape
    problems: list[str] = []

    def report(text: str) -> None:
        if len(problems) < max_problems:
            problems.append(text)

    if not (len(starts) == len(goals) == len(paths)):
        report(f"{len(starts)} starts, {len(goals)} goals and {len(paths)} paths: counts differ")
        return PlanCheck(tuple(problems), 0, 0)
    clean: list[list[Position]] = []
    for agent, path in enumerate(paths):
        cells = [(int(cell[0]), int(cell[1])) for cell in path]
        clean.append(cells)
        if not cells:
            report(f"agent {agent}: empty path")
            continue
        if cells[0] != tuple(starts[agent]):
            report(f"agent {agent}: starts at {cells[0]}, not at its start {tuple(starts[agent])}")
        if cells[-1] != tuple(goals[agent]):
            report(f"agent {agent}: ends at {cells[-1]}, not at its goal {tuple(goals[agent])}")
        for time, (row, col) in enumerate(cells):
            if not (0 <= row < height and 0 <= col < width):
                report(f"agent {agent}: off the grid at {(row, col)}, time {time}")
            elif grid[row, col]:
                report(f"agent {agent}: on blocked cell {(row, col)} at time {time}")
        for time in range(1, len(cells)):
            (r0, c0), (r1, c1) = cells[time - 1], cells[time]
            if abs(r0 - r1) + abs(c0 - c1) > 1:
                report(f"agent {agent}: jumps from {(r0, c0)} to {(r1, c1)} at time {time}")
    if any(not cells for cells in clean):
        return PlanCheck(tuple(problems), 0, 0)
    makespan = max(len(cells) - 1 for cells in clean)

    def where(agent: int, time: int) -> Position:
        cells = clean[agent]
        return cells[min(time, len(cells) - 1)]

    for time in range(makespan + 1):
        seen: dict[Position, int] = {}
        for agent in range(len(clean)):
            cell = where(agent, time)
            if cell in seen:
                report(f"vertex conflict: agents {seen[cell]} and {agent} both at {cell} at time {time}")
            else:
                seen[cell] = agent
        if time == 0:
            continue
        before = {where(agent, time - 1): agent for agent in range(len(clean))}
        for agent in range(len(clean)):
            old, new = where(agent, time - 1), where(agent, time)
            other = before.get(new)
            if (
                old != new
                and other is not None
                and other != agent
                and where(other, time) == old
                and agent < other
            ):
                report(
                    f"swap conflict: agents {agent} and {other} trade {old} and {new} between times {time - 1} and {time}"
                )
    total = sum(
        agent_cost(cells, (int(goals[agent][0]), int(goals[agent][1]))) for agent, cells in enumerate(clean)
    )
    return PlanCheck(tuple(problems), total, makespan)
