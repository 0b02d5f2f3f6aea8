"""LaCAM: lazy constraints addition search over whole configurations (Okumura, AAAI 2023).

A depth-first search whose nodes are configurations (one cell per agent). Successors are generated
lazily: PIBT proposes the next configuration, and each time a node is revisited a low-level tree adds
one more constraint ("agent i goes to cell v next step") so that PIBT proposes something else. Since
every combination of constraints is eventually tried, the search is complete: it finds a solution when
one exists, given time. In practice PIBT's first proposal is nearly always taken, so this runs at PIBT
speed and only searches where PIBT would livelock (two agents in a one-wide aisle in the wrong order).

Revisiting a known configuration pushes its node again (LaCAM*'s reinsertion), with a small chance of
restarting from the start instead, which un-sticks the search from a basin it keeps cycling in.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleet.mapf.pibt import Pibt

Config = tuple[int, ...]
RESTART_RATE = 0.001


@dataclass(slots=True)
class _Constraint:
    """A node of the low-level tree: the first `len(pins)` agents of the node's order, pinned to cells."""

    pins: tuple[tuple[int, int], ...]


@dataclass(slots=True)
class _Node:
    config: Config
    parent: _Node | None
    priorities: list[float]
    order: list[int]
    tree: deque[_Constraint] = field(default_factory=lambda: deque([_Constraint(())]))


def _ordered(priorities: Sequence[float]) -> list[int]:
    return sorted(range(len(priorities)), key=priorities.__getitem__, reverse=True)


def lacam(
    pibt: Pibt,
    *,
    starts: Sequence[int],
    goals: Sequence[int],
    initial_priorities: Sequence[float],
    should_stop: Callable[[], bool],
    seed: int = 0,
) -> list[Config] | None:
    """Configurations from the starts to the goals (one per time step), or None if stopped first."""
    rng = random.Random(seed)
    neighbours, target = pibt.neighbours, tuple(goals)
    start = _Node(tuple(starts), None, list(initial_priorities), _ordered(initial_priorities))
    explored: dict[Config, _Node] = {start.config: start}
    stack = [start]
    checks = 0
    while stack:
        checks += 1
        if checks % 8 == 0 and should_stop():  # one step of 1,000 agents takes milliseconds
            return None
        node = stack[-1]
        if node.config == target:
            configs: list[Config] = []
            walk: _Node | None = node
            while walk is not None:
                configs.append(walk.config)
                walk = walk.parent
            return configs[::-1]
        if not node.tree:
            stack.pop()
            continue
        constraint = node.tree.popleft()
        depth = len(constraint.pins)
        if depth < len(starts):
            agent = node.order[depth]
            cell = node.config[agent]
            options = [*neighbours[cell], cell]
            rng.shuffle(options)
            node.tree.extend(_Constraint((*constraint.pins, (agent, option))) for option in options)
        there = pibt.step(node.config, node.order, constraint.pins)
        if there is None:
            continue
        config = tuple(there)
        known = explored.get(config)
        if known is not None:
            stack.append(start if rng.random() < RESTART_RATE else known)
            continue
        priorities = [
            priority - int(priority) if cell == goal else priority + 1.0
            for priority, cell, goal in zip(node.priorities, config, goals, strict=True)
        ]
        child = _Node(config, node, priorities, _ordered(priorities))
        explored[config] = child
        stack.append(child)
    return None
