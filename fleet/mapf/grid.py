"""A 4-connected grid as a graph of free cells numbered 0..F-1, with neighbour lists the planners walk.

Cells are `(row, col)`. The planners work on the dense cell numbers (plain Python ints and lists: indexing
those is several times faster than indexing numpy arrays one element at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Cell = tuple[int, int]


class MapfInputError(ValueError):
    """A MAPF instance that cannot be planned: a start or goal off the grid, blocked or shared."""


@dataclass(frozen=True, slots=True)
class GridGraph:
    """Free cells of an occupancy grid (True = blocked) and their up/down/left/right neighbours."""

    height: int
    width: int
    cells: tuple[Cell, ...]  # cell number -> (row, col)
    neighbours: tuple[tuple[int, ...], ...]  # cell number -> neighbouring cell numbers
    number_of: npt.NDArray[np.int32]  # (row, col) -> cell number, -1 where blocked

    @classmethod
    def from_occupancy(cls, blocked: npt.ArrayLike) -> GridGraph:
        grid = np.asarray(blocked, dtype=bool)
        if grid.ndim != 2:
            raise MapfInputError(f"occupancy grid must be 2-D, got shape {grid.shape}")
        height, width = grid.shape
        number_of = np.full((height, width), -1, dtype=np.int32)
        rows, cols = np.nonzero(~grid)
        number_of[rows, cols] = np.arange(rows.size, dtype=np.int32)
        padded = np.full((height + 2, width + 2), -1, dtype=np.int32)
        padded[1:-1, 1:-1] = number_of
        # Up, left, right, down of every free cell, read off the padded number grid in one go.
        around = np.stack(
            [
                padded[rows, cols + 1],
                padded[rows + 1, cols],
                padded[rows + 1, cols + 2],
                padded[rows + 2, cols + 1],
            ],
            axis=1,
        ).tolist()
        neighbours = tuple(tuple(n for n in row if n >= 0) for row in around)
        cells = tuple(zip(rows.tolist(), cols.tolist(), strict=True))
        return cls(height, width, cells, neighbours, number_of)

    @property
    def size(self) -> int:
        return len(self.cells)

    def number(self, cell: Cell, what: str = "cell") -> int:
        row, col = cell
        if not (0 <= row < self.height and 0 <= col < self.width):
            raise MapfInputError(f"{what} {cell} is outside the {self.height}x{self.width} grid")
        number = int(self.number_of[row, col])
        if number < 0:
            raise MapfInputError(f"{what} {cell} is a blocked cell")
        return number

    def numbers(self, cells: Sequence[Cell], what: str) -> list[int]:
        numbers = [self.number(cell, f"{what} of agent {agent}") for agent, cell in enumerate(cells)]
        seen: dict[int, int] = {}
        for agent, number in enumerate(numbers):
            if number in seen:
                raise MapfInputError(
                    f"agents {seen[number]} and {agent} share the {what} cell {self.cells[number]}"
                )
            seen[number] = agent
        return numbers
