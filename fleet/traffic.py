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
- Joint plans: when no single vehicle has a way out, `untangle` searches the moves of several vehicles
  together (A* over joint configurations on the local subgraph, with a budget), and `execute` runs them
  through the same claim/allocate/free: each move is allocated only after the earlier conflicting moves of
  the plan were made (so it runs in plan order whatever the vehicles' timing), and everyone else is kept off
  what the remaining moves need.

See docs/fleet.md for why this is safe and what it does not guarantee.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
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


@dataclass(frozen=True, slots=True)
class JointPlan:
    """A way out of a deadlock that needs several vehicles to move (`TrafficControl.untangle`).

    `paths[v]` is the route of vehicle `v` from the end of its base (only vehicles that move are in it);
    `moves` is the sequential plan, each move as (vehicle, index in its path of the node it enters). The lead
    drives its whole remaining claim, to its end; the others make room and stop at the end of their paths."""

    lead: str
    paths: Mapping[str, tuple[str, ...]]
    moves: tuple[tuple[str, int], ...]
    cycle: tuple[str, ...]


@dataclass(slots=True)
class _Running:
    """A joint plan being executed: who still has moves to make, what each move waits for, what is reserved."""

    plan: JointPlan
    left: set[str]  # vehicles with moves still to make
    waits: dict[tuple[str, int], dict[str, int]]  # move -> {other vehicle: index it must have reached}
    offset: dict[str, int]  # vehicle -> index in its traffic path of its plan path's first node (base end)
    reserved: frozenset[Resource] = frozenset()


UNTANGLE_BUDGET = 20_000  # joint configurations expanded at most per lead vehicle
UNTANGLE_VEHICLES = 5  # vehicles planned together at most (the lead included)
UNTANGLE_RADIUS = 10  # the local subgraph: nodes within this many edges of the cycle and the lead's claim
RELAXED_PAIRS = 2_000  # node pairs searched at most to prove that one vehicle alone keeps the lead out


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
        self._running: _Running | None = None  # the joint plan being executed, if any
        self._move_conflict_cache: dict[tuple[str, str], frozenset[str]] = {}
        self._claim_resources: dict[str, tuple[list[str], int, frozenset[Resource]]] = {}
        # Joint searches that found no plan: by (budget, goal, start), the nodes each agent stood on and what the
        # search read of its moves there (`_search_reads`).
        self._no_joint_plan: dict[
            tuple[int, str, tuple[str, ...]], list[tuple[list[list[str]], tuple[tuple[object, ...], ...]]]
        ] = {}

    # ------------------------------------------------------------------------------------------ queries

    @property
    def vehicles(self) -> list[str]:
        return sorted(self._vehicles)

    def node_of(self, vehicle: str) -> str:
        return self._get(vehicle).node

    def claim_of(self, vehicle: str) -> tuple[str, ...]:
        """The rest of the vehicle's claim, from the node it stands on."""
        return tuple(self._get(vehicle).remaining())

    def claim_resources(self, vehicle: str) -> frozenset[Resource]:
        """The nodes and edges of the rest of the vehicle's claim (`claim_of`), as resources."""
        v = self._get(vehicle)
        cached = self._claim_resources.get(vehicle)
        # A claim replaces the path list (never changed in place), and the cache entry keeps the list alive.
        if cached is not None and cached[0] is v.path and cached[1] == v.pos:
            return cached[2]
        rest = v.path[v.pos :]
        found: frozenset[Resource] = frozenset((*rest, *(edge_resource(a, b) for a, b in pairwise(rest))))
        self._claim_resources[vehicle] = (v.path, v.pos, found)
        return found

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
        owners = self._owner
        found = {owner for r in resources for c in self.conflicts[r] if (owner := owners.get(c)) is not None}
        found.discard(vehicle)
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
        if self.in_plan(vehicle):
            self._running = None  # a new claim (cancel, failure) ends the joint plan: everyone is free again
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
        running = self._running
        if running is not None and vehicle in running.left:
            limit = min(limit, self._allowed(vehicle, running))
        reserved = frozenset() if running is None or vehicle in running.left else running.reserved
        while v.base < limit:
            u, w = v.path[v.base], v.path[v.base + 1]
            pair = (edge_resource(u, w), w)
            if self.pair_blockers(vehicle, u, w) or pair[0] in reserved or pair[1] in reserved:
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
        running = self._running
        if (
            running is not None
            and vehicle in running.left
            and self._plan_index(vehicle, running) == len(running.plan.paths[vehicle]) - 1
        ):
            running.left.discard(vehicle)  # its moves are made: from now on it is traffic like any other
            self._reserve(running)

    def release(self, vehicle: str) -> None:
        """Forget the vehicle and free all it holds (it died, or its order was cancelled and it left)."""
        v = self._vehicles.pop(vehicle, None)
        if v is None:
            raise TrafficError(f"unknown vehicle {vehicle!r}")
        if self._running is not None and vehicle in self._running.left:
            self._running = None
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
        for vid, others in self._wait_arcs().items():
            graph.add_edges_from((vid, other) for other in others)
        return graph

    def _wait_arcs(self) -> dict[str, set[str]]:
        """The wait-for graph's arcs (`wait_for_graph`) by vehicle, only vehicles that wait for someone."""
        arcs: dict[str, set[str]] = {}
        for vid, v in self._vehicles.items():
            if v.pos == v.base and v.base + 1 < len(v.path):
                others = self.pair_blockers(vid, v.path[v.base], v.path[v.base + 1])
                if others:
                    arcs[vid] = others
        return arcs

    def deadlocks(self) -> list[tuple[str, ...]]:
        """The cycles of the wait-for graph, each starting at its smallest vehicle id, sorted.

        Every vehicle of a cycle is stalled and waits on the next, so none can move or free anything until
        one of them gets a new claim (`resolve`) or is released."""
        arcs = self._wait_arcs()
        # Peel off vehicles that wait for nobody still in the graph: no cycle passes through them. Most of
        # the time nothing is left and no graph is built.
        while True:
            kept = {vid: others & arcs.keys() for vid, others in arcs.items()}
            kept = {vid: others for vid, others in kept.items() if others}
            if len(kept) == len(arcs):
                break
            arcs = kept
        if not arcs:
            return []
        graph: nx.DiGraph[str] = nx.DiGraph()
        for vid, others in arcs.items():
            graph.add_edges_from((vid, other) for other in others)
        found = []
        for cycle in nx.simple_cycles(graph):
            i = cycle.index(min(cycle))
            found.append(tuple(cycle[i:] + cycle[:i]))
        return sorted(found)

    def parked_blockers(self) -> list[str]:
        """Vehicles standing at the end of their claim that a stalled vehicle waits for. They never move on their
        own: a dispatcher should give them somewhere else to be (`make_way` proposes a retreat)."""
        waited_for = set().union(*self._wait_arcs().values())
        return sorted(
            b for b, v in self._vehicles.items() if b in waited_for and v.pos == v.base == len(v.path) - 1
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

    # ------------------------------------------------------------------------------------ joint plans

    @property
    def plan(self) -> JointPlan | None:
        """The joint plan being executed (`execute`), until its last vehicle made its last move."""
        return None if self._running is None else self._running.plan

    def in_plan(self, vehicle: str) -> bool:
        """Whether `vehicle` still has moves to make in the joint plan being executed."""
        return self._running is not None and vehicle in self._running.left

    def untangle(
        self,
        deadlock: Sequence[str],
        router: Router,
        movable: Iterable[str],
        *,
        leads: Sequence[str] | None = None,
        profile: CostProfile = FASTEST,
        budget: int = UNTANGLE_BUDGET,
    ) -> JointPlan | None:
        """Plan several vehicles' moves together when no single victim has a way out (`resolve` gave None).

        For each lead (a vehicle of the cycle, in the order of `leads`, default lowest priority last), a
        best-first search over joint configurations finds the fewest single-edge moves after which the lead
        stands at the end of its claim. It moves the lead and up to `UNTANGLE_VEHICLES` - 1 of the `movable`
        vehicles (those the caller may send elsewhere: not loading, not out), the cycle's first, then the
        nearest, on the nodes within `UNTANGLE_RADIUS` edges of the cycle and the lead's claim. Each starts at
        the end of its base (one still driving its base gets there whatever the others do). Every other
        vehicle is an obstacle with all it holds. A configuration is valid when no two vehicles stand on
        conflicting nodes, and a move when its edge and node conflict with no other vehicle's node. At most
        `budget` configurations are expanded per lead. None: no plan (or a plan is being executed already).

        The plan is not applied: `execute` claims it and gates the allocation so it runs in plan order."""
        if self._running is not None:
            return None
        cycle = tuple(deadlock)
        mobile = {m for m in movable if m in self._vehicles} | set(cycle)
        order = list(leads) if leads is not None else sorted(cycle, key=lambda x: (-self._get(x).priority, x))
        for lead in order:
            if lead in mobile and len(self._vehicles[lead].path) > 1 + self._vehicles[lead].pos:
                plan = self._joint_search(lead, cycle, mobile, router, profile=profile, budget=budget)
                if plan is not None:
                    return plan
        return None

    def execute(self, plan: JointPlan) -> None:
        """Start a joint plan: claim every path, then allocate each vehicle's moves only once the moves before
        them in the plan that touch conflicting resources are made (an action dependency graph), and keep
        everyone else off the resources of the moves still to make (reserved) until they are made. Safety is
        still checked at every allocation; the plan only orders it. A new claim for (or the release of) a
        vehicle with moves left ends the plan early."""
        if self._running is not None:
            raise TrafficError("a joint plan is being executed already")
        for vid, path in plan.paths.items():
            if path[0] != self._get(vid).base_end:
                raise TrafficError(f"joint plan: {vid}'s path must start at its base's end, not {path[0]}")
        offset: dict[str, int] = {}
        for vid, path in sorted(plan.paths.items()):
            self.claim(vid, path)
            offset[vid] = self._vehicles[vid].base
        touched = [(vid, i, self._move_resources(plan, vid, i)) for vid, i in plan.moves]
        waits: dict[tuple[str, int], dict[str, int]] = {}
        for k, (vid, i, mine) in enumerate(touched):
            reach = set().union(*(self.conflicts[r] for r in mine))
            needs: dict[str, int] = {}
            for other, j, theirs in touched[:k]:
                if other != vid and reach & theirs:
                    needs[other] = max(needs.get(other, 0), j)
            waits[(vid, i)] = needs
        running = _Running(plan, set(plan.paths), waits, offset)
        self._running = running
        self._reserve(running)

    def _allowed(self, vehicle: str, running: _Running) -> int:
        """The last index of the vehicle's path whose move (and every move before it) may be made now."""
        path = running.plan.paths[vehicle]
        index = self._plan_index(vehicle, running)
        while index + 1 < len(path):
            needs = running.waits[(vehicle, index + 1)]
            if any(o in running.left and self._plan_index(o, running) < j for o, j in needs.items()):
                break
            index += 1
        return running.offset[vehicle] + index

    def _plan_index(self, vehicle: str, running: _Running) -> int:
        """How far the vehicle got along its plan path (0 while it still drives the base it had before)."""
        return max(0, self._vehicles[vehicle].pos - running.offset[vehicle])

    def _reserve(self, running: _Running) -> None:
        """Reserve (against everyone outside the plan) what the moves still to make touch."""
        if not running.left:
            self._running = None
            return
        reserved: set[Resource] = set()
        for vid, i in running.plan.moves:
            if vid in running.left and i > self._plan_index(vid, running):
                for r in self._move_resources(running.plan, vid, i):
                    reserved |= self.conflicts[r]
        running.reserved = frozenset(reserved)

    @staticmethod
    def _move_resources(plan: JointPlan, vehicle: str, index: int) -> set[Resource]:
        a, b = plan.paths[vehicle][index - 1], plan.paths[vehicle][index]
        return {a, edge_resource(a, b), b}

    def _joint_search(
        self,
        lead: str,
        cycle: tuple[str, ...],
        mobile: set[str],
        router: Router,
        *,
        profile: CostProfile,
        budget: int,
    ) -> JointPlan | None:
        goal = self._vehicles[lead].path[-1]
        # The local subgraph: nodes near the cycle's vehicles and the lead's claim (undirected hops).
        near: dict[str, int] = {}
        queue: deque[str] = deque()
        for n in sorted({*(self._vehicles[c].base_end for c in cycle), *self._vehicles[lead].remaining()}):
            near[n] = 0
            queue.append(n)
        undirected = self._undirected()
        while queue:
            n = queue.popleft()
            if near[n] < UNTANGLE_RADIUS:
                for m in sorted(undirected[n]):
                    if m not in near:
                        near[m] = near[n] + 1
                        queue.append(m)
        others = sorted(
            (m for m in mobile if m != lead and self._vehicles[m].base_end in near),
            key=lambda m: (m not in cycle, near[self._vehicles[m].base_end], m),
        )
        agents = [lead, *others[: UNTANGLE_VEHICLES - 1]]
        blocked: set[Resource] = set()
        for vid, v in self._vehicles.items():
            if vid not in agents:
                for r in v.held:
                    blocked |= self.conflicts[r]
        if goal in blocked:
            return None
        # Per vehicle: where it may go from each node (class graph, finite cost, local, not blocked).
        moves: list[dict[str, list[str]]] = []
        for vid in agents:
            v = self._vehicles[vid]
            adjacency: dict[str, list[str]] = {}
            for a, b in self._graph(v.vehicle_class).edges:
                local = a in near and b in near and not {b, edge_resource(a, b)} & blocked
                if local and math.isfinite(router.edge_cost(v.vehicle_class, a, b, profile)):
                    adjacency.setdefault(a, []).append(b)
            moves.append({a: sorted(bs) for a, bs in adjacency.items()})
        # Hops to the goal for the lead (reverse BFS): the search's heuristic.
        to_goal: dict[str, int] = {goal: 0}
        queue.append(goal)
        reverse: dict[str, list[str]] = {}
        for a, bs in moves[0].items():
            for b in bs:
                reverse.setdefault(b, []).append(a)
        while queue:
            n = queue.popleft()
            for m in sorted(reverse.get(n, ())):
                if m not in to_goal:
                    to_goal[m] = to_goal[n] + 1
                    queue.append(m)
        # A vehicle still driving its base starts where the base ends: it gets there whatever the others do.
        start = tuple(self._vehicles[a].base_end for a in agents)
        if start[0] not in to_goal:
            return None
        # A search that reads the same inputs runs the same way: one that found nothing finds nothing again.
        key = (budget, goal, start)
        for nodes, read in self._no_joint_plan.get(key, ()):
            if self._search_reads(moves, to_goal, nodes) == read:
                return None
        # Most searches that find nothing fail because of one other vehicle: proving that on pairs of nodes
        # is cheap, and spares the search of the whole budget (it would find nothing either).
        if any(self._lead_cannot_pass(goal, start, moves, to_goal, i) for i in range(1, len(start))):
            return None
        found, stood = self._search_configurations(goal, start, moves, to_goal, budget)
        if found is None:
            if sum(len(v) for v in self._no_joint_plan.values()) >= 64:
                self._no_joint_plan.clear()
            self._no_joint_plan.setdefault(key, []).append((stood, self._search_reads(moves, to_goal, stood)))
            return None
        return self._joint_plan(lead, agents, start, found, cycle)

    @staticmethod
    def _search_reads(
        moves: list[dict[str, list[str]]], to_goal: Mapping[str, int], stood: list[list[str]]
    ) -> tuple[tuple[object, ...], ...]:
        """What `_search_configurations` reads of `moves` and `to_goal` when agent i stands only on the nodes
        `stood[i]`: each agent's moves from there, with the lead's hops to the goal."""
        lead = tuple(
            (a, to_goal.get(a), tuple((b, to_goal.get(b)) for b in moves[0].get(a, ()))) for a in stood[0]
        )
        others = tuple(tuple((a, tuple(moves[i].get(a, ()))) for a in stood[i]) for i in range(1, len(stood)))
        return (lead, *others)

    def _search_configurations(
        self,
        goal: str,
        start: tuple[str, ...],
        moves: list[dict[str, list[str]]],
        to_goal: Mapping[str, int],
        budget: int,
    ) -> tuple[list[tuple[int, str]] | None, list[list[str]]]:
        """Best-first search over joint configurations (agent 0 is the lead): the moves (agent, node entered), in
        order, to the first configuration found with the lead at `goal`; None when `budget` expansions find
        none, with (then) the nodes each agent stood on in the configurations reached (sorted), which are all
        the search read of `moves` and `to_goal` besides the start. A move of agent i from a to b is valid when
        no other agent stands on a node that conflicts with b or edge {a, b}. Ties go to the configuration
        pushed first.

        A configuration is coded as one integer (node numbers in base `size`, agent i at digit i), so that a
        move is an addition and configurations hash cheaply; the search order does not depend on the coding."""
        names = sorted(
            {*start, *(a for m in moves for a in m), *(b for m in moves for bs in m.values() for b in bs)}
        )
        index = {n: k for k, n in enumerate(names)}
        size = len(names)
        agents = len(start)
        weights = [size**i for i in range(agents)]
        heuristic = [to_goal.get(n, -1) for n in names]
        # Per agent and node number: (the nodes another agent must not stand on, the configuration's change,
        # the lead's hops to the goal after the move) of each move, in the order of `moves`. For the lead only
        # the moves to nodes the goal can be reached from (the others are never pushed).
        steps: list[list[list[tuple[frozenset[int], int, int]]]] = []
        for i, adjacency in enumerate(moves):
            table: list[list[tuple[frozenset[int], int, int]]] = [[] for _ in names]
            for a, bs in adjacency.items():
                for b in bs:
                    if i == 0 and b not in to_goal:
                        continue
                    forbidden = frozenset(index[c] for c in self._move_conflicts(a, b) if c in index)
                    table[index[a]].append(
                        (forbidden, (index[b] - index[a]) * weights[i], to_goal.get(b, -1))
                    )
            steps.append(table)
        goal_number = index.get(goal, -1)
        origin = sum(index[n] * w for n, w in zip(start, weights, strict=True))
        seen: dict[int, tuple[int, int] | None] = {origin: None}
        cost: dict[int, int] = {origin: 0}
        heap: list[tuple[int, int, int, int]] = [(to_goal[start[0]], 0, 0, origin)]
        counter = 0
        expanded = 0
        heappop, heappush, cost_get = heapq.heappop, heapq.heappush, cost.get
        while heap and expanded < budget:
            _, g, _, state = heappop(heap)
            if g > cost[state]:
                continue
            at: list[int] = []
            rest = state
            for _ in weights:
                rest, node = divmod(rest, size)
                at.append(node)
            if at[0] == goal_number:
                return self._configuration_moves(state, seen, names, weights), []
            expanded += 1
            g1 = g + 1
            others = at[1:]
            for forbidden, change, h in steps[0][at[0]]:
                nxt = state + change
                known = cost_get(nxt)
                if known is not None and known <= g1:
                    continue
                if not forbidden.isdisjoint(others):
                    continue
                cost[nxt] = g1
                seen[nxt] = (state, 0)
                counter += 1
                heappush(heap, (g1 + h, g1, counter, nxt))
            f = g1 + heuristic[at[0]]
            for i in range(1, agents):
                others = at[:i] + at[i + 1 :]
                for forbidden, change, _ in steps[i][at[i]]:
                    nxt = state + change
                    known = cost_get(nxt)
                    if known is not None and known <= g1:
                        continue
                    if not forbidden.isdisjoint(others):
                        continue
                    cost[nxt] = g1
                    seen[nxt] = (state, i)
                    counter += 1
                    heappush(heap, (f, g1, counter, nxt))
        stood = [sorted(names[n] for n in {code // w % size for code in cost}) for w in weights]
        return None, stood

    def _lead_cannot_pass(
        self,
        goal: str,
        start: tuple[str, ...],
        moves: list[dict[str, list[str]]],
        to_goal: Mapping[str, int],
        other: int,
        *,
        cap: int = RELAXED_PAIRS,
    ) -> bool:
        """Whether the lead (agent 0) provably cannot reach `goal` even if agent `other` were the only other
        vehicle: no pair of their nodes reachable from the start (searched exhaustively) has the lead at the
        goal. Every sequence of moves of all the agents, seen for these two only, is such a sequence (a move
        that conflicts with no other agent conflicts with `other` neither), so then `_search_configurations`
        finds nothing either. False when not proven: the lead gets there, or more than `cap` pairs."""
        origin = (start[0], start[other])
        seen = {origin}
        queue = deque([origin])
        lead_moves, other_moves = moves[0], moves[other]
        while queue:
            lead, mate = queue.popleft()
            if lead == goal:
                return False
            successors = [
                (b, mate)
                for b in lead_moves.get(lead, ())
                if b in to_goal and mate not in self._move_conflicts(lead, b)
            ]
            successors += [
                (lead, b) for b in other_moves.get(mate, ()) if lead not in self._move_conflicts(mate, b)
            ]
            for pair in successors:
                if pair not in seen:
                    if len(seen) >= cap:
                        return False
                    seen.add(pair)
                    queue.append(pair)
        return True

    @staticmethod
    def _configuration_moves(
        state: int, seen: Mapping[int, tuple[int, int] | None], names: list[str], weights: list[int]
    ) -> list[tuple[int, str]]:
        """The moves (agent, node entered) from the search's start to `state`, in order."""
        size = len(names)
        found: list[tuple[int, str]] = []
        link = seen[state]
        while link is not None:
            previous, i = link
            found.append((i, names[state // weights[i] % size]))
            state = previous
            link = seen[state]
        found.reverse()
        return found

    def _move_conflicts(self, a: str, b: str) -> frozenset[str]:
        """The nodes that conflict with node b or edge {a, b}: no other vehicle may stand there for a -> b."""
        found = self._move_conflict_cache.get((a, b))
        if found is None:
            found = frozenset(
                c for c in (*self.conflicts[b], *self.conflicts[edge_resource(a, b)]) if isinstance(c, str)
            )
            self._move_conflict_cache[(a, b)] = found
        return found

    @staticmethod
    def _joint_plan(
        lead: str,
        agents: list[str],
        start: tuple[str, ...],
        steps: list[tuple[int, str]],
        cycle: tuple[str, ...],
    ) -> JointPlan:
        paths: dict[str, list[str]] = {}
        order: list[tuple[str, int]] = []
        for i, node in steps:
            path = paths.setdefault(agents[i], [start[i]])
            path.append(node)
            order.append((agents[i], len(path) - 1))
        return JointPlan(lead, {v: tuple(p) for v, p in sorted(paths.items())}, tuple(order), cycle)

    def _undirected(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for graph in self._plant.graphs.values():
            for a, b in graph.edges:
                found.setdefault(a, set()).add(b)
                found.setdefault(b, set()).add(a)
        return found

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
