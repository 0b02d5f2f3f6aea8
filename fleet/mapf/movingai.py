"""Moving AI benchmark text formats (`.map` grids and `.scen` agent lists), parsed from text, no file I/O.

`.map`: "type octile / height H / width W / map" then H rows of W characters; '.' and 'G' are free,
anything else ('@', 'T', ...) blocked. MAPF uses the grid 4-connected whatever the header says.
`.scen`: "version 1" then one agent per line, tab-separated: bucket, map, width, height, start x, start y,
goal x, goal y, optimal octile length; x is the column and y the row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fleet.mapf.grid import Cell, MapfInputError

FREE = frozenset(".G")


def parse_map(text: str, name: str = "map") -> npt.NDArray[np.bool_]:
    """Occupancy grid (True = blocked) of a Moving AI `.map` text."""
    lines = text.splitlines()
    header: dict[str, str] = {}
    for number, line in enumerate(lines):
        key, _, value = line.strip().partition(" ")
        if key == "map":
            rows = lines[number + 1 :]
            break
        header[key] = value.strip()
    else:
        raise MapfInputError(f"{name}: no 'map' line")
    try:
        height, width = int(header["height"]), int(header["width"])
    except (KeyError, ValueError):
        raise MapfInputError(f"{name}: header needs integer 'height' and 'width' lines") from None
    rows = [row.rstrip("\r\n") for row in rows if row.strip()]
    if len(rows) != height:
        raise MapfInputError(f"{name}: header says height {height}, found {len(rows)} rows")
    for number, row in enumerate(rows):
        if len(row) != width:
            raise MapfInputError(f"{name}: row {number} has {len(row)} characters, header says width {width}")
    return np.array([[char not in FREE for char in row] for row in rows], dtype=bool)


@dataclass(frozen=True, slots=True)
class ScenarioAgent:
    start: Cell
    goal: Cell


def parse_scenario(text: str, name: str = "scen") -> list[ScenarioAgent]:
    """Agents of a Moving AI `.scen` text, in file order (the literature's "N agents" = the first N)."""
    agents: list[ScenarioAgent] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("version"):
            continue
        fields = line.split("\t")
        if len(fields) < 8:
            raise MapfInputError(f"{name} line {number}: expected 9 tab-separated fields, got {len(fields)}")
        try:
            start_x, start_y, goal_x, goal_y = (int(field) for field in fields[4:8])
        except ValueError:
            raise MapfInputError(f"{name} line {number}: start/goal coordinates must be integers") from None
        agents.append(ScenarioAgent(start=(start_y, start_x), goal=(goal_y, goal_x)))
    return agents
