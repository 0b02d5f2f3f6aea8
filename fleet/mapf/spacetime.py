"""Reserved space-time of planned agents, and safe-interval path planning for one more agent around them.

A path is a list of cells, one per time step from 0; after its last step the agent stays on its goal for
good ("parks"). `PathTable` answers, per cell, which agent is there at which time, so a search can avoid
vertex conflicts (same cell, same time), swap conflicts (two agents trading cells along one edge) and
parked agents, and can only finish at its goal once nobody else passes through that cell any more.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from operator import itemgetter

Path = list[int]


class PathTable:
    """Who occupies each cell when, for a set of agents' paths over one grid."""

    def __init__(self, cells: int) -> None:
        self.at: list[dict[int, int]] = [{} for _ in range(cells)]  # cell -> {time: agent}
        self.parked: dict[int, tuple[int, int]] = {}  # cell -> (from time, agent) staying there for good
        self.windows: dict[int, list[tuple[int, int]]] = {}  # cell -> safe intervals, dropped on change

    def add(self, agent: int, path: Path) -> None:
        at, windows = self.at, self.windows
        for time, cell in enumerate(path):
            at[cell][time] = agent
            windows.pop(cell, None)
        self.parked[path[-1]] = (len(path) - 1, agent)

    def remove(self, agent: int, path: Path) -> None:
        at, windows = self.at, self.windows
        for time, cell in enumerate(path):
            if at[cell].get(time) == agent:
                del at[cell][time]
                windows.pop(cell, None)
        if self.parked.get(path[-1], (0, -1))[1] == agent:
            del self.parked[path[-1]]

    def last_visit(self, cell: int) -> int:
        """Last time step anybody stands on the cell (-1 if nobody); parked agents count as forever."""
        if cell in self.parked:
            return 1 << 40
        times = self.at[cell]
        return max(times) if times else -1


FOREVER = 1 << 40
SCALE = 16  # costs in sixteenths, so that an inflated heuristic stays an integer
MAX_WINDOWS = 1 << 16  # safe intervals per cell a search tells apart (far more than any plan makes)
_closes = itemgetter(1)


def safe_intervals(table: PathTable, cell: int) -> list[tuple[int, int]]:
    """Maximal time windows [first, last] in which nobody stands on the cell (last = FOREVER if open-ended)."""
    cached = table.windows.get(cell)
    if cached is not None:
        return cached
    busy = sorted(table.at[cell])
    intervals: list[tuple[int, int]] = []
    free = 0
    for time in busy:
        if time > free:
            intervals.append((free, time - 1))
        free = time + 1
    if cell not in table.parked:
        intervals.append((free, FOREVER))
    table.windows[cell] = intervals
    return intervals


def space_time_astar(
    table: PathTable,
    neighbours: Sequence[Sequence[int]],
    *,
    distance: Sequence[int],
    start: int,
    goal: int,
    horizon: int,
    max_expansions: int = 50_000,
    weight: float = 1.0,
) -> Path | None:
    """Shortest path for one agent that collides with nobody in `table`, or None within the horizon.

    SIPP (Phillips and Likhachev, 2011): a search state is a cell and one of its safe intervals, reached
    as early as possible; waiting is implied, so a long wait costs one state, not one per time step.
    `distance` is the agent's BFS distance to its goal per cell: an exact single-agent heuristic, so the
    search only widens where reserved cells force a wait or a detour. A `weight` above 1 inflates it
    (weighted A*): far fewer states on a plateau of equally short detours, paths at most `weight` times
    the shortest.
    """
    at, windows, parked = table.at, table.windows, table.parked
    size = len(neighbours)

    def intervals(cell: int) -> list[tuple[int, int]]:
        found = windows.get(cell)
        return found if found is not None else safe_intervals(table, cell)

    first = intervals(start)
    if not first or first[0][0] != 0:
        return None
    goal_free = intervals(goal)
    if not goal_free or goal_free[-1][1] != FOREVER or goal_free[-1][0] > horizon:
        return None
    # Heap entries are single ints, ordered as (f, h, state): f = SCALE * time + weight * SCALE * h,
    # raised to when the goal opens for good; ints compare much faster than tuples. The arrival time is
    # not in the entry: an entry is current when re-encoding the state's recorded arrival gives it back.
    inflate = round(weight * SCALE)
    floor = SCALE * goal_free[-1][0]
    states = size * MAX_WINDOWS
    h_span = size + 1  # above any distance
    f_unit = h_span * states
    # State = cell + size * interval index -> earliest arrival, and the state it came from.
    arrival: dict[int, int] = {start: 0}
    came_from: dict[int, int] = {start: -1}
    left = distance[start]
    total = inflate * left
    frontier = [(total if total > floor else floor) * f_unit + left * states + start]
    pop, push = heapq.heappop, heapq.heappush
    expansions = 0
    while frontier:
        entry = pop(frontier)
        key = entry % states
        time = arrival[key]
        cell = key % size
        left = distance[cell]
        total = SCALE * time + inflate * left
        if (total if total > floor else floor) * f_unit + left * states + key != entry:
            continue  # superseded by an earlier arrival
        index = key // size
        high = intervals(cell)[index][1]
        if cell == goal and high == FOREVER:
            return _unroll(came_from, arrival, key, size)
        expansions += 1
        if expansions > max_expansions:
            return None
        here = at[cell]
        later = time + 1
        reach = high + 1  # the last step at which a move out of this window can arrive
        opens_by = reach if reach < horizon else horizon
        for option in neighbours[cell]:
            there = at[option]
            if not there and option not in parked:
                # Nobody ever stands there: one window, open from 0 for good; arrive next step.
                if arrival.get(option, FOREVER) <= later:
                    continue
                arrival[option] = later
                came_from[option] = key
                left = distance[option]
                total = SCALE * later + inflate * left
                push(frontier, (total if total > floor else floor) * f_unit + left * states + option)
                continue
            free = windows.get(option)
            if free is None:
                free = safe_intervals(table, option)
            count = len(free)
            # The first window still open at time + 1 (windows are sorted and disjoint).
            number = 0 if not count or free[0][1] >= later else bisect.bisect_left(free, later, key=_closes)
            while number < count:
                opens, closes = free[number]
                if opens > opens_by:
                    break
                step = later if later > opens else opens
                last = closes if closes < reach else reach
                # Not through an agent coming the other way along the same edge.
                while (
                    step <= last
                    and (crossing := there.get(step - 1)) is not None
                    and here.get(step) == crossing
                ):
                    step += 1
                if step <= last and number < MAX_WINDOWS:
                    state = option + size * number
                    if arrival.get(state, FOREVER) > step:
                        arrival[state] = step
                        came_from[state] = key
                        left = distance[option]
                        total = SCALE * step + inflate * left
                        push(frontier, (total if total > floor else floor) * f_unit + left * states + state)
                number += 1
    return None


def _unroll(came_from: dict[int, int], arrival: dict[int, int], last: int, size: int) -> Path:
    """Cells per time step along the chain of states, waiting in each until the next move."""
    states: list[int] = []
    state = last
    while state >= 0:
        states.append(state)
        state = came_from[state]
    states.reverse()
    path: Path = []
    for state, following in zip(states, [*states[1:], -1], strict=True):
        leave = arrival[following] - 1 if following >= 0 else len(path)
        path.extend([state % size] * (leave - len(path) + 1))
    return path
