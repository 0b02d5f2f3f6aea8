"""Derive the places, vehicles and routing graphs a checked plant file implies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

import networkx as nx
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon

from layout import schema
from layout.geometry import (
    aisle_centre_across,
    frame_point,
    point_along,
    polyline_length,
    row_centres,
)
from layout.model import (
    Plant,
    RackCell,
    RoutingEdge,
    SaddlePosition,
    StackerCrane,
    StackPosition,
    Tier,
    Vehicle,
)

XY = tuple[float, float]


@dataclass(frozen=True)
class RoutingNetwork:
    """Nodes, directed edges and per-class graphs; built once, shared by the rules and the plant."""

    node_points: dict[str, XY]
    node_kinds: dict[str, schema.NodeKind]
    edges: list[RoutingEdge]
    graphs: dict[str, nx.DiGraph[str]]


def routing_network(plant_file: schema.PlantFile) -> RoutingNetwork:
    node_points, node_kinds = network_nodes(plant_file.network)
    edges = routing_edges(plant_file.network, node_points, plant_file.safety_zones)
    return RoutingNetwork(
        node_points, node_kinds, edges, routing_graphs(plant_file, node_points, node_kinds, edges)
    )


def build_plant(plant_file: schema.PlantFile, network: RoutingNetwork | None = None) -> Plant:
    saddles: dict[str, SaddlePosition] = {}
    stacks: dict[str, StackPosition] = {}
    cells: dict[str, RackCell] = {}
    stackers: dict[str, StackerCrane] = {}
    for store in plant_file.stores:
        if isinstance(store, schema.FlatStore):
            saddles.update((p.id, p) for p in saddle_positions(store))
        elif isinstance(store, schema.IngotStore):
            stacks.update((p.id, p) for p in stack_positions(store))
        else:
            cells.update((c.id, c) for c in rack_cells(store))
            stackers.update((s.id, s) for s in stacker_cranes(store))
    net = network or routing_network(plant_file)
    return Plant(
        file=plant_file,
        saddle_positions=saddles,
        stack_positions=stacks,
        rack_cells=cells,
        stacker_cranes=stackers,
        vehicles={v.id: v for v in vehicles(plant_file, net.graphs, net.node_kinds)},
        node_points=net.node_points,
        node_kinds=net.node_kinds,
        edges=net.edges,
        graphs=net.graphs,
    )


# ---------------------------------------------------------------------------------------------- places


def saddle_position_id(store: str, bay: str, row: str, index: int, tier: Tier) -> str:
    return f"{store}-{bay}-{row}-P{index:02d}-{tier.value}"


def saddle_positions(store: schema.FlatStore) -> Iterable[SaddlePosition]:
    for bay in store.bays:
        for row in bay.rows:
            centres = row_centres(row.origin, row.heading_deg, row.positions, row.pitch)
            cooling = (
                set(range(1, row.positions + 1))
                if row.cooling_positions == "all"
                else set(row.cooling_positions)
            )
            ground_ids = [
                saddle_position_id(store.id, bay.id, row.id, i, Tier.GROUND)
                for i in range(1, len(centres) + 1)
            ]
            for i, (x, y) in enumerate(centres, start=1):
                yield SaddlePosition(
                    ground_ids[i - 1], store.id, bay.id, row, i, Tier.GROUND, x, y, None, i in cooling
                )
            if row.tiers == 2:
                for i in range(1, row.positions):
                    (x0, y0), (x1, y1) = centres[i - 1], centres[i]
                    yield SaddlePosition(
                        saddle_position_id(store.id, bay.id, row.id, i, Tier.UPPER),
                        store.id,
                        bay.id,
                        row,
                        i,
                        Tier.UPPER,
                        (x0 + x1) / 2,
                        (y0 + y1) / 2,
                        (ground_ids[i - 1], ground_ids[i]),
                        False,
                    )


def stack_positions(store: schema.IngotStore) -> Iterable[StackPosition]:
    for bay in store.bays:
        for row in bay.rows:
            for i, (x, y) in enumerate(
                row_centres(row.origin, row.heading_deg, row.positions, row.pitch), start=1
            ):
                yield StackPosition(f"{store.id}-{bay.id}-{row.id}-S{i:02d}", store.id, bay.id, row, i, x, y)


def rack_cell_id(store: str, aisle: int, side: str, column: int, level: int) -> str:
    return f"{store}-A{aisle:02d}-{side}-C{column:03d}-L{level:02d}"


def rack_cells(store: schema.HighBayStore) -> Iterable[RackCell]:
    sides = ("L", "R")[: store.sides]
    for aisle in range(1, store.aisles + 1):
        centre = aisle_centre_across(store, aisle)
        offset = (store.aisle_width + store.cell.depth) / 2
        across_of = {"L": centre + offset, "R": centre - offset}
        for side in sides:
            for column in range(1, store.columns + 1):
                along = (column - 0.5) * store.cell.width
                x, y = frame_point(store.origin, store.heading_deg, along, across_of[side])
                for level in range(1, store.levels + 1):
                    height = (level - 1) * store.cell.height
                    yield RackCell(
                        rack_cell_id(store.id, aisle, side, column, level),
                        store.id,
                        aisle,
                        side,
                        column,
                        level,
                        x,
                        y,
                        along,
                        height,
                    )


def stacker_cranes(store: schema.HighBayStore) -> Iterable[StackerCrane]:
    io_nodes = {p.aisle: p.node for p in store.io_points}
    for aisle in range(1, store.aisles + 1):
        yield StackerCrane(
            f"{store.id}-SC{aisle:02d}",
            store.id,
            aisle,
            store.stacker,
            io_nodes.get(aisle),
            store.columns * store.cell.width,
            store.levels * store.cell.height,
        )


# ---------------------------------------------------------------------------------------------- network


def network_nodes(network: schema.Network) -> tuple[dict[str, XY], dict[str, schema.NodeKind]]:
    points: dict[str, XY] = {n.id: (n.at[0], n.at[1]) for n in network.nodes}
    kinds: dict[str, schema.NodeKind] = {n.id: n.kind for n in network.nodes}
    for rail in network.rails:
        for stop in rail.stops:
            points[stop.id] = point_along(rail.path, stop.at)
            kinds[stop.id] = stop.kind
    return points, kinds


def edge_points(edge: schema.Edge, node_points: dict[str, XY]) -> tuple[XY, ...]:
    return (node_points[edge.source], *((p[0], p[1]) for p in edge.via), node_points[edge.target])


def rail_segments(rail: schema.Rail) -> Iterable[tuple[schema.RailStop, schema.RailStop, tuple[XY, ...]]]:
    """Consecutive stops along a rail with the piece of track between them."""
    stops = sorted(rail.stops, key=lambda s: s.at)
    track = LineString(rail.path)
    for a, b in pairwise(stops):
        inner = [(x, y) for x, y in rail.path if a.at < track.project(Point(x, y)) < b.at]
        yield a, b, (point_along(rail.path, a.at), *inner, point_along(rail.path, b.at))


def routing_edges(
    network: schema.Network, node_points: dict[str, XY], zones: list[schema.SafetyZone]
) -> list[RoutingEdge]:
    """Directed edges of the network and the rails; skips edges whose nodes are unknown (a rule reports them)."""
    drafts: list[tuple[str, str, float, float | None, tuple[XY, ...], str | None]] = []
    for edge in network.edges:
        if edge.source not in node_points or edge.target not in node_points:
            continue
        points = edge_points(edge, node_points)
        length = edge.length if edge.length is not None else polyline_length(points)
        drafts.append((edge.source, edge.target, length, edge.speed_limit, points, None))
        if edge.two_way:
            drafts.append((edge.target, edge.source, length, edge.speed_limit, points[::-1], None))
    for rail in network.rails:
        for a, b, points in rail_segments(rail):
            length = b.at - a.at
            drafts.append((a.id, b.id, length, rail.speed_limit, points, rail.id))
            drafts.append((b.id, a.id, length, rail.speed_limit, points[::-1], rail.id))
    crossed = _zones_crossed([d[4] for d in drafts], zones)
    return [
        RoutingEdge(s, t, length, limit, points, rail, crossed[i])
        for i, (s, t, length, limit, points, rail) in enumerate(drafts)
    ]


def _zones_crossed(paths: list[tuple[XY, ...]], zones: list[schema.SafetyZone]) -> list[frozenset[str]]:
    if not zones or not paths:
        return [frozenset()] * len(paths)
    lines = [LineString(p) for p in paths]
    tree = STRtree(lines)
    hits: list[set[str]] = [set() for _ in paths]
    for zone in zones:
        for index in tree.query(Polygon(zone.outline), predicate="intersects"):
            hits[int(index)].add(zone.id)
    return [frozenset(h) for h in hits]


def routing_graphs(
    plant_file: schema.PlantFile,
    node_points: dict[str, XY],
    node_kinds: dict[str, schema.NodeKind],
    edges: list[RoutingEdge],
) -> dict[str, nx.DiGraph[str]]:
    """One directed graph per vehicle class: AGVs on the network edges open to them, RGVs on their rail."""
    edge_classes: dict[tuple[str, str], list[str] | None] = {}
    for edge in plant_file.network.edges:
        edge_classes[(edge.source, edge.target)] = edge.classes
        if edge.two_way:
            edge_classes[(edge.target, edge.source)] = edge.classes
    rail_stops = {r.id: [s.id for s in r.stops] for r in plant_file.network.rails}
    graphs: dict[str, nx.DiGraph[str]] = {}
    for vclass in plant_file.vehicle_classes:
        graph: nx.DiGraph[str] = nx.DiGraph(vehicle_class=vclass.id, rail=vclass.rail)
        if vclass.kind == "rgv":
            stops = rail_stops.get(vclass.rail or "", [])
            graph.add_nodes_from((s, _node_attrs(s, node_points, node_kinds)) for s in stops)
            chosen = [e for e in edges if e.rail == vclass.rail]
        else:
            graph.add_nodes_from(
                (n.id, _node_attrs(n.id, node_points, node_kinds)) for n in plant_file.network.nodes
            )
            chosen = [
                e
                for e in edges
                if e.rail is None
                and ((allowed := edge_classes.get((e.source, e.target))) is None or vclass.id in allowed)
            ]
        speed = vclass.speed_empty
        for e in chosen:
            top = min(speed, e.speed_limit) if e.speed_limit else speed
            graph.add_edge(
                e.source,
                e.target,
                length=e.length,
                speed_limit=e.speed_limit,
                time=e.length / top,
                zones=e.zones,
                edge=e,
            )
        graphs[vclass.id] = graph
    return graphs


def _node_attrs(node: str, points: dict[str, XY], kinds: dict[str, schema.NodeKind]) -> dict[str, object]:
    x, y = points[node]
    return {"x": x, "y": y, "kind": kinds[node]}


# ---------------------------------------------------------------------------------------------- fleet


def home_candidates(
    entry: schema.FleetEntry, graph: nx.DiGraph[str] | None, node_kinds: dict[str, schema.NodeKind]
) -> list[str]:
    """Explicit homes, else the parking nodes (for an RGV without parking stops: every stop) of its graph."""
    if entry.homes is not None:
        return list(entry.homes)
    if graph is None:
        return []
    nodes = list(graph.nodes)
    parking = [n for n in nodes if node_kinds.get(n) == "parking"]
    if not parking and graph.graph.get("rail") is not None:
        return nodes
    return parking


def vehicles(
    plant_file: schema.PlantFile, graphs: dict[str, nx.DiGraph[str]], node_kinds: dict[str, schema.NodeKind]
) -> Iterable[Vehicle]:
    classes = {c.id: c for c in plant_file.vehicle_classes}
    for entry in plant_file.fleet:
        vclass = classes.get(entry.vehicle_class)
        if vclass is None:
            continue
        homes = home_candidates(entry, graphs.get(vclass.id), node_kinds)
        prefix = entry.prefix or vclass.id.upper()
        for i in range(entry.count):
            home = homes[i % len(homes)] if homes else ""
            yield Vehicle(f"{prefix}-{i + 1:02d}", vclass, home)
