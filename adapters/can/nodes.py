"""The shared node table: route node IDs <-> the small integers a PLC gateway knows them by.

Frames carry a 16-bit node index, not the plant's node names, so both sides need the same table. Built
from a plant, it numbers the route nodes (network nodes and rail stops) 1..N in sorted order of their IDs;
0 means "not at a node". `rows()` is what gets exported to the PLC programmers; a plant that changes its
node list needs the table written to the gateways again (or an explicit table given as `node_map`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from layout import Plant

MAX_INDEX = 0xFFFF


class NodeTableError(ValueError):
    """A node table that cannot be used: a duplicate or out-of-range index, or an unknown node."""


@dataclass(frozen=True)
class NodeMap:
    index_of: Mapping[str, int]
    node_of: Mapping[int, str]

    @classmethod
    def from_plant(cls, plant: Plant) -> NodeMap:
        return cls.from_mapping({node: i for i, node in enumerate(sorted(plant.node_points), start=1)})

    @classmethod
    def from_mapping(cls, table: Mapping[str, int]) -> NodeMap:
        node_of: dict[int, str] = {}
        for node, index in table.items():
            if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= MAX_INDEX:
                raise NodeTableError(f"node table: '{node}' has index {index!r}; indexes are 1..{MAX_INDEX}")
            if index in node_of:
                raise NodeTableError(
                    f"node table: index {index} is given to both '{node_of[index]}' and '{node}'"
                )
            node_of[index] = node
        return cls(index_of=dict(table), node_of=node_of)

    def index(self, node: str) -> int:
        try:
            return self.index_of[node]
        except KeyError:
            raise NodeTableError(f"route node '{node}' has no index in the CAN node table") from None

    def node(self, index: int) -> str | None:
        """The node of `index`, None for 0 (between nodes) or an index the table does not have."""
        return self.node_of.get(index)

    def rows(self) -> Iterable[tuple[int, str]]:
        """(index, node) in index order: the table to load into the gateways."""
        return sorted(self.node_of.items())
