"""Large neighbourhood search over a set of paths (after MAPF-LNS, Li et al. 2021): replan a few agents at a time.

A neighbourhood is one agent plus the agents that stand on its shortest route at about the time it
would pass. Their paths are removed and planned again one by one with space-time A* around everybody
else. `improve` keeps the new paths when their sum of costs drops; `repair` plans agents that have no path
yet (prioritised planning failed for them): the missing agent first, then the agents parked across every
route to its goal (its "walls", found by a 0-1 BFS), which now get there after it has passed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence

from fleet.mapf.spacetime import Path, PathTable, space_time_astar

NEIGHBOURHOOD = 8
REPAIR_EFFORT = 25  # budget multiplier for the search of an agent being repaired
POCKET = 64  # cells: a goal region larger than this is not treated as walled in
NEAR_IN_TIME = 3  # route step k collects agents on that cell from time k - 3 to k + 3


class PathSet:
    """Paths of all agents (None while an agent has none) with their space-time table kept in step."""

    def __init__(
        self,
        neighbours: Sequence[Sequence[int]],
        *,
        starts: Sequence[int],
        goals: Sequence[int],
        distance: Sequence[Sequence[int]],
        horizon: int,
        seed: int = 0,
    ) -> None:
        self.neighbours, self.starts, self.goals, self.distance = neighbours, starts, goals, distance
        self.horizon = horizon
        self.paths: list[Path | None] = [None] * len(starts)
        self.table = PathTable(len(neighbours))
        self.rng = random.Random(seed)
        self.weight = 1.0  # heuristic inflation of the searches (weighted A*)
        self.expansion_factor = 40  # a search may expand this many nodes per step of the agent's distance

    def set(self, agent: int, path: Path | None) -> None:
        old = self.paths[agent]
        if old is not None:
            self.table.remove(agent, old)
        if path is not None:
            self.table.add(agent, path)
        self.paths[agent] = path

    def plan(self, agent: int, effort: int = 1) -> Path | None:
        distance = self.distance[agent]
        start = self.starts[agent]
        if self.walled_in(agent):
            return None  # the search would fail anyway, but only after its whole budget
        budget = effort * self.expansion_factor * (distance[start] + 1)
        return space_time_astar(
            self.table,
            self.neighbours,
            distance=distance,
            start=start,
            goal=self.goals[agent],
            horizon=self.horizon,
            max_expansions=budget,
            weight=self.weight,
        )

    def walled_in(self, agent: int) -> bool:
        """True when the agent's goal lies in a small pocket sealed by agents parked for good before the
        agent could possibly get there (its distance to that wall lower-bounds its arrival)."""
        distance, parked, neighbours = self.distance[agent], self.table.parked, self.neighbours
        start, goal = self.starts[agent], self.goals[agent]
        latest = distance[start]
        seen = {goal}
        frontier = [goal]
        while frontier:
            cell = frontier.pop()
            for option in neighbours[cell]:
                if option in seen:
                    continue
                if option == start:
                    return False
                stay = parked.get(option)
                if stay is not None and stay[1] != agent and stay[0] < latest - distance[option]:
                    continue
                seen.add(option)
                if len(seen) > POCKET:
                    return False
                frontier.append(option)
        return True

    def cost(self, agent: int) -> int:
        path = self.paths[agent]
        return len(path) - 1 if path is not None else 1 << 30

    def route(self, agent: int) -> list[int]:
        """One shortest single-agent route, following the distance table downhill."""
        distance, cell = self.distance[agent], self.starts[agent]
        route = [cell]
        while distance[cell] > 0:
            cell = next(n for n in self.neighbours[cell] if distance[n] == distance[cell] - 1)
            route.append(cell)
        return route

    def neighbourhood(self, agent: int, size: int = NEIGHBOURHOOD) -> list[int]:
        """The agent, then up to size - 1 others met on its shortest route, nearest in time first."""
        met: dict[int, int] = {}
        at, parked = self.table.at, self.table.parked
        for step, cell in enumerate(self.route(agent)):
            for time, other in at[cell].items():
                gap = abs(time - step)
                if other != agent and gap <= NEAR_IN_TIME and gap < met.get(other, 1 << 30):
                    met[other] = gap
            stay = parked.get(cell)
            if stay is not None and stay[1] != agent and stay[0] <= step:
                met[stay[1]] = 0
        others = sorted(met, key=met.__getitem__)[: size - 1]
        return [agent, *others]

    def replan(
        self,
        group: Sequence[int],
        accept: Callable[[int, int, int, int], bool],
        first_effort: int = 1,
        effort: int = 1,
    ) -> bool:
        """Plan `group` again in that order (an agent whose search fails gets no path) and keep the result
        if `accept(old missing, old cost, new missing, new cost)` holds, else put the old paths back."""
        old = {agent: self.paths[agent] for agent in group}
        old_missing = sum(path is None for path in old.values())
        old_cost = sum(len(path) - 1 for path in old.values() if path is not None)
        for agent in group:
            self.set(agent, None)
        new_missing = new_cost = 0
        for agent in group:
            path = self.plan(agent, first_effort if agent == group[0] else effort)
            if path is None:
                new_missing += 1
                if new_missing > old_missing:
                    break
                continue
            self.set(agent, path)
            new_cost += len(path) - 1
        else:
            if accept(old_missing, old_cost, new_missing, new_cost):
                return True
        for agent in group:
            self.set(agent, None)
        for agent in group:
            self.set(agent, old[agent])
        return False

    def walls(self, agent: int) -> list[int]:
        """Fewest agents parked for good that a route from `agent`'s start to its goal must pass through
        (0-1 BFS: stepping onto a parked agent costs 1), nearest the goal first. Those are the agents
        whose parking can wall it off; the one shortest route may cross many more than needed."""
        parked, neighbours = self.table.parked, self.neighbours
        start, goal = self.starts[agent], self.goals[agent]
        crossed = {start: 0}
        came_from = {start: -1}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            if cell == goal:
                break
            for option in neighbours[cell]:
                stay = parked.get(option)
                extra = 1 if stay is not None and stay[1] != agent else 0
                count = crossed[cell] + extra
                if count < crossed.get(option, 1 << 30):
                    crossed[option] = count
                    came_from[option] = cell
                    if extra:
                        queue.append(option)
                    else:
                        queue.appendleft(option)
        found: list[int] = []
        cell = goal
        while cell >= 0:
            stay = parked.get(cell)
            if stay is not None and stay[1] != agent:
                found.append(stay[1])
            cell = came_from.get(cell, -1)
        return found

    def blockers(self, agent: int) -> tuple[list[int], list[int]]:
        """Agents that can make a search for `agent` fail: first those parked across all its routes (they
        wall it off for good), then those crossing its start early or visiting its goal (it may only
        finish after the last visit)."""
        at = self.table.at
        start, goal = self.starts[agent], self.goals[agent]
        walls = self.walls(agent)
        crossing = {other for time, other in at[start].items() if time <= NEAR_IN_TIME * 2}
        crossing.update(at[goal].values())
        crossing.difference_update([agent, *walls])
        return walls, sorted(crossing)

    def repair(self, missing: int) -> bool:
        """Try to give `missing` a path. First plan it before the agents parked across its way (or, if
        none, those crossing its start or goal), then those (they now arrive after it has passed, often
        after a long wait: hence the larger search budget); failing that, replan it first with a random
        mix of its blockers and route mates."""
        rng = self.rng
        walls, crossing = self.blockers(missing)
        # Without walls, those crossing its start early or visiting its goal are what stops it.
        first = walls[:NEIGHBOURHOOD] or crossing[:NEIGHBOURHOOD]
        if first and self.replan(
            [missing, *first], lambda old, _, new, __: new < old, REPAIR_EFFORT, REPAIR_EFFORT
        ):
            return True
        chosen = walls[: NEIGHBOURHOOD // 4]  # the walls nearest its goal
        chosen += rng.sample(crossing, min(len(crossing), max(0, NEIGHBOURHOOD // 2 - len(chosen))))
        mates = [other for other in self.neighbourhood(missing, 3 * NEIGHBOURHOOD)[1:] if other not in chosen]
        chosen += rng.sample(mates, min(len(mates), max(0, NEIGHBOURHOOD - 1 - len(chosen))))
        rng.shuffle(chosen)
        # Accept a trade (another agent loses its path instead) too: a random walk out of a dead end.
        # The missing agent may need a long wait for its goal to clear: a wide plateau of equal estimates,
        # so its search gets a larger budget than the others'.
        return self.replan([missing, *chosen], lambda old, _, new, __: new <= old, REPAIR_EFFORT)

    def goal_visitors(self, agent: int) -> list[int]:
        """Agents that pass over `agent`'s goal after it first got there (they push it away or hold it up)."""
        path = self.paths[agent]
        goal = self.goals[agent]
        arrived = path.index(goal) if path is not None and goal in path else 0
        visits = self.table.at[goal]
        return sorted({other for time, other in visits.items() if time >= arrived and other != agent})

    def improve(self, delays: Sequence[int]) -> bool:
        """One LNS step around an agent drawn with probability proportional to its delay: the agents that
        cross its goal are planned first, then the agent, then others met on its route."""
        (agent,) = self.rng.choices(range(len(delays)), weights=delays)
        visitors = self.goal_visitors(agent)
        self.rng.shuffle(visitors)
        visitors = visitors[: NEIGHBOURHOOD - 1]
        mates = [other for other in self.neighbourhood(agent)[1:] if other not in visitors]
        mates = mates[: max(0, NEIGHBOURHOOD - 1 - len(visitors))]
        self.rng.shuffle(mates)
        return self.replan(
            [*visitors, agent, *mates], lambda _, old, missing, new: missing == 0 and new < old
        )
