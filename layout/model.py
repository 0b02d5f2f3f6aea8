"""The plant as the rest of coilyard reads it.

Specs written in the file (a crane's axes, a row's bands, a vehicle class) are the frozen schema objects
themselves: immutable and already checked. What the file only implies is derived here as plain
dataclasses: every saddle position, rack cell and stack position with its id and coordinates, the cranes
of each high-bay aisle, the vehicles of each fleet entry, and one routing graph per vehicle class.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

import networkx as nx
from shapely.geometry import LineString, Point, Polygon

from layout import schema


class Tier(StrEnum):
    GROUND = "G"
    UPPER = "U"


@dataclass(frozen=True, slots=True)
class SaddlePosition:
    """A place for one coil in a flat store. An upper position rests on its two `supports`."""

    id: str
    store: str
    bay: str
    row: schema.SaddleRow
    index: int
    tier: Tier
    x: float
    y: float
    supports: tuple[str, str] | None
    cooling: bool


@dataclass(frozen=True, slots=True)
class StackPosition:
    """A floor place for a stack of ingots or slabs."""

    id: str
    store: str
    bay: str
    row: schema.StackRow
    index: int
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class RackCell:
    """A high-bay cell; `along` and `height` are the stacker crane's coordinates from the I/O point."""

    id: str
    store: str
    aisle: int
    side: str
    column: int
    level: int
    x: float
    y: float
    along: float
    height: float


@dataclass(frozen=True, slots=True)
class StackerCrane:
    id: str
    store: str
    aisle: int
    spec: schema.StackerCrane
    io_node: str | None
    rack_length: float
    rack_height: float


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: str
    vehicle_class: schema.VehicleClass
    home: str


@dataclass(frozen=True, slots=True)
class RunwayFrame:
    """Runway coordinates: `along` the bridge travel from start, `across` the trolley travel from the axis."""

    runway: schema.Runway

    @property
    def length(self) -> float:
        (x0, y0), (x1, y1) = self.runway.start, self.runway.end
        return math.hypot(x1 - x0, y1 - y0)

    def to_runway(self, x: float, y: float) -> tuple[float, float]:
        (x0, y0), (x1, y1) = self.runway.start, self.runway.end
        ux, uy = (x1 - x0) / self.length, (y1 - y0) / self.length
        dx, dy = x - x0, y - y0
        return dx * ux + dy * uy, -dx * uy + dy * ux

    def reach(self) -> Polygon:
        """The floor area a crane hook on this runway can reach."""
        return LineString([self.runway.start, self.runway.end]).buffer(self.runway.span / 2, cap_style="flat")


@dataclass(frozen=True, slots=True)
class RoutingEdge:
    """A directed edge as the router sees it (one per direction of a two-way edge)."""

    source: str
    target: str
    length: float
    speed_limit: float | None
    points: tuple[tuple[float, float], ...]
    rail: str | None
    zones: frozenset[str]


@dataclass
class Plant:
    """A checked plant: read-only for everything above the layout package."""

    file: schema.PlantFile
    saddle_positions: dict[str, SaddlePosition]
    stack_positions: dict[str, StackPosition]
    rack_cells: dict[str, RackCell]
    stacker_cranes: dict[str, StackerCrane]
    vehicles: dict[str, Vehicle]
    node_points: dict[str, tuple[float, float]]
    node_kinds: dict[str, schema.NodeKind]
    edges: list[RoutingEdge]
    graphs: dict[str, nx.DiGraph[str]] = field(repr=False)

    @property
    def id(self) -> str:
        return self.file.plant.id

    @property
    def name(self) -> str:
        return self.file.plant.name or self.file.plant.id

    @property
    def stores(self) -> list[schema.FlatStore | schema.IngotStore | schema.HighBayStore]:
        return list(self.file.stores)

    @property
    def stations(self) -> list[schema.Station]:
        return list(self.file.stations)

    @property
    def vehicle_classes(self) -> dict[str, schema.VehicleClass]:
        return {c.id: c for c in self.file.vehicle_classes}

    @property
    def safety_zones(self) -> list[schema.SafetyZone]:
        return list(self.file.safety_zones)

    def overhead_cranes(self) -> Iterator[tuple[schema.FlatStore | schema.IngotStore, schema.OverheadCrane]]:
        for store in self.file.stores:
            if not isinstance(store, schema.HighBayStore):
                for crane in store.cranes:
                    yield store, crane

    def graph(self, vehicle_class: str) -> nx.DiGraph[str]:
        return self.graphs[vehicle_class]

    @cached_property
    def zone_polygons(self) -> dict[str, Polygon]:
        return {z.id: Polygon(z.outline) for z in self.file.safety_zones}

    def node_point(self, node: str) -> Point:
        return Point(self.node_points[node])
