"""Shortest 4-connected distances to each agent's goal: one breadth-first search per distinct goal.

scipy's csgraph runs the searches in C, batched (about 0.4 ms per goal on a 5,700-cell warehouse, 2 ms on
22,600 cells). Rows are int32; the planners index them through memoryviews, which hand back plain ints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped, unused-ignore]
from scipy.sparse import csgraph  # type: ignore[import-untyped, unused-ignore]

from fleet.mapf.grid import GridGraph

BATCH = 64  # goals per csgraph call: bounds the float64 scratch matrix at 64 x cells


def adjacency(graph: GridGraph) -> sparse.csr_matrix:
    sources = [cell for cell, around in enumerate(graph.neighbours) for _ in around]
    targets = [other for around in graph.neighbours for other in around]
    ones = np.ones(len(sources), dtype=np.int8)
    return sparse.csr_matrix((ones, (sources, targets)), shape=(graph.size, graph.size))


def goal_distances(graph: GridGraph, goals: Sequence[int]) -> npt.NDArray[np.int32]:
    """Matrix [agent, cell] of steps from the cell to the agent's goal; -1 where the goal is unreachable."""
    distinct = sorted(set(goals))
    row_of = {goal: row for row, goal in enumerate(distinct)}
    table = np.empty((len(distinct), graph.size), dtype=np.int32)
    matrix = adjacency(graph)
    for first in range(0, len(distinct), BATCH):
        batch = distinct[first : first + BATCH]
        found = csgraph.shortest_path(matrix, method="D", unweighted=True, indices=batch)
        found[np.isinf(found)] = -1
        table[first : first + len(batch)] = found.astype(np.int32)
    return table[[row_of[goal] for goal in goals]]
