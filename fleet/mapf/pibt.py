"""PIBT: priority inheritance with backtracking (Okumura et al., AIJ 2022), one synchronous step at a time.

Each step, agents choose their next cell in priority order; an agent that wants a cell occupied by a
lower-priority agent lends it its priority so that one moves away first (recursively), and a push that
fails backtracks to the next candidate cell. Priorities grow while an agent is away from its goal and drop
back once it arrives, so every agent eventually gets to lead.

Plain PIBT livelocks in one-wide aisles when two agents meet head on: neither can pass. The swap
operation of LaCAM3 (Okumura, AAMAS 2024) fixes the common case: when the agent ahead must come through
the cell we stand on anyway, and the corridor behind us leads to a branching cell, we move *backwards*
and pull it along until the two can pass there. The check walks the corridor's chain of degree-2 cells.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

NOBODY = -1


class Pibt:
    """One-step planner over a fixed graph and goal set; `step` maps a configuration to the next one."""

    def __init__(
        self,
        neighbours: Sequence[Sequence[int]],
        goals: Sequence[int],
        distance: Sequence[Sequence[int]],
        seed: int = 0,
    ) -> None:
        self.neighbours = neighbours
        self.goals = goals
        self.distance = distance  # distance[agent][cell] = steps from cell to the agent's goal
        self.rng = random.Random(seed)
        self.occupied_now = [NOBODY] * len(neighbours)
        self.occupied_next = [NOBODY] * len(neighbours)
        # A dead-end cell holding an agent that sits at its own goal never needs to move for a swap.
        self.goal_owner = [NOBODY] * len(neighbours)
        for agent, goal in enumerate(goals):
            self.goal_owner[goal] = agent

    def step(
        self, here: Sequence[int], order: Sequence[int], fixed: Sequence[tuple[int, int]] = ()
    ) -> list[int] | None:
        """Next cell of every agent (no two on one cell, none swapping along an edge), planning in `order`.

        `fixed` pins (agent, cell) moves first (LaCAM's constraints); None when the pins conflict.
        """
        occupied_now, occupied_next = self.occupied_now, self.occupied_next
        for agent, cell in enumerate(here):
            occupied_now[cell] = agent
        there = [NOBODY] * len(here)
        feasible = True
        for agent, cell in fixed:
            other = occupied_now[cell]
            if occupied_next[cell] != NOBODY or (other != NOBODY and there[other] == here[agent]):
                feasible = False
                break
            there[agent] = cell
            occupied_next[cell] = agent
        if feasible:
            for agent in order:
                # An agent that cannot move stays; if a pinned agent took its cell the pins are infeasible.
                if there[agent] != NOBODY:
                    continue
                pinned_here = occupied_next[here[agent]] != NOBODY
                if not self._push(agent, here, there) and pinned_here:
                    feasible = False
                    break
        for agent, cell in enumerate(here):
            occupied_now[cell] = NOBODY
            if there[agent] != NOBODY:
                occupied_next[there[agent]] = NOBODY
        return there if feasible else None

    def _candidates(self, agent: int, cell: int) -> list[int]:
        distance, occupied, rand = self.distance[agent], self.occupied_now, self.rng.random
        options = [*self.neighbours[cell], cell]
        # Closest to the goal first; among equals prefer an empty cell (fewer pushes), then at random.
        keys = {
            option: distance[option] + (0.5 if occupied[option] != NOBODY else 0.0) + 0.1 * rand()
            for option in options
        }
        options.sort(key=keys.__getitem__)
        return options

    def _push(self, agent: int, here: Sequence[int], there: list[int]) -> bool:
        occupied_now, occupied_next = self.occupied_now, self.occupied_next
        origin = here[agent]
        options = self._candidates(agent, origin)
        puller = self._swap_partner(agent, options[0], here, there)
        if puller != NOBODY:
            options.reverse()  # walk away from the partner, dragging it along to where the two can pass
        for index, option in enumerate(options):
            if occupied_next[option] != NOBODY:
                continue
            other = occupied_now[option]
            if other != NOBODY and there[other] == origin:
                continue  # the two would swap along one edge
            there[agent] = option
            occupied_next[option] = agent
            if other not in (NOBODY, agent) and there[other] == NOBODY and not self._push(other, here, there):
                continue
            if (
                index == 0
                and puller != NOBODY
                and there[puller] == NOBODY
                and occupied_next[origin] == NOBODY
            ):
                there[puller] = origin
                occupied_next[origin] = puller
            return True
        there[agent] = origin
        occupied_next[origin] = agent
        return False

    def _swap_partner(self, agent: int, best: int, here: Sequence[int], there: Sequence[int]) -> int:
        """The agent to pull along backwards this step, or NOBODY (LaCAM3's swap and clear cases)."""
        origin = here[agent]
        ahead = self.occupied_now[best]
        if (
            ahead != NOBODY
            and there[ahead] == NOBODY
            and self._swap_required(agent, ahead, origin, here[ahead])
            and self._swap_possible(here[ahead], origin)
        ):
            return ahead
        if best != origin:
            # Clear: a neighbour that must pass through our cell and the cell we want is in the way.
            for cell in self.neighbours[origin]:
                behind = self.occupied_now[cell]
                if behind == NOBODY or best == here[behind]:
                    continue
                if self._swap_required(behind, agent, origin, best) and self._swap_possible(best, origin):
                    return behind
        return NOBODY

    def _next_in_corridor(self, cell: int, came_from: int) -> tuple[int, int]:
        """Number of ways on from `cell` (not back, not into a settled dead end) and the last such way."""
        ways, onward = 0, NOBODY
        for around in self.neighbours[cell]:
            if around == came_from:
                continue
            sitter = self.occupied_now[around]
            if len(self.neighbours[around]) == 1 and sitter != NOBODY and self.goal_owner[around] == sitter:
                continue
            ways += 1
            onward = around
        return ways, onward

    def _swap_required(self, pusher: int, puller: int, pusher_cell: int, puller_cell: int) -> bool:
        distance = self.distance[pusher]
        while distance[puller_cell] < distance[pusher_cell]:
            ways, onward = self._next_in_corridor(puller_cell, pusher_cell)
            if ways >= 1 + 1:
                return False  # a branching cell ahead: the puller can step aside there
            if ways == 0:
                break
            pusher_cell, puller_cell = puller_cell, onward
        pulled = self.distance[puller]
        return pulled[pusher_cell] < pulled[puller_cell] and (
            distance[pusher_cell] == 0 or distance[puller_cell] < distance[pusher_cell]
        )

    def _swap_possible(self, pusher_cell: int, puller_cell: int) -> bool:
        start = pusher_cell
        while puller_cell != start:
            ways, onward = self._next_in_corridor(puller_cell, pusher_cell)
            if ways >= 1 + 1:
                return True
            if ways == 0:
                return False
            pusher_cell, puller_cell = puller_cell, onward
        return False
