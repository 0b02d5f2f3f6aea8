"""Rules that look across a plant file: references, uniqueness, geometry, loads, reachability.

Every rule is a function `(PlantIndex) -> Iterable[LayoutProblem]`, so each can be read and tested on its
own; `check_plant_file` runs them all and reports every problem at once, each with its field path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

import networkx as nx
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union
from shapely.validation import explain_validity

from layout import schema
from layout.build import RoutingNetwork, home_candidates, routing_network
from layout.geometry import (
    high_bay_footprint,
    polyline_length,
    row_centres,
    saddle_footprint,
    saddle_row_footprint,
    stack_row_footprint,
)
from layout.model import RunwayFrame
from layout.problems import LayoutProblem, PathPart

Path = tuple[PathPart, ...]
CraneStore = schema.FlatStore | schema.IngotStore
TOLERANCE = 1e-6
AREA_TOLERANCE = 1e-4


@dataclass
class PlantIndex:
    """The file plus the lookups most rules need, each built once."""

    file: schema.PlantFile
    problems: list[LayoutProblem] = field(default_factory=list)

    @cached_property
    def network(self) -> RoutingNetwork:
        return routing_network(self.file)

    @property
    def node_points(self) -> dict[str, tuple[float, float]]:
        return self.network.node_points

    @property
    def node_kinds(self) -> dict[str, schema.NodeKind]:
        return self.network.node_kinds

    @cached_property
    def classes(self) -> dict[str, schema.VehicleClass]:
        return {c.id: c for c in self.file.vehicle_classes}

    @cached_property
    def rails(self) -> dict[str, schema.Rail]:
        return {r.id: r for r in self.file.network.rails}

    @property
    def graphs(self) -> dict[str, nx.DiGraph[str]]:
        return self.network.graphs

    @cached_property
    def start_nodes(self) -> dict[str, set[str]]:
        """Where each vehicle class's vehicles stand when the plant starts."""
        starts: dict[str, set[str]] = defaultdict(set)
        for entry in self.file.fleet:
            graph = self.graphs.get(entry.vehicle_class)
            homes = home_candidates(entry, graph, self.node_kinds)
            starts[entry.vehicle_class].update(homes[: entry.count])
        return starts

    def reachable_by(self, vehicle_class: str) -> set[str]:
        """Nodes a class's vehicles can drive to from their homes and back (all its nodes without a fleet)."""
        return self._reachable[vehicle_class]

    @cached_property
    def _reachable(self) -> dict[str, set[str]]:
        reach: dict[str, set[str]] = {}
        for cid, graph in self.graphs.items():
            starts = {n for n in self.start_nodes.get(cid, ()) if n in graph}
            if not starts:
                reach[cid] = set(graph.nodes) if cid not in self.start_nodes else set()
                continue
            there = _closure(graph, starts)
            back = _closure(graph.reverse(copy=False), starts)
            reach[cid] = there & back
        return reach


def _closure(graph: nx.DiGraph[str], starts: set[str]) -> set[str]:
    """Every node reachable from any of `starts` (one search, not one per start)."""
    seen, stack = set(starts), list(starts)
    while stack:
        for nxt in graph.succ[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def problem(path: Path, message: str) -> LayoutProblem:
    return LayoutProblem(path, message)


def _m(value: float) -> str:
    return f"{value:g} m"


def _t(value: float) -> str:
    return f"{value:g} t"


def bays_of(store: CraneStore) -> list[schema.FlatBay | schema.IngotBay]:
    """A crane store's bays, typed as either kind (the two stores differ only in their rows)."""
    return [*store.bays]


def rows_of(bay: schema.FlatBay | schema.IngotBay) -> list[schema.SaddleRow | schema.StackRow]:
    return [*bay.rows]


def crane_stores(index: PlantIndex) -> Iterator[tuple[int, CraneStore]]:
    for s, store in enumerate(index.file.stores):
        if isinstance(store, schema.FlatStore | schema.IngotStore):
            yield s, store


# ---------------------------------------------------------------------------------------------- identity


def unique_ids(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Ids must be unique where something refers to them by id."""
    f = index.file
    groups: list[list[tuple[str, Path]]] = [
        [(s.id, ("stores", i, "id")) for i, s in enumerate(f.stores)],
        [(s.id, ("stations", i, "id")) for i, s in enumerate(f.stations)],
        [(c.id, ("vehicle_classes", i, "id")) for i, c in enumerate(f.vehicle_classes)],
        [(z.id, ("safety_zones", i, "id")) for i, z in enumerate(f.safety_zones)],
        [(r.id, ("network", "rails", i, "id")) for i, r in enumerate(f.network.rails)],
        [(n.id, ("network", "nodes", i, "id")) for i, n in enumerate(f.network.nodes)]
        + [
            (stop.id, ("network", "rails", r, "stops", k, "id"))
            for r, rail in enumerate(f.network.rails)
            for k, stop in enumerate(rail.stops)
        ],
        # Cranes are dispatched by id, so they are unique across the plant.
        [
            (c.id, ("stores", s, "cranes", k, "id"))
            for s, st in crane_stores(index)
            for k, c in enumerate(st.cranes)
        ],
        [
            (h.id, ("stores", s, "bays", b, "handovers", k, "id"))
            for s, st in crane_stores(index)
            for b, bay in enumerate(bays_of(st))
            for k, h in enumerate(bay.handovers)
        ],
    ]
    for s, store in enumerate(f.stores):
        if isinstance(store, schema.HighBayStore):
            continue
        groups.append([(b.id, ("stores", s, "bays", i, "id")) for i, b in enumerate(bays_of(store))])
        groups.append([(r.id, ("stores", s, "runways", i, "id")) for i, r in enumerate(store.runways)])
        for b, bay in enumerate(bays_of(store)):
            groups.append(
                [(r.id, ("stores", s, "bays", b, "rows", i, "id")) for i, r in enumerate(rows_of(bay))]
            )
    for group in groups:
        first: dict[str, Path] = {}
        for ident, path in group:
            if ident in first:
                yield problem(path, f"duplicate id '{ident}' (first used at {_fmt(first[ident])})")
            else:
                first[ident] = path
    vehicle_ids: dict[str, Path] = {}
    for i, entry in enumerate(f.fleet):
        prefix = entry.prefix or entry.vehicle_class.upper()
        for n in range(1, entry.count + 1):
            vid = f"{prefix}-{n:02d}"
            if vid in vehicle_ids:
                yield problem(
                    ("fleet", i, "prefix"), f"vehicle id '{vid}' is also made by {_fmt(vehicle_ids[vid])}"
                )
                break
            vehicle_ids[vid] = ("fleet", i)


def _fmt(path: Path) -> str:
    return LayoutProblem(path, "").where


# ---------------------------------------------------------------------------------------------- references


def known_references(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Everything named by id must exist, and be of a kind that makes sense there."""
    f = index.file
    nodes = index.node_points
    for i, edge in enumerate(f.network.edges):
        for end, key in ((edge.source, "from"), (edge.target, "to")):
            if end not in nodes:
                yield problem(("network", "edges", i, key), f"unknown node '{end}'")
        for k, cid in enumerate(edge.classes or []):
            vclass = index.classes.get(cid)
            if vclass is None:
                yield problem(("network", "edges", i, "classes", k), f"unknown vehicle class '{cid}'")
            elif vclass.kind == "rgv":
                yield problem(
                    ("network", "edges", i, "classes", k), f"'{cid}' is an RGV class; RGVs run on rails only"
                )
    for s, store in crane_stores(index):
        runways = {r.id for r in store.runways}
        bays = {b.id for b in store.bays}
        for c, crane in enumerate(store.cranes):
            if crane.runway not in runways:
                yield problem(
                    ("stores", s, "cranes", c, "runway"),
                    f"unknown runway '{crane.runway}' in store '{store.id}'",
                )
            for k, bay_id in enumerate(crane.bays):
                if bay_id not in bays:
                    yield problem(
                        ("stores", s, "cranes", c, "bays", k), f"unknown bay '{bay_id}' in store '{store.id}'"
                    )
        for b, bay_spec in enumerate(bays_of(store)):
            for h, handover in enumerate(bay_spec.handovers):
                if handover.node not in nodes:
                    yield problem(
                        ("stores", s, "bays", b, "handovers", h, "node"), f"unknown node '{handover.node}'"
                    )
    for s, any_store in enumerate(f.stores):
        if isinstance(any_store, schema.HighBayStore):
            for k, io in enumerate(any_store.io_points):
                if io.node not in nodes:
                    yield problem(("stores", s, "io_points", k, "node"), f"unknown node '{io.node}'")
                if io.aisle > any_store.aisles:
                    yield problem(
                        ("stores", s, "io_points", k, "aisle"),
                        f"aisle {io.aisle} does not exist (the store has {any_store.aisles})",
                    )
    for i, station in enumerate(f.stations):
        for k, node in enumerate(station.handovers):
            if node not in nodes:
                yield problem(("stations", i, "handovers", k), f"unknown node '{node}'")
        for k, cid in enumerate(station.served_by or []):
            if cid not in index.classes:
                yield problem(("stations", i, "served_by", k), f"unknown vehicle class '{cid}'")
    for i, vclass in enumerate(f.vehicle_classes):
        if vclass.rail is not None and vclass.rail not in index.rails:
            yield problem(("vehicle_classes", i, "rail"), f"unknown rail '{vclass.rail}'")
    for i, entry in enumerate(f.fleet):
        entry_class = index.classes.get(entry.vehicle_class)
        if entry_class is None:
            yield problem(("fleet", i, "class"), f"unknown vehicle class '{entry.vehicle_class}'")
            continue
        graph = index.graphs.get(entry_class.id)
        for k, home in enumerate(entry.homes or []):
            if home not in nodes:
                yield problem(("fleet", i, "homes", k), f"unknown node '{home}'")
            elif graph is not None and home not in graph:
                yield problem(
                    ("fleet", i, "homes", k),
                    f"node '{home}' is not on the network of class '{entry_class.id}'",
                )


# ---------------------------------------------------------------------------------------------- geometry


def valid_outlines(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Outlines must be simple polygons with an area."""
    f = index.file
    outlines: list[tuple[Path, list[tuple[float, float]]]] = [(("plant", "outline"), f.plant.outline)]
    for s, store in crane_stores(index):
        outlines += [
            (("stores", s, "bays", b, "outline"), bay.outline) for b, bay in enumerate(bays_of(store))
        ]
    outlines += [(("stations", i, "outline"), st.outline) for i, st in enumerate(f.stations) if st.outline]
    outlines += [(("safety_zones", i, "outline"), z.outline) for i, z in enumerate(f.safety_zones)]
    for path, outline in outlines:
        polygon = Polygon(outline)
        if not polygon.is_valid:
            yield problem(path, f"not a simple polygon: {explain_validity(polygon)}")
        elif polygon.area <= AREA_TOLERANCE:
            yield problem(path, "the outline has no area")


def _polygon(outline: list[tuple[float, float]]) -> Polygon:
    polygon = Polygon(outline)
    return polygon if polygon.is_valid else polygon.buffer(0)


def store_footprints(index: PlantIndex) -> list[tuple[Path, Polygon]]:
    footprints: list[tuple[Path, Polygon]] = []
    for s, store in enumerate(index.file.stores):
        if isinstance(store, schema.HighBayStore):
            footprints.append((("stores", s), high_bay_footprint(store)))
        else:
            footprints += [
                (("stores", s, "bays", b), _polygon(bay.outline)) for b, bay in enumerate(bays_of(store))
            ]
    return footprints


def no_overlaps(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Bays (of any store) and high-bay racks may touch but not overlap."""
    footprints = store_footprints(index)
    tree = STRtree([fp for _, fp in footprints])
    for i, (path, polygon) in enumerate(footprints):
        for hit in tree.query(polygon, predicate="intersects"):
            j = int(hit)
            if j <= i:
                continue
            overlap = polygon.intersection(footprints[j][1]).area
            if overlap > AREA_TOLERANCE:
                yield problem(footprints[j][0], f"overlaps {_fmt(path)} by {overlap:.2f} m²")


def inside_plant(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Stores, stations and network nodes lie within the plant outline."""
    outline = _polygon(index.file.plant.outline).buffer(TOLERANCE)
    for path, footprint in store_footprints(index):
        if footprint.is_empty:
            continue  # a degenerate outline; valid_outlines reports it
        if not outline.contains(footprint):
            yield problem(path, "lies (partly) outside the plant outline")
    for i, node in enumerate(index.file.network.nodes):
        if not outline.contains(Point(node.at)):
            yield problem(
                ("network", "nodes", i, "at"), f"node '{node.id}' at {node.at} is outside the plant outline"
            )
    for i, station in enumerate(index.file.stations):
        if (
            station.outline
            and Polygon(station.outline).is_valid
            and not outline.contains(Polygon(station.outline))
        ):
            yield problem(("stations", i, "outline"), "lies (partly) outside the plant outline")
    for r, rail in enumerate(index.file.network.rails):
        if not outline.contains(LineString(rail.path)):
            yield problem(
                ("network", "rails", r, "path"), f"rail '{rail.id}' runs (partly) outside the plant outline"
            )


def positions_inside_bays(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Every saddle and stack position and every handover lies within its bay; rows of a bay do not overlap."""
    for s, store in crane_stores(index):
        for b, bay in enumerate(bays_of(store)):
            outline = _polygon(bay.outline).buffer(TOLERANCE)
            rows: list[Polygon] = []
            for r, row in enumerate(rows_of(bay)):
                path: Path = ("stores", s, "bays", b, "rows", r)
                footprint = (
                    saddle_row_footprint(row)
                    if isinstance(row, schema.SaddleRow)
                    else stack_row_footprint(row)
                )
                rows.append(footprint)
                if outline.contains(footprint):
                    continue
                if isinstance(row, schema.SaddleRow):
                    outside = [
                        i
                        for i in range(1, row.positions + 1)
                        if not outline.contains(saddle_footprint(row, i))
                    ]
                    shown = ", ".join(f"P{i:02d}" for i in outside[:5]) + (" ..." if len(outside) > 5 else "")
                    yield problem(
                        path,
                        f"{len(outside)} position(s) of row '{row.id}' lie outside bay '{bay.id}': {shown}",
                    )
                else:
                    yield problem(path, f"stack positions of row '{row.id}' lie outside bay '{bay.id}'")
            for h, handover in enumerate(bay.handovers):
                point = index.node_points.get(handover.node)
                if point is not None and not outline.contains(Point(point)):
                    yield problem(
                        ("stores", s, "bays", b, "handovers", h, "node"),
                        f"node '{handover.node}' at {point} is not inside bay '{bay.id}'",
                    )
            tree = STRtree(rows)
            for i, footprint in enumerate(rows):
                for hit in tree.query(footprint, predicate="intersects"):
                    j = int(hit)
                    if j > i and footprint.intersection(rows[j]).area > AREA_TOLERANCE:
                        yield problem(("stores", s, "bays", b, "rows", j), f"overlaps row '{bay.rows[i].id}'")


def rails_and_edges(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Edges have a length no shorter than their geometry; rail stops lie on the rail, apart."""
    nodes = index.node_points
    seen: dict[tuple[str, str], int] = {}
    for i, edge in enumerate(index.file.network.edges):
        directions = [(edge.source, edge.target)] + ([(edge.target, edge.source)] if edge.two_way else [])
        for pair in directions:
            if pair in seen:
                yield problem(
                    ("network", "edges", i),
                    f"a second edge from '{pair[0]}' to '{pair[1]}' (the first is network.edges[{seen[pair]}])",
                )
                break
        for pair in directions:
            seen.setdefault(pair, i)
        if edge.source not in nodes or edge.target not in nodes:
            continue
        if edge.source == edge.target:
            yield problem(("network", "edges", i), f"edge from '{edge.source}' to itself")
            continue
        geometric = polyline_length([nodes[edge.source], *edge.via, nodes[edge.target]])
        if geometric <= TOLERANCE and edge.length is None:
            yield problem(
                ("network", "edges", i), f"nodes '{edge.source}' and '{edge.target}' are at the same place"
            )
        elif edge.length is not None and edge.length < geometric - 1e-3:
            yield problem(
                ("network", "edges", i, "length"),
                f"length {_m(edge.length)} is shorter than the drawn path between its nodes ({geometric:.3f} m)",
            )
    for r, rail in enumerate(index.file.network.rails):
        length = polyline_length(rail.path)
        stops = sorted(enumerate(rail.stops), key=lambda item: item[1].at)
        for k, stop in stops:
            if stop.at > length + TOLERANCE:
                yield problem(
                    ("network", "rails", r, "stops", k, "at"),
                    f"{_m(stop.at)} is beyond the end of the rail ({length:.2f} m)",
                )
        for (_, a), (k, b) in pairwise(stops):
            if b.at - a.at <= TOLERANCE:
                yield problem(
                    ("network", "rails", r, "stops", k, "at"),
                    f"stop '{b.id}' is at the same place as '{a.id}'",
                )


# ---------------------------------------------------------------------------------------------- coils, loads, cranes


def saddles_fit_bands(index: PlantIndex) -> Iterable[LayoutProblem]:
    """A saddle holds the widest coil of its row's band; neighbouring coils of the largest OD do not touch."""
    for s, store in enumerate(index.file.stores):
        if isinstance(store, schema.FlatStore):
            for b, bay in enumerate(store.bays):
                for r, row in enumerate(bay.rows):
                    path: Path = ("stores", s, "bays", b, "rows", r)
                    if row.saddle_length < row.width_band.max:
                        yield problem(
                            (*path, "saddle_length"),
                            f"saddle length {_m(row.saddle_length)} is shorter than the widest coil of the width band ({_m(row.width_band.max)})",
                        )
                    if row.pitch < row.od_band.max:
                        yield problem(
                            (*path, "pitch"),
                            f"pitch {_m(row.pitch)} is less than the largest outer diameter of the band ({_m(row.od_band.max)}): neighbouring coils would touch",
                        )
                    if row.cooling_positions != "all":
                        for k, position in enumerate(row.cooling_positions):
                            if position > row.positions:
                                yield problem(
                                    (*path, "cooling_positions", k),
                                    f"position {position} does not exist (the row has {row.positions})",
                                )
        elif isinstance(store, schema.IngotStore):
            for b, ingot_bay in enumerate(store.bays):
                for r, stack_row in enumerate(ingot_bay.rows):
                    if stack_row.pitch < stack_row.stack_length:
                        yield problem(
                            ("stores", s, "bays", b, "rows", r, "pitch"),
                            f"pitch {_m(stack_row.pitch)} is less than the stack length ({_m(stack_row.stack_length)}): stacks would overlap",
                        )
        elif isinstance(store, schema.HighBayStore):
            cell = store.cell
            if cell.depth < store.width_band.max:
                yield problem(
                    ("stores", s, "cell", "depth"),
                    f"cell depth {_m(cell.depth)} is less than the widest coil ({_m(store.width_band.max)})",
                )
            for dim in ("width", "height"):
                size = getattr(cell, dim)
                if size < store.od_band.max:
                    yield problem(
                        ("stores", s, "cell", dim),
                        f"cell {dim} {_m(size)} is less than the largest outer diameter ({_m(store.od_band.max)})",
                    )


def floor_loads(index: PlantIndex) -> Iterable[LayoutProblem]:
    """The heaviest stack a row allows must not load the floor beyond the bay's limit (t/m²)."""
    for s, store in crane_stores(index):
        for b, bay in enumerate(bays_of(store)):
            for r, row in enumerate(rows_of(bay)):
                if isinstance(row, schema.SaddleRow):
                    # A ground coil carries half of each of the two upper coils beside it.
                    weight = row.max_coil_weight * row.tiers
                    area = row.pitch * row.saddle_length
                else:
                    weight, area = row.max_weight, row.stack_length * row.stack_width
                load = weight / area
                if load > bay.floor_load_limit + TOLERANCE:
                    yield problem(
                        ("stores", s, "bays", b, "rows", r),
                        f"floor load up to {load:.1f} t/m² exceeds bay '{bay.id}' limit of {bay.floor_load_limit:g} t/m²",
                    )


def crane_loads(index: PlantIndex) -> Iterable[LayoutProblem]:
    """A crane lifts the heaviest coil any row of its bays allows."""
    for s, store in enumerate(index.file.stores):
        if isinstance(store, schema.FlatStore):
            heaviest = {
                bay.id: max((row.max_coil_weight for row in bay.rows), default=0.0) for bay in store.bays
            }
            for c, crane in enumerate(store.cranes):
                need = max((heaviest.get(b, 0.0) for b in crane.bays), default=0.0)
                if crane.safe_working_load < need:
                    yield problem(
                        ("stores", s, "cranes", c, "safe_working_load"),
                        f"{_t(crane.safe_working_load)} is below the heaviest coil its bays allow ({_t(need)})",
                    )
        elif (
            isinstance(store, schema.HighBayStore) and store.stacker.safe_working_load < store.cell_load_limit
        ):
            yield problem(
                ("stores", s, "stacker", "safe_working_load"),
                f"{_t(store.stacker.safe_working_load)} is below the cell load limit ({_t(store.cell_load_limit)})",
            )


def cranes_cover_bays(index: PlantIndex) -> Iterable[LayoutProblem]:
    """The centre of every position, and every handover, of a bay is under a runway serving that bay."""
    for s, store in crane_stores(index):
        runways = {r.id: RunwayFrame(r) for r in store.runways}
        reach: dict[str, list[Polygon]] = defaultdict(list)
        for crane in store.cranes:
            if crane.runway in runways:
                for bay_id in crane.bays:
                    reach[bay_id].append(runways[crane.runway].reach().buffer(TOLERANCE))
        for b, bay in enumerate(bays_of(store)):
            path: Path = ("stores", s, "bays", b)
            if not reach[bay.id]:
                if bay.rows:
                    yield problem(path, f"no crane serves bay '{bay.id}'")
                continue
            covered = unary_union(reach[bay.id])
            for r, row in enumerate(rows_of(bay)):
                centres = _row_points(row)
                line = LineString(centres) if len(centres) > 1 else Point(centres[0])
                if not covered.contains(line):
                    yield problem(
                        (*path, "rows", r),
                        f"row '{row.id}' is not fully under the runway of a crane serving bay '{bay.id}'",
                    )
            for h, handover in enumerate(bay.handovers):
                point = index.node_points.get(handover.node)
                if point and not covered.contains(Point(point)):
                    yield problem(
                        (*path, "handovers", h),
                        f"handover node '{handover.node}' is out of reach of the bay's cranes",
                    )


def _row_points(row: schema.SaddleRow | schema.StackRow) -> list[tuple[float, float]]:
    return row_centres(row.origin, row.heading_deg, row.positions, row.pitch)


def runways_hold_cranes(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Cranes on one runway start inside it, in a line at least the minimum distance apart."""
    for s, store in crane_stores(index):
        for runway in store.runways:
            length = RunwayFrame(runway).length
            if length <= TOLERANCE:
                yield problem(
                    ("stores", s, "runways", store.runways.index(runway), "end"), "runway has no length"
                )
                continue
            on_runway = sorted(
                ((c, crane) for c, crane in enumerate(store.cranes) if crane.runway == runway.id),
                key=lambda item: item[1].home,
            )
            for c, crane in on_runway:
                if crane.home > length + TOLERANCE:
                    yield problem(
                        ("stores", s, "cranes", c, "home"),
                        f"{_m(crane.home)} is beyond the runway's end ({length:.2f} m)",
                    )
            for (_, a), (c, b) in pairwise(on_runway):
                if b.home - a.home < runway.min_crane_distance - TOLERANCE:
                    yield problem(
                        ("stores", s, "cranes", c, "home"),
                        f"crane '{b.id}' starts {b.home - a.home:.2f} m from '{a.id}', closer than the runway's minimum distance ({_m(runway.min_crane_distance)})",
                    )


def io_points_per_aisle(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Each high-bay aisle has exactly one input/output point."""
    for s, store in enumerate(index.file.stores):
        if isinstance(store, schema.HighBayStore):
            seen: dict[int, int] = {}
            for k, io in enumerate(store.io_points):
                if io.aisle in seen:
                    yield problem(
                        ("stores", s, "io_points", k, "aisle"),
                        f"aisle {io.aisle} already has an I/O point (io_points[{seen[io.aisle]}])",
                    )
                seen.setdefault(io.aisle, k)
            missing = [a for a in range(1, store.aisles + 1) if a not in seen]
            if missing:
                yield problem(
                    ("stores", s, "io_points"), f"aisle(s) {', '.join(map(str, missing))} have no I/O point"
                )


# ---------------------------------------------------------------------------------------------- reachability


def stations_reachable(index: PlantIndex) -> Iterable[LayoutProblem]:
    """A station, bay handover or high-bay I/O point is reachable by some vehicle class allowed to serve it."""
    if not index.file.vehicle_classes:
        return
    for i, station in enumerate(index.file.stations):
        allowed = station.served_by if station.served_by is not None else list(index.classes)
        if _served(index, station.handovers, allowed):
            continue
        who = "any vehicle class" if station.served_by is None else f"its classes ({', '.join(allowed)})"
        yield problem(
            ("stations", i), f"station '{station.id}' cannot be reached (and left) by {who} from their homes"
        )
    every = list(index.classes)
    for s, store in enumerate(index.file.stores):
        handovers: list[tuple[Path, str]]
        if isinstance(store, schema.HighBayStore):
            handovers = [(("stores", s, "io_points", k), io.node) for k, io in enumerate(store.io_points)]
        else:
            handovers = [
                (("stores", s, "bays", b, "handovers", h), ho.node)
                for b, bay in enumerate(bays_of(store))
                for h, ho in enumerate(bay.handovers)
            ]
        for path, node in handovers:
            if node in index.node_points and not _served(index, [node], every):
                yield problem(
                    path, f"node '{node}' cannot be reached (and left) by any vehicle class from their homes"
                )


def _served(index: PlantIndex, nodes: list[str], classes: list[str]) -> bool:
    return any(node in index.reachable_by(cid) for cid in classes if cid in index.graphs for node in nodes)


def fleet_fits_homes(index: PlantIndex) -> Iterable[LayoutProblem]:
    """Each vehicle starts on a home of its own, far enough from the others that footprints do not touch."""
    used: dict[str, str] = {}
    placed: list[tuple[str, tuple[float, float], float, str]] = []  # vehicle, point, half size, where
    for i, entry in enumerate(index.file.fleet):
        vclass = index.classes.get(entry.vehicle_class)
        if vclass is None:
            continue
        homes = home_candidates(entry, index.graphs.get(entry.vehicle_class), index.node_kinds)
        if len(set(homes)) < entry.count:
            source = "homes listed" if entry.homes is not None else "parking nodes on its network"
            yield problem(
                ("fleet", i, "count"), f"{entry.count} vehicles but only {len(set(homes))} {source}"
            )
        half = max(vclass.footprint.length, vclass.footprint.width) / 2
        for home in homes[: entry.count]:
            if home in used and used[home] != f"fleet[{i}]":
                yield problem(("fleet", i), f"home '{home}' is also a home of {used[home]}")
                break
            used[home] = f"fleet[{i}]"
            point = index.node_points.get(home)
            if point is None:
                continue
            for other, other_point, other_half, where in placed:
                gap = math.dist(point, other_point)
                if other != home and gap < half + other_half - TOLERANCE:
                    yield problem(
                        ("fleet", i),
                        f"home '{home}' is {gap:.1f} m from home '{other}' ({where}); vehicles there would overlap (need {half + other_half:.1f} m)",
                    )
            placed.append((home, point, half, f"fleet[{i}]"))


def rgv_rails_used(index: PlantIndex) -> Iterable[LayoutProblem]:
    """An RGV class's rail must have track to run on."""
    for i, vclass in enumerate(index.file.vehicle_classes):
        rail = index.rails.get(vclass.rail or "")
        if rail is not None and polyline_length(rail.path) <= TOLERANCE:
            yield problem(("vehicle_classes", i, "rail"), f"rail '{rail.id}' has no length")


RULES: tuple[Callable[[PlantIndex], Iterable[LayoutProblem]], ...] = (
    unique_ids,
    known_references,
    valid_outlines,
    no_overlaps,
    inside_plant,
    positions_inside_bays,
    rails_and_edges,
    saddles_fit_bands,
    floor_loads,
    crane_loads,
    cranes_cover_bays,
    runways_hold_cranes,
    io_points_per_aisle,
    stations_reachable,
    fleet_fits_homes,
    rgv_rails_used,
)


def check_plant_file(plant_file: schema.PlantFile) -> list[LayoutProblem]:
    """Every cross-field problem in the file."""
    return check(PlantIndex(plant_file))


def check(index: PlantIndex) -> list[LayoutProblem]:
    return [p for rule in RULES for p in rule(index)]
