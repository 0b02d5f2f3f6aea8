"""Hypothesis strategies for random plant networks, shared by the layout and fleet property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

GRID = 40  # nodes sit on a 40 x 40 lattice of 4.5 m cells: distinct places, never on top of each other


@st.composite
def scattered_network(draw: st.DrawFn, max_nodes: int) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """Nodes at distinct random places and a set of node pairs (no loops, at most one pair per two nodes)."""
    count = draw(st.integers(min_value=2, max_value=max_nodes))
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, GRID - 1), st.integers(0, GRID - 1)),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    nodes = [{"id": f"N{i}", "at": [5.0 + x * 4.5, 5.0 + y * 4.5]} for i, (x, y) in enumerate(cells)]
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)).filter(lambda p: p[0] != p[1]),
            max_size=3 * count,
            unique_by=lambda p: (min(p), max(p)),
        )
    )
    return nodes, pairs
