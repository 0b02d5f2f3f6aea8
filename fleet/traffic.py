"""Traffic control: which vehicle may enter which part of the plant next (research/fleet.md §1.4, §6.1-6.2).

The openTCS scheme, synchronous and pure (no I/O, no threads, no clock):

- Resources are every node and every undirected edge {u, v} of all vehicle classes' graphs (rail
  segments included). Two resources *conflict* when they are the same or when their shapes, grown by half
  the largest vehicle footprint, overlap: an edge is its polyline buffered by half the largest footprint
  width, a node a disk of half the largest footprint length. So crossing edges, close parallel lanes and
  nodes closer than one vehicle length exclude each other. The conflict sets are computed once (shapely
  STRtree).
- A vehicle `claim`s its whole route, then `allocate`s it in order, an (edge, node) pair at a time and up to
  `steps` nodes ahead of the node it stands on, stopping at the first pair that conflicts with anything
  allocated to another vehicle. What it holds (its current node up to the last allocated node, with the
  edges between) is its released base: `allocate` returns its length in nodes, the `released` of a
  `ports.SendRoute`. A vehicle standing still holds its node. `progress` frees everything behind the
  vehicle's node; `release` frees everything (the vehicle died or left traffic control).
- Invariant: no resource is held by two vehicles and no two vehicles hold conflicting resources. It is
  checked before every allocation; `assert_safe` recomputes it from scratch.
- One-lane corridors (chains of 2+ edges through nodes with two neighbours) are same-direction-only: no
  vehicle allocates a corridor edge while another holds one of its edges driven the other way.
- Deadlocks: the wait-for graph has an arc A -> B when A stands at the end of its base and the next pair of
  its claim conflicts with something B holds (or B is oncoming in its corridor). `deadlocks` returns its
  cycles; `resolve` proposes a way out for one vehicle of a cycle (see `resolve`). `parked_blockers` and
  `make_way` do the same for a vehicle at the end of its claim that stands in another's way.

See docs/fleet.md for why this is safe and what it does not guarantee.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

import networkx as nx
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from layout.model import Plant

from .routing import FASTEST, CostProfile, Router

Resource = str | frozenset[str]
"""A node (its id) or an undirected edge (the set of its two end nodes)."""


def edge_resource(u: str, v: str) -> frozenset[str]:
    return frozenset((u, v))


class TrafficError(Exception):
    """A call that breaks the protocol: unknown vehicle or node, a claim not starting where it must."""


class SafetyViolation(AssertionError):
    """Two vehicles hold the same or conflicting resources (found by `TrafficControl.assert_safe`)."""


class ResolutionKind(StrEnum):
    REROUTE = "reroute"
    RETREAT = "retreat"


@dataclass(frozen=True, slots=True)
class Resolution:
    """A way out of a deadlock: `victim` should `claim` `nodes` (which start at the end of its base)."""

    victim: str
    kind: ResolutionKind
    nodes: tuple[str, ...]
    cycle: tuple[str, ...]


@dataclass(slots=True)
class _Vehicle:
    id: str
    vehicle_class: str
    priority: int
    path: list[str]
    pos: int = 0  # index in path of the node the vehicle stands on
    base: int = 0  # index in path of the last allocated node (>= pos)
    held: set[Resource] = field(default_factory=set)

    @property
    def node(self) -> str:
        return self.path[self.pos]

    @property
    def base_end(self) -> str:
        return self.path[self.base]

    def holdings(self) -> set[Resource]:
        nodes = self.path[self.pos : self.base + 1]
        return {*nodes, *(edge_resource(u, v) for u, v in pairwise(nodes))}

    def remaining(self) -> list[str]:
        return self.path[self.pos :]


def resource_shapes(plant: Plant) -> dict[Resource, BaseGeometry]:
    """Every resource's swept shape: nodes as disks of half the largest footprint length, edges as their
    polylines (both directions together) buffered by half the largest footprint width."""
    # Classes with vehicles in the fleet (a class nobody drives occupies nothing); all if the fleet is empty.
    driven = {v.vehicle_class.id for v in plant.vehicles.values()}
    all_classes = list(plant.vehicle_classes.values())
    classes = [c for c in all_classes if c.id in driven] or all_classes
    length = max((c.footprint.length for c in classes), default=0.0)
    width = max((c.footprint.width for c in classes), default=0.0)
    nodes: set[str] = set()
    lines: dict[frozenset[str], list[LineString]] = {}
    for graph in plant.graphs.values():
        nodes.update(graph.nodes)
        for u, v, data in graph.edges(data=True):
            edge = data["edge"]
            lines.setdefault(edge_resource(u, v), []).append(LineString(edge.points))
    shapes: dict[Resource, BaseGeometry] = {
        n: Point(plant.node_points[n]).buffer(length / 2) if length > 0 else Point(plant.node_points[n])
        for n in sorted(nodes)
    }
    for key, parts in lines.items():
        merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        shapes[key] = merged.buffer(width / 2) if width > 0 else merged
    return shapes


def conflict_map(plant: Plant) -> dict[Resource, frozenset[Resource]]:
    """For each resource, the resources it conflicts with (itself included)."""
    shapes = resource_shapes(plant)
    keys = list(shapes)
    tree = STRtree([shapes[k] for k in keys])
    conflicts: dict[Resource, frozenset[Resource]] = {}
    for key in keys:
        hits = tree.query(shapes[key], predicate="intersects")
        conflicts[key] = frozenset({key, *(keys[int(i)] for i in hits)})
    return conflicts


def corridors(plant: Plant) -> dict[frozenset[str], tuple[int, str]]:
    """One-lane corridors: maximal chains of two or more edges joined at nodes with exactly two neighbours
    (over all classes' networks together; a rail with intermediate stops is one). Maps each edge of a
    corridor to (corridor number, the end of the edge that faces the corridor's start); driving an edge
    away from that end is driving the corridor forwards."""
    undirected: nx.Graph[str] = nx.Graph()
    for graph in plant.graphs.values():
        undirected.add_edges_from(graph.edges)
    inner = {n for n in undirected if undirected.degree(n) == 2}
    found: dict[frozenset[str], tuple[int, str]] = {}
    number = 0
    for u, v in sorted(tuple(sorted(e)) for e in undirected.edges):
        if edge_resource(u, v) in found:
            continue
        chain = [u, v]
        while chain[-1] in inner and chain[-1] != chain[0]:  # extend forwards
            step = [n for n in undirected[chain[-1]] if n != chain[-2]]
            if not step or edge_resource(chain[-1], step[0]) in found:
                break
            chain.append(step[0])
        while chain[0] in inner and chain[0] != chain[-1]:  # and backwards
            step = [n for n in undirected[chain[0]] if n != chain[1]]
            if not step:
                break
            chain.insert(0, step[0])
        if len(chain) < 3:
            continue
        for a, b in pairwise(chain):
            found[edge_resource(a, b)] = (number, a)
        number += 1
    return found


class TrafficControl:
    """Claims, allocations and deadlocks of the vehicles on one plant."""

    def __init__(self, plant: Plant) -> None:
        self._plant = plant
        self.conflicts = conflict_map(plant)
        self.corridors = corridors(plant)
        self._vehicles: dict[str, _Vehicle] = {}
        self._owner: dict[Resource, str] = {}

    # ------------------------------------------------------------------------------------------ queries

    @property
    def vehicles(self) -> list[str]:
        return sorted(self._vehicles)

    def node_of(self, vehicle: str) -> str:
        return self._get(vehicle).node

    def claim_of(self, vehicle: str) -> tuple[str, ...]:
        """The rest of the vehicle's claim, from the node it stands on."""
        return tuple(self._get(vehicle).remaining())

    def base_of(self, vehicle: str) -> tuple[str, ...]:
        """The released base: from the node the vehicle stands on to the last allocated node."""
        v = self._get(vehicle)
        return tuple(v.path[v.pos : v.base + 1])

    def held_by(self, vehicle: str) -> frozenset[Resource]:
        return frozenset(self._get(vehicle).held)

    def owner(self, resource: Resource) -> str | None:
        return self._owner.get(resource)

    def blockers(self, vehicle: str, resources: Iterable[Resource]) -> set[str]:
        """The other vehicles holding something that conflicts with one of `resources`."""
        found: set[str] = set()
        for r in resources:
            for c in self.conflicts[r]:
                owner = self._owner.get(c)
                if owner is not None and owner != vehicle:
                    found.add(owner)
        return found

    def oncoming(self, vehicle: str, source: str, target: str) -> set[str]:
        """The other vehicles holding an edge of the corridor of edge source -> target driven the other way
        (same-direction-only corridors: nobody enters a one-lane corridor against allocated traffic)."""
        entry = self.corridors.get(edge_resource(source, target))
        if entry is None:
            return set()
        corridor, start = entry
        forwards = source == start
        found: set[str] = set()
        for oid, other in self._vehicles.items():
            if oid == vehicle:
                continue
            for a, b in pairwise(other.path[other.pos : other.base + 1]):
                theirs = self.corridors.get(edge_resource(a, b))
                if theirs is not None and theirs[0] == corridor and (a == theirs[1]) != forwards:
                    found.add(oid)
                    break
        return found

    def pair_blockers(self, vehicle: str, source: str, target: str) -> set[str]:
        """The other vehicles that stop `vehicle` from allocating edge source -> target and node `target`:
        holders of conflicting resources and oncoming traffic in the edge's corridor."""
        return self.blockers(vehicle, (edge_resource(source, target), target)) | self.oncoming(
            vehicle, source, target
        )

    def next_pair(self, vehicle: str) -> tuple[Resource, Resource] | None:
        """The (edge, node) the vehicle needs next beyond its base; None at the end of its claim."""
        v = self._get(vehicle)
        if v.base + 1 >= len(v.path):
            return None
        u, w = v.path[v.base], v.path[v.base + 1]
        return edge_resource(u, w), w

    def waits_for(self, vehicle: str) -> set[str]:
        """The vehicles whose holdings stop `vehicle` from extending its base now."""
        v = self._get(vehicle)
        if v.base + 1 >= len(v.path):
            return set()
        return self.pair_blockers(vehicle, v.path[v.base], v.path[v.base + 1])

    # ------------------------------------------------------------------------------------------ protocol

    def register(self, vehicle: str, vehicle_class: str, node: str, *, priority: int = 0) -> None:
        """A vehicle appears standing on `node` and holds it (openTCS allocateNow). Raises `TrafficError`
        when the node conflicts with what another vehicle holds: traffic control cannot make that safe."""
        if vehicle in self._vehicles:
            raise TrafficError(f"vehicle {vehicle!r} is already registered")
        graph = self._graph(vehicle_class)
        if node not in graph:
            raise TrafficError(f"node {node!r} is not on the network of class {vehicle_class!r}")
        others = self.blockers(vehicle, (node,))
        if others:
            raise TrafficError(f"{vehicle} cannot stand on {node}: conflicts with {sorted(others)}")
        v = _Vehicle(vehicle, vehicle_class, priority, [node])
        self._vehicles[vehicle] = v
        self._sync(v)

    def set_priority(self, vehicle: str, priority: int) -> None:
        """Change the vehicle's priority for deadlock resolution (lowest is tried as the victim first)."""
        self._get(vehicle).priority = priority

    def claim(self, vehicle: str, route_nodes: Sequence[str]) -> None:
        """Record the route the vehicle intends to drive. It must start at the end of the vehicle's base
        (its node when nothing ahead is allocated): what is released stays released, so the new claim is
        the base followed by `route_nodes[1:]`."""
        v = self._get(vehicle)
        nodes = list(route_nodes)
        if not nodes or nodes[0] != v.base_end:
            raise TrafficError(
                f"claim for {vehicle} must start at the end of its base {v.base_end!r}, got {nodes[:1]}"
            )
        graph = self._graph(v.vehicle_class)
        for a, b in pairwise(nodes):
            if not graph.has_edge(a, b):
                raise TrafficError(f"claim for {vehicle}: no edge {a}->{b} for class {v.vehicle_class}")
        v.path = v.path[v.pos : v.base + 1] + nodes[1:]
        v.base -= v.pos
        v.pos = 0

    def allocate(self, vehicle: str, steps: int = 2) -> int:
        """Allocate the vehicle's claim in order, an (edge, node) pair at a time, up to `steps` nodes ahead
        of its node; stop at the first pair that conflicts with anything another vehicle holds. Returns the
        released base in nodes, from the vehicle's node inclusive (1 .. steps + 1, or more if an earlier call
        with more steps released more: a release is never taken back)."""
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        v = self._get(vehicle)
        limit = min(v.pos + steps, len(v.path) - 1)
        while v.base < limit:
            u, w = v.path[v.base], v.path[v.base + 1]
            pair = (edge_resource(u, w), w)
            if self.pair_blockers(vehicle, u, w):
                break
            v.base += 1
            for r in pair:
                v.held.add(r)
                self._owner[r] = vehicle
        return v.base - v.pos + 1

    def progress(self, vehicle: str, node: str) -> None:
        """The vehicle reports it stands on `node` (in its base): free everything behind it."""
        v = self._get(vehicle)
        try:
            index = v.path.index(node, v.pos, v.base + 1)
        except ValueError:
            raise TrafficError(
                f"{vehicle} reports {node!r}, which is not in its base {v.path[v.pos : v.base + 1]}"
            ) from None
        v.pos = index
        self._sync(v)

    def release(self, vehicle: str) -> None:
        """Forget the vehicle and free all it holds (it died, or its order was cancelled and it left)."""
        v = self._vehicles.pop(vehicle, None)
        if v is None:
            raise TrafficError(f"unknown vehicle {vehicle!r}")
        for r in v.held:
            if self._owner.get(r) == vehicle:
                del self._owner[r]

    def assert_safe(self) -> None:
        """Recompute every vehicle's holdings from its claim and check mutual exclusion from scratch."""
        owners: dict[Resource, str] = {}
        for v in self._vehicles.values():
            held = v.holdings()
            if held != v.held:
                raise SafetyViolation(f"{v.id}: bookkept holdings {v.held} != recomputed {held}")
            for r in held:
                if r in owners:
                    raise SafetyViolation(f"{r} held by both {owners[r]} and {v.id}")
                owners[r] = v.id
        if owners != self._owner:
            raise SafetyViolation("owner table disagrees with the vehicles' holdings")
        for r, who in owners.items():
            for c in self.conflicts[r]:
                other = owners.get(c)
                if other is not None and other != who:
                    raise SafetyViolation(f"{who} holds {r}, which conflicts with {c} held by {other}")

    # ------------------------------------------------------------------------------------------ deadlock

    def wait_for_graph(self) -> nx.DiGraph[str]:
        """Arcs A -> B when A is stalled (standing at the end of its base with more claim ahead) and the
        next pair it needs conflicts with something B holds. A vehicle still driving its base is not
        waiting yet: it may free what another needs."""
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self._vehicles)
        for vid, v in self._vehicles.items():
            if v.pos == v.base:
                graph.add_edges_from((vid, other) for other in self.waits_for(vid))
        return graph

    def deadlocks(self) -> list[tuple[str, ...]]:
        """The cycles of the wait-for graph, each starting at its smallest vehicle id, sorted.

        Every vehicle of a cycle is stalled and waits on the next, so none can move or free anything until
        one of them gets a new claim (`resolve`) or is released."""
        found = []
        for cycle in nx.simple_cycles(self.wait_for_graph()):
            i = cycle.index(min(cycle))
            found.append(tuple(cycle[i:] + cycle[:i]))
        return sorted(found)

    def parked_blockers(self) -> list[str]:
        """Vehicles standing at the end of their claim that a stalled vehicle waits for. They never move on their
        own: a dispatcher should give them somewhere else to be (`make_way` proposes a retreat)."""
        graph = self.wait_for_graph()
        return sorted(
            b
            for b, v in self._vehicles.items()
            if graph.in_degree(b) > 0 and v.pos == v.base == len(v.path) - 1
        )

    def make_way(self, vehicle: str, router: Router, profile: CostProfile = FASTEST) -> Resolution | None:
        """Propose a retreat for a parked vehicle: the nearest node off every other vehicle's claim."""
        v = self._get(vehicle)
        graph = self._free_graph(vehicle, router, profile)
        retreat = self._retreat(vehicle, graph, v.base_end)
        return None if retreat is None else Resolution(vehicle, ResolutionKind.RETREAT, retreat, (vehicle,))

    def resolve(
        self, deadlock: Sequence[str], router: Router, profile: CostProfile = FASTEST
    ) -> Resolution | None:
        """Propose a way out of `deadlock` (a cycle from `deadlocks`), or None if there is none.

        Victims are tried in order of lowest priority, then id. For a victim, on its class graph with the
        router's current edge costs (closures and prohibitions are infinite) and without every node and
        edge that conflicts with what another vehicle holds:
        1. reroute: the cheapest path from the end of its base to the end of its claim;
        2. else retreat: the nearest node (by cost) that conflicts with nothing on any other vehicle's
           remaining claim, so the others can pass; the victim must be given its goal again once there.
        The proposal is not applied: the caller `claim`s `nodes` for the victim."""
        cycle = tuple(deadlock)
        for vid in sorted(cycle, key=lambda x: (self._get(x).priority, x)):
            v = self._get(vid)
            graph = self._free_graph(vid, router, profile)
            source, goal = v.base_end, v.path[-1]
            if source not in graph:
                continue
            if goal != source and goal in graph:
                try:
                    path: list[str] = nx.dijkstra_path(graph, source, goal, weight="cost")
                except nx.NetworkXNoPath:
                    pass
                else:
                    return Resolution(vid, ResolutionKind.REROUTE, tuple(path), cycle)
            retreat = self._retreat(vid, graph, source)
            if retreat is not None:
                return Resolution(vid, ResolutionKind.RETREAT, retreat, cycle)
        return None

    def _free_graph(self, vehicle: str, router: Router, profile: CostProfile) -> nx.DiGraph[str]:
        v = self._get(vehicle)
        base = self._graph(v.vehicle_class)
        graph: nx.DiGraph[str] = nx.DiGraph()
        ok_node = {n: not self.blockers(vehicle, (n,)) for n in base}
        ok_node[v.base_end] = True
        graph.add_nodes_from(n for n, ok in ok_node.items() if ok)
        for a, b in base.edges:
            if not (ok_node[a] and ok_node[b]) or self.blockers(vehicle, (edge_resource(a, b),)):
                continue
            cost = router.edge_cost(v.vehicle_class, a, b, profile)
            if math.isfinite(cost):
                graph.add_edge(a, b, cost=cost)
        return graph

    def _retreat(self, vehicle: str, graph: nx.DiGraph[str], source: str) -> tuple[str, ...] | None:
        claimed: set[Resource] = set()
        for oid, other in self._vehicles.items():
            if oid != vehicle:
                rest = other.remaining()
                claimed.update(rest)
                claimed.update(edge_resource(a, b) for a, b in pairwise(rest))
        # Dijkstra by hand so that ties are broken by node id (deterministic).
        best: dict[str, float] = {source: 0.0}
        previous: dict[str, str] = {}
        queue: list[tuple[float, str]] = [(0.0, source)]
        done: set[str] = set()
        while queue:
            cost, node = heapq.heappop(queue)
            if node in done:
                continue
            done.add(node)
            if node != source and not (self.conflicts[node] & claimed):
                path = [node]
                while path[-1] != source:
                    path.append(previous[path[-1]])
                return tuple(reversed(path))
            for nxt, data in graph[node].items():
                c = cost + float(data["cost"])
                if c < best.get(nxt, math.inf):
                    best[nxt] = c
                    previous[nxt] = node
                    heapq.heappush(queue, (c, nxt))
        return None

    # ------------------------------------------------------------------------------------------ internals

    def _get(self, vehicle: str) -> _Vehicle:
        try:
            return self._vehicles[vehicle]
        except KeyError:
            raise TrafficError(f"unknown vehicle {vehicle!r}") from None

    def _graph(self, vehicle_class: str) -> nx.DiGraph[str]:
        try:
            return self._plant.graph(vehicle_class)
        except KeyError:
            raise TrafficError(f"unknown vehicle class {vehicle_class!r}") from None

    def _sync(self, v: _Vehicle) -> None:
        """Make the bookkept holdings and owner table match the vehicle's base (frees what is behind)."""
        held = v.holdings()
        for r in v.held - held:
            if self._owner.get(r) == v.id:
                del self._owner[r]
        for r in held - v.held:
            self._owner[r] = v.id
        v.held = held
