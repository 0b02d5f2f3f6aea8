"""Shortest and fastest routes on each vehicle class's graph, with pluggable costs and a cached cost table.

A `Router` serves one plant. Edge costs follow the openTCS pattern (research/fleet.md §1.3, §6.5): a base
metric (distance in metres, or travel time in seconds at the class's loaded or empty speed capped by the
edge's speed limit) plus explicit per-edge penalties in the same unit; an infinite cost forbids the edge.
On top of that, edges and nodes can be forbidden to one class, and edges, nodes and safety zones can be
closed for everyone right now (an active zone closes every edge it crosses). Entering a closed or
forbidden node is impossible; a vehicle already standing on one may still leave it.

The dispatcher reads `cost` and `cost_matrix`: one Dijkstra per distinct source node (or per target on the
reversed graph, when there are fewer targets), kept per class and cost profile. `prepare` computes the
columns of targets ahead (the dispatcher does it when an order arrives), so a decision needs searches only
for what is new. When closures, penalties or prohibitions change (`version` counts those changes) only the
cached rows and columns that the change makes wrong are dropped (`_keep_unaffected`, exact); `repair` searches
the dropped columns again right away (the fleet core calls it when it handles the change). scipy's csgraph
runs the searches in one batch when it is installed; networkx does otherwise (`Router(plant,
use_scipy=False)` forces it).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import Any, TypeVar

import networkx as nx
import numpy as np
import numpy.typing as npt

from layout.model import Plant, RoutingEdge
from layout.schema import VehicleClass

try:  # scipy runs the many-source Dijkstra of a cost matrix in C; without it networkx does, slower.
    import scipy.sparse as _sparse  # type: ignore[import-untyped, unused-ignore]
    import scipy.sparse.csgraph as _csgraph  # type: ignore[import-untyped, unused-ignore]

    HAVE_SCIPY = True
except ImportError:  # pragma: no cover - scipy is optional
    HAVE_SCIPY = False

Edge = tuple[str, str]
_T = TypeVar("_T")
INF = math.inf


class Metric(StrEnum):
    DISTANCE = "distance"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class CostProfile:
    """What a route minimises.

    `metric`: metres or seconds. `loaded`: drive at the class's loaded speed (else empty). `stop_allowance`:
    add the acceleration and deceleration time of one start and one stop to every route that moves,
    v/(2a) + v/(2d) at the class's top speed (d defaults to a), to its time and, for the time metric, to
    its cost. Exact for a route long enough to reach top speed, an upper bound for a shorter one; speed
    changes between edges of different limits are not counted.
    """

    metric: Metric = Metric.TIME
    loaded: bool = False
    stop_allowance: bool = False


SHORTEST = CostProfile(Metric.DISTANCE)
FASTEST = CostProfile(Metric.TIME)


class NoRouteReason(StrEnum):
    UNKNOWN_NODE = "unknown node"
    NOT_ON_NETWORK = "node not on this vehicle class's network"
    NO_PATH = "no path"
    CLOSED = "only paths through closed zones, edges or nodes"
    FORBIDDEN = "only paths over edges or nodes forbidden to this class"


class UnknownVehicleClass(LookupError):
    def __init__(self, vehicle_class: str, known: Iterable[str]) -> None:
        self.vehicle_class = vehicle_class
        super().__init__(f"unknown vehicle class {vehicle_class!r}; the plant has {sorted(known)}")


class UnknownZone(LookupError):
    def __init__(self, zone: str, known: Iterable[str]) -> None:
        self.zone = zone
        super().__init__(f"unknown safety zone {zone!r}; the plant has {sorted(known)}")


class UnknownNode(LookupError):
    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"unknown node {node!r}: not in the plant's network")


class NoRoute(Exception):
    """No route for `vehicle_class` from `source` to `target`; `reason` says why, `detail` names the culprits."""

    def __init__(
        self, vehicle_class: str, source: str, target: str, reason: NoRouteReason, detail: str = ""
    ) -> None:
        self.vehicle_class = vehicle_class
        self.source = source
        self.target = target
        self.reason = reason
        self.detail = detail
        message = f"no route for {vehicle_class} from {source} to {target}: {reason.value}"
        super().__init__(f"{message} ({detail})" if detail else message)


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """One edge of a route: its length (m), time (s), explicit penalty and the cost it adds."""

    edge: RoutingEdge
    length: float
    time: float
    penalty: float
    cost: float


@dataclass(frozen=True, slots=True)
class Route:
    """A route: `cost` is what the profile minimised (including penalties and any stop allowance);
    `length` is metres; `time` is seconds at the profile's speed, without penalties, with the stop
    allowance when the profile asks for it."""

    vehicle_class: str
    profile: CostProfile
    nodes: tuple[str, ...]
    legs: tuple[RouteLeg, ...]
    length: float
    time: float
    cost: float

    @property
    def source(self) -> str:
        return self.nodes[0]

    @property
    def target(self) -> str:
        return self.nodes[-1]

    @property
    def edges(self) -> tuple[Edge, ...]:
        return tuple((leg.edge.source, leg.edge.target) for leg in self.legs)


@dataclass(frozen=True)
class _Edges:
    """The edges of one class graph as arrays in a fixed order; never changes (the plant is read-only)."""

    nodes: list[str]
    index: dict[str, int]
    keys: list[Edge]
    position: dict[Edge, int]
    heads: npt.NDArray[np.intp]
    tails: npt.NDArray[np.intp]
    length: npt.NDArray[np.float64]
    speed_limit: npt.NDArray[np.float64]  # inf where the edge has none
    by_zone: dict[str, list[int]]
    into: dict[str, list[int]]
    out_of: dict[str, list[int]]
    csr_order: npt.NDArray[np.intp]  # edge positions sorted by (head, tail): the CSR layout, fixed per graph

    @classmethod
    def of(cls, graph: nx.DiGraph[str]) -> _Edges:
        nodes = list(graph)
        index = {n: i for i, n in enumerate(nodes)}
        keys: list[Edge] = list(graph.edges)
        by_zone: dict[str, list[int]] = {}
        into: dict[str, list[int]] = {}
        out_of: dict[str, list[int]] = {}
        lengths: list[float] = []
        limits: list[float] = []
        for i, (u, v) in enumerate(keys):
            data = graph.edges[u, v]
            lengths.append(data["length"])
            limits.append(data["speed_limit"] or INF)
            into.setdefault(v, []).append(i)
            out_of.setdefault(u, []).append(i)
            for zone in data["zones"]:
                by_zone.setdefault(zone, []).append(i)
        heads = np.fromiter((index[u] for u, _ in keys), dtype=np.intp, count=len(keys))
        tails = np.fromiter((index[v] for _, v in keys), dtype=np.intp, count=len(keys))
        return cls(
            nodes,
            index,
            keys,
            {k: i for i, k in enumerate(keys)},
            heads,
            tails,
            np.array(lengths, dtype=np.float64),
            np.array(limits, dtype=np.float64),
            by_zone,
            into,
            out_of,
            np.lexsort((tails, heads)).astype(np.intp),
        )


class _Columns(MutableMapping[str, npt.NDArray[np.float64]]):
    """Cached columns (costs to a node from every node) in one node-major array: `_data[v, slot]` is the cost
    from node v to the target in `slot`; freed slots are reused. A decision's matrix (100 sources x ~1,000
    targets) is then one copy of 100 rows and one gather, not ~1,000 small gathers over 40 MB, and a topology
    change hands the store to the new table. When full, the array grows by half, copying it once (measured
    faster for the decision than fixed blocks, or room reserved ahead and filled column by column). Reading a
    column gives a read-only view of its slot, valid until the column is deleted or replaced."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: npt.NDArray[np.float64] = np.empty((size, 0))
        self._slot: dict[str, int] = {}
        self._free: list[int] = []

    def __getitem__(self, node: str) -> npt.NDArray[np.float64]:
        view = self._data[:, self._slot[node]]
        view.flags.writeable = False
        return view

    def __setitem__(self, node: str, values: npt.NDArray[np.float64]) -> None:
        slot = self._slot.get(node)
        if slot is None:
            if not self._free:
                self._grow()
            slot = self._slot[node] = self._free.pop()
        self._data[:, slot] = values

    def __delitem__(self, node: str) -> None:
        self._free.append(self._slot.pop(node))

    def __contains__(self, node: object) -> bool:
        return node in self._slot

    def __iter__(self) -> Iterator[str]:
        return iter(self._slot)

    def __len__(self) -> int:
        return len(self._slot)

    def _grow(self) -> None:
        used = self._data.shape[1]
        grown = np.empty((self._size, max(64, used + used // 2)))
        grown[:, :used] = self._data
        self._data = grown
        self._free.extend(range(grown.shape[1] - 1, used - 1, -1))  # lowest slot first

    def entries(self, at: npt.NDArray[np.intp], targets: Iterable[str]) -> npt.NDArray[np.float64]:
        """out[i, j] = cost from node position at[i] to targets[j]."""
        slots = np.fromiter((self._slot[t] for t in targets), dtype=np.intp)
        out: npt.NDArray[np.float64] = self._data[at][:, slots]
        return out


def _entries(
    cache: Mapping[str, npt.NDArray[np.float64]], at: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """The cached vectors' values at node positions `at`: vectors (in the cache's order) x positions."""
    if isinstance(cache, _Columns):
        return cache.entries(at, cache).T
    return np.stack([values[at] for values in cache.values()])


@dataclass
class _Table:
    """Edge costs of one class and profile at one version, and the costs from (rows) and to (columns)
    the nodes asked about so far, as the searches found them: without the stop allowance (added on reading),
    so that `_keep_unaffected` can compare them bit for bit."""

    version: int
    edges: _Edges
    costs: npt.NDArray[np.float64]  # per edge, inf where closed or forbidden
    allowance: float
    rows: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    columns: _Columns = field(init=False)
    dropped: list[str] = field(default_factory=list)  # columns a change made wrong, not searched again yet
    _matrix: Any = None
    _reversed: Any = None
    _graph: nx.DiGraph[str] | None = None

    def __post_init__(self) -> None:
        self.columns = _Columns(len(self.edges.nodes))

    @property
    def index(self) -> dict[str, int]:
        return self.edges.index

    def matrix(self) -> Any:
        """The usable edges as a scipy CSR array (every cost is > 0: edges have positive lengths).

        Built straight in CSR layout from the graph's fixed edge order (`csr_order`): no COO sort per table."""
        if self._matrix is None:
            order = self.edges.csr_order
            data = self.costs[order]
            usable = np.isfinite(data)
            size = len(self.edges.nodes)
            heads = self.edges.heads[order][usable]
            indptr = np.zeros(size + 1, dtype=np.int32)
            np.cumsum(np.bincount(heads, minlength=size), out=indptr[1:])
            indices = self.edges.tails[order][usable].astype(np.int32)
            self._matrix = _sparse.csr_array((data[usable], indices, indptr), shape=(size, size))
        return self._matrix

    def reversed_matrix(self) -> Any:
        """`matrix()` transposed (edges reversed), for searches towards a node; built once per table."""
        if self._reversed is None:
            self._reversed = self.matrix().T.tocsr()
        return self._reversed

    def graph(self) -> nx.DiGraph[str]:
        """The usable edges as a networkx graph with their `cost`."""
        if self._graph is None:
            self._graph = _graph_of(self.edges, self.costs)
        return self._graph


def _keep_unaffected(old: _Table, new: _Table) -> None:
    """Carry over the cached rows and columns of `old` that are exact under the edge costs of `new`.

    A cached vector d (a row: costs from a source; a column: costs to a target, i.e. a search on the reversed
    graph) stays exact, bit for bit, when it still solves the search's equations d[v] = min over the edges
    (u, v) into v of d[u] + c(u, v) (float sums, as the search computes them) under the new costs:

    * no edge that got cheaper gives a smaller sum than d[v] (a shortcut), and
    * every node v that an edge which got dearer was tight for (d[u] + c_old = d[v]) still has an edge into
      it whose new sum equals d[v] (another way, as good).

    Those equations have one solution when every cost is positive, so the search on the new costs would give
    d again. On a grid, closing a node therefore keeps nearly every column (its neighbours have other ways
    to the target); a row loses the closed node itself, so it is dropped unless it never reached it.
    """
    changed = np.flatnonzero(old.costs != new.costs)
    new.dropped = list(old.dropped)
    # The new table takes the old one's column store over (the old table is not used after a change).
    new.columns, old.columns = old.columns, new.columns
    if changed.size == 0:
        new.rows = dict(old.rows)
        return
    edges = new.edges
    for forward in (True, False):
        cache: MutableMapping[str, npt.NDArray[np.float64]] = old.rows if forward else new.columns
        if not cache:
            continue
        # Search direction: an edge leads from `parent` to `child`; `ins[v]`: the edges into v that way.
        parent, child = (edges.heads, edges.tails) if forward else (edges.tails, edges.heads)
        ins = edges.into if forward else edges.out_of
        keep = _exact_under(
            cache,
            changed,
            parent=parent,
            child=child,
            ins=ins,
            names=edges.nodes,
            before=old.costs,
            after=new.costs,
        )
        for node, kept in zip(list(cache), keep, strict=True):
            if forward and kept:
                new.rows[node] = cache[node]
            elif not forward and not kept:
                del cache[node]
                new.dropped.append(node)


def _exact_under(
    cache: Mapping[str, npt.NDArray[np.float64]],
    changed: npt.NDArray[np.intp],
    *,
    parent: npt.NDArray[np.intp],
    child: npt.NDArray[np.intp],
    ins: dict[str, list[int]],
    names: list[str],
    before: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """For each cached vector, whether it solves the search equations under `after` (see _keep_unaffected).
    Vectorised over the vectors: only the few nodes the changed edges touch are gathered."""
    dearer = changed[after[changed] > before[changed]]
    cheaper = changed[after[changed] < before[changed]]
    heads = np.unique(child[dearer])  # nodes that may have lost their only way
    alternatives = [np.asarray(ins.get(names[v], ()), dtype=np.intp) for v in heads]
    alt = np.concatenate([*alternatives, np.empty(0, dtype=np.intp)])
    alt_head = np.repeat(np.arange(len(heads)), [len(a) for a in alternatives])
    wanted = np.unique(np.concatenate([parent[changed], child[changed], parent[alt], heads]))
    d = _entries(cache, wanted)  # vectors x wanted nodes
    at = {int(n): i for i, n in enumerate(wanted)}

    def gather(nodes: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return d[:, [at[int(n)] for n in nodes]]

    with np.errstate(invalid="ignore"):
        ok = np.ones(len(cache), dtype=bool)
        if cheaper.size:
            ok &= ~(gather(parent[cheaper]) + after[cheaper] < gather(child[cheaper])).any(axis=1)
        if dearer.size:
            d_child = gather(child[dearer])
            tight = np.isfinite(d_child) & (gather(parent[dearer]) + before[dearer] <= d_child)
            # Per vector and node: a tight dearer edge into it (lost), an edge into it as good now (still).
            # Grouped by node with a product of 0/1 matrices (edges x nodes), not a loop over the nodes.
            of_head = np.searchsorted(heads, child[dearer])
            lost = tight.astype(np.float64) @ (of_head[:, None] == np.arange(len(heads))) > 0
            way = gather(parent[alt]) + after[alt] == gather(heads)[:, alt_head]
            still = way.astype(np.float64) @ (alt_head[:, None] == np.arange(len(heads))) > 0
            ok &= ~(lost & ~still).any(axis=1)
    return ok


def _graph_of(edges: _Edges, costs: npt.NDArray[np.float64]) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(edges.nodes)
    graph.add_weighted_edges_from(
        ((*edges.keys[i], float(costs[i])) for i in np.flatnonzero(np.isfinite(costs))), weight="cost"
    )
    return graph


def edge_speed(vclass: VehicleClass, speed_limit: float | None, loaded: bool) -> float:
    speed = vclass.speed_loaded if loaded else vclass.speed_empty
    return min(speed, speed_limit) if speed_limit else speed


def stop_allowance(vclass: VehicleClass, loaded: bool) -> float:
    """Extra seconds to start from and come to a standstill once, over driving at top speed throughout."""
    speed = vclass.speed_loaded if loaded else vclass.speed_empty
    deceleration = vclass.deceleration or vclass.acceleration
    return speed / (2 * vclass.acceleration) + speed / (2 * deceleration)


class Router:
    """Routes and route costs for the vehicle classes of one plant."""

    def __init__(self, plant: Plant, *, use_scipy: bool | None = None) -> None:
        """`use_scipy`: compute cost tables with scipy (default: when it is installed) or networkx."""
        if use_scipy and not HAVE_SCIPY:
            raise ValueError("use_scipy=True but scipy is not installed")
        self._use_scipy = HAVE_SCIPY if use_scipy is None else use_scipy
        self._plant = plant
        self._classes = plant.vehicle_classes
        self._zones = {z.id: z for z in plant.safety_zones}
        self._version = 0
        self._closed_zones: set[str] = {
            z.id for z in plant.safety_zones if z.active and "vehicles" in z.applies_to
        }
        self._closed_edges: set[Edge] = set()
        self._closed_nodes: set[str] = set()
        self._forbidden_edges: dict[str, set[Edge]] = {c: set() for c in self._classes}
        self._forbidden_nodes: dict[str, set[str]] = {c: set() for c in self._classes}
        self._penalties: dict[str | None, dict[Edge, float]] = {None: {}}
        self._tables: dict[tuple[str, CostProfile], _Table] = {}
        self._edges: dict[str, _Edges] = {}
        for vehicle_class in self._classes:  # once per graph, at start: the first cost table only fills costs
            self._edge_arrays(vehicle_class)

    # ------------------------------------------------------------------------------------------ state

    @property
    def plant(self) -> Plant:
        return self._plant

    @property
    def version(self) -> int:
        """Bumped by every change to closures, penalties or prohibitions; cached costs a change affects are dropped."""
        return self._version

    @property
    def closed_zones(self) -> frozenset[str]:
        return frozenset(self._closed_zones)

    @property
    def closed_edges(self) -> frozenset[Edge]:
        return frozenset(self._closed_edges)

    @property
    def closed_nodes(self) -> frozenset[str]:
        return frozenset(self._closed_nodes)

    def _changed(self) -> None:
        # Cached tables are brought up to date lazily (`_table`), keeping the rows a change cannot affect.
        self._version += 1

    def _update(self, target: set[_T], item: _T, add: bool) -> None:
        if (item in target) != add:
            if add:
                target.add(item)
            else:
                target.discard(item)
            self._changed()

    def close_zone(self, zone: str) -> None:
        """Close every edge crossing `zone` to every vehicle class."""
        self._update(self._closed_zones, self._known_zone(zone), True)

    def open_zone(self, zone: str) -> None:
        self._update(self._closed_zones, self._known_zone(zone), False)

    def close_edge(self, source: str, target: str) -> None:
        self._update(self._closed_edges, self._known_edge(source, target), True)

    def open_edge(self, source: str, target: str) -> None:
        self._update(self._closed_edges, self._known_edge(source, target), False)

    def close_node(self, node: str) -> None:
        self._update(self._closed_nodes, self._known_node(node), True)

    def open_node(self, node: str) -> None:
        self._update(self._closed_nodes, self._known_node(node), False)

    def forbid_edge(self, vehicle_class: str, source: str, target: str, forbidden: bool = True) -> None:
        edge = self._known_edge(source, target)
        self._update(self._forbidden_edges[self._known_class(vehicle_class)], edge, forbidden)

    def forbid_node(self, vehicle_class: str, node: str, forbidden: bool = True) -> None:
        forbidden_nodes = self._forbidden_nodes[self._known_class(vehicle_class)]
        self._update(forbidden_nodes, self._known_node(node), forbidden)

    def set_penalty(self, edge: Edge, extra: float, vehicle_class: str | None = None) -> None:
        """Add `extra` (in the profile's unit, >= 0; inf forbids) to `edge`, for one class or (None) all."""
        if math.isnan(extra) or extra < 0:
            raise ValueError(f"a penalty must be >= 0 (inf forbids the edge), got {extra} for {edge}")
        penalties = self._penalties.setdefault(
            None if vehicle_class is None else self._known_class(vehicle_class), {}
        )
        if extra == 0:
            if penalties.pop(edge, None) is not None:
                self._changed()
        elif penalties.get(edge) != extra:
            penalties[edge] = extra
            self._changed()

    def set_penalties(self, penalties: Mapping[Edge, float], vehicle_class: str | None = None) -> None:
        """Replace the penalties of one class (or, with None, those for all classes) by `penalties`."""
        key = None if vehicle_class is None else self._known_class(vehicle_class)
        for edge in list(self._penalties.get(key, {})):
            if edge not in penalties:
                self.set_penalty(edge, 0.0, vehicle_class)
        for edge, extra in penalties.items():
            self.set_penalty(edge, extra, vehicle_class)

    def penalty(self, vehicle_class: str, edge: Edge) -> float:
        return self._penalties[None].get(edge, 0.0) + self._penalties.get(vehicle_class, {}).get(edge, 0.0)

    def _known_class(self, vehicle_class: str) -> str:
        if vehicle_class not in self._classes:
            raise UnknownVehicleClass(vehicle_class, self._classes)
        return vehicle_class

    def _known_node(self, node: str) -> str:
        if node not in self._plant.node_points:
            raise UnknownNode(node)
        return node

    def _known_edge(self, source: str, target: str) -> Edge:
        return self._known_node(source), self._known_node(target)

    def _known_zone(self, zone: str) -> str:
        if zone not in self._zones:
            raise UnknownZone(zone, self._zones)
        return zone

    # ------------------------------------------------------------------------------------------ costs

    def _edge_arrays(self, vehicle_class: str) -> _Edges:
        edges = self._edges.get(vehicle_class)
        if edges is None:
            edges = self._edges[vehicle_class] = _Edges.of(self._plant.graph(vehicle_class))
        return edges

    def _costs(
        self, vehicle_class: str, profile: CostProfile, *, closures: bool = True
    ) -> npt.NDArray[np.float64]:
        """Per-edge costs of the class graph now: base metric plus penalties, inf where forbidden (or closed)."""
        edges = self._edge_arrays(vehicle_class)
        if profile.metric is Metric.DISTANCE:
            costs = edges.length.copy()
        else:
            vclass = self._classes[vehicle_class]
            speed = vclass.speed_loaded if profile.loaded else vclass.speed_empty
            costs = edges.length / np.minimum(speed, edges.speed_limit)
        for penalties in (self._penalties[None], self._penalties.get(vehicle_class, {})):
            for key, extra in penalties.items():
                if (i := edges.position.get(key)) is not None:
                    costs[i] += extra
        blocked: list[int] = []
        blocked.extend(
            i for key in self._forbidden_edges[vehicle_class] if (i := edges.position.get(key)) is not None
        )
        for node in self._forbidden_nodes[vehicle_class]:
            blocked.extend(edges.into.get(node, ()))
        if closures:
            for zone in self._closed_zones:
                blocked.extend(edges.by_zone.get(zone, ()))
            blocked.extend(i for key in self._closed_edges if (i := edges.position.get(key)) is not None)
            for node in self._closed_nodes:
                blocked.extend(edges.into.get(node, ()))
        costs[blocked] = INF
        return costs

    def _table(self, vehicle_class: str, profile: CostProfile) -> _Table:
        key = (self._known_class(vehicle_class), profile)
        table = self._tables.get(key)
        if table is None or table.version != self._version:
            allowance = self._allowance(vehicle_class, profile) if profile.metric is Metric.TIME else 0.0
            fresh = _Table(
                self._version,
                self._edge_arrays(vehicle_class),
                self._costs(vehicle_class, profile),
                allowance,
            )
            if table is not None:
                _keep_unaffected(table, fresh)
            self._tables[key] = table = fresh
        return table

    def _allowance(self, vehicle_class: str, profile: CostProfile) -> float:
        return stop_allowance(self._classes[vehicle_class], profile.loaded) if profile.stop_allowance else 0.0

    def _dijkstra(self, table: _Table, nodes: list[str], reverse: bool) -> npt.NDArray[np.float64]:
        """Costs from (or, reversed, to) each of `nodes` to (from) every node of the class graph."""
        index = table.index
        found: npt.NDArray[np.float64]
        if self._use_scipy:
            matrix = table.reversed_matrix() if reverse else table.matrix()
            raw = _csgraph.dijkstra(matrix, directed=True, indices=[index[n] for n in nodes])
            found = np.atleast_2d(np.asarray(raw, dtype=np.float64))
        else:
            graph = table.graph().reverse(copy=False) if reverse else table.graph()
            found = np.full((len(nodes), len(index)), INF)
            for i, node in enumerate(nodes):
                lengths = nx.single_source_dijkstra_path_length(graph, node, weight="cost")
                positions = np.fromiter((index[n] for n in lengths), dtype=np.intp, count=len(lengths))
                found[i, positions] = np.fromiter(lengths.values(), dtype=np.float64, count=len(lengths))
        found[np.arange(len(nodes)), [index[n] for n in nodes]] = 0.0
        found.flags.writeable = False
        return found

    def _fill(self, table: _Table, sources: Iterable[str], targets: Iterable[str]) -> bool:
        """Cache what a matrix of `sources` x `targets` needs: one Dijkstra per missing source, or per missing
        target on the reversed graph when that is fewer. True if the columns hold the answer."""
        missing_rows = [s for s in dict.fromkeys(sources) if s in table.index and s not in table.rows]
        wanted = [t for t in dict.fromkeys(targets) if t in table.index]
        missing_columns = [t for t in wanted if t not in table.columns]
        if len(missing_columns) < len(missing_rows):
            if missing_columns:
                table.columns.update(
                    zip(missing_columns, self._dijkstra(table, missing_columns, True), strict=True)
                )
            return True
        if missing_rows:
            table.rows.update(zip(missing_rows, self._dijkstra(table, missing_rows, False), strict=True))
        return False

    def prepare(self, vehicle_class: str, targets: Iterable[str], profile: CostProfile = FASTEST) -> int:
        """Compute now the costs to `targets` (one search per target not cached yet, on the reversed graph),
        so that later matrices towards them need no search. Returns how many searches ran. Nodes off the
        class's network are skipped; unknown nodes raise `NoRoute`."""
        table = self._table(vehicle_class, profile)
        wanted = list(dict.fromkeys(targets))
        self._check_known(vehicle_class, (), wanted)
        missing = [t for t in wanted if t in table.index and t not in table.columns]
        if missing:
            table.columns.update(zip(missing, self._dijkstra(table, missing, True), strict=True))
        return len(missing)

    def repair(self) -> int:
        """Bring every cost table up to the current closures, penalties and prohibitions now, and search again
        the cached columns (costs to a node) the changes made wrong, in one batch per table; returns how many
        searches ran. Called where a topology change is handled, so that the next decision finds every column
        it had before the change. Dropped rows (costs from a node: vehicle positions) are not searched
        again."""
        searches = 0
        for vehicle_class, profile in list(self._tables):
            table = self._table(vehicle_class, profile)
            missing = [n for n in dict.fromkeys(table.dropped) if n not in table.columns]
            table.dropped = []
            if missing:
                table.columns.update(zip(missing, self._dijkstra(table, missing, True), strict=True))
            searches += len(missing)
        return searches

    def forget_columns(
        self, vehicle_class: str, keep: Iterable[str], profile: CostProfile = FASTEST, *, slack: int = 0
    ) -> int:
        """Drop the cached columns (costs to a node) of nodes not in `keep`, if there are more than
        len(keep) + `slack` of them; returns how many were dropped. Keeps the cache from growing with every
        node an order ever went to."""
        table = self._table(vehicle_class, profile)
        wanted = set(keep)
        if len(table.columns) <= len(wanted) + slack:
            return 0
        table.dropped = [node for node in table.dropped if node in wanted]
        unwanted = [node for node in table.columns if node not in wanted]
        for node in unwanted:
            del table.columns[node]
        return len(unwanted)

    def _check_known(self, vehicle_class: str, sources: Iterable[str], targets: Iterable[str]) -> None:
        known = self._plant.node_points
        for node in sources:
            if node not in known:
                raise NoRoute(vehicle_class, node, "*", NoRouteReason.UNKNOWN_NODE, f"{node!r}")
        for node in targets:
            if node not in known:
                raise NoRoute(vehicle_class, "*", node, NoRouteReason.UNKNOWN_NODE, f"{node!r}")

    def edge_cost(
        self, vehicle_class: str, source: str, target: str, profile: CostProfile = FASTEST
    ) -> float:
        """The cost of one edge as routes see it now: inf when closed, forbidden or not in the class graph."""
        table = self._table(vehicle_class, profile)
        i = table.edges.position.get((source, target))
        return INF if i is None else float(table.costs[i])

    def cost(self, vehicle_class: str, source: str, target: str, profile: CostProfile = FASTEST) -> float:
        """The cost of the best route now; inf if there is none. Unknown classes or nodes raise."""
        table = self._table(vehicle_class, profile)
        self._check_known(vehicle_class, (source,), (target,))
        if source not in table.index or target not in table.index:
            return INF
        if source == target:
            return 0.0
        if target in table.columns:
            return float(table.columns[target][table.index[source]] + table.allowance)
        if source not in table.rows:
            table.rows[source] = self._dijkstra(table, [source], False)[0]
        return float(table.rows[source][table.index[target]] + table.allowance)

    def cost_matrix(
        self,
        vehicle_class: str,
        sources: Sequence[str],
        targets: Sequence[str],
        profile: CostProfile = FASTEST,
    ) -> npt.NDArray[np.float64]:
        """costs[i, j] = cost(sources[i], targets[j]), as a new array.

        One Dijkstra per distinct source not yet cached (or per distinct target on the reversed graph, when
        fewer), batched; kept until the next change. Nodes off the class's network give inf; nodes unknown
        to the plant raise `NoRoute`. Forward and reverse searches may differ in the last bits of a float.
        """
        table = self._table(vehicle_class, profile)
        self._check_known(vehicle_class, sources, targets)
        result = np.full((len(sources), len(targets)), INF)
        if not sources or not targets:
            return result
        index = table.index
        by_columns = self._fill(table, sources, targets)
        rows = np.fromiter((s in index for s in sources), dtype=bool, count=len(sources))
        columns = np.fromiter((t in index for t in targets), dtype=bool, count=len(targets))
        if not rows.any() or not columns.any():
            return result
        on_sources = [s for s in sources if s in index]
        on_targets = [t for t in targets if t in index]
        # Pick the wanted entries of each cached vector, rather than stacking whole vectors first.
        at_sources = np.fromiter((index[s] for s in on_sources), dtype=np.intp, count=len(on_sources))
        at_targets = np.fromiter((index[t] for t in on_targets), dtype=np.intp, count=len(on_targets))
        if by_columns:
            block = table.columns.entries(at_sources, on_targets)
        else:
            block = np.stack([table.rows[s][at_targets] for s in on_sources])
        if table.allowance:
            block += table.allowance
            block[at_sources[:, None] == at_targets[None, :]] = 0.0  # no stop to start from
        result[np.ix_(rows, columns)] = block
        return result

    # ------------------------------------------------------------------------------------------ routes

    def route(self, vehicle_class: str, source: str, target: str, profile: CostProfile = FASTEST) -> Route:
        """The best route now, or `NoRoute` saying why there is none."""
        table = self._table(vehicle_class, profile)
        self._check_known(vehicle_class, (source,), (target,))
        for node in (source, target):
            if node not in table.index:
                raise NoRoute(
                    vehicle_class, source, target, NoRouteReason.NOT_ON_NETWORK, f"{node} is not on it"
                )
        path = self._path(table, source, target)
        if path is None:
            raise self._why_not(vehicle_class, source, target, profile)
        legs = tuple(self._leg(vehicle_class, u, v, profile) for u, v in pairwise(path))
        allowance = self._allowance(vehicle_class, profile) if legs else 0.0
        cost = time = length = 0.0
        for leg in legs:
            cost += leg.cost
            time += leg.time
            length += leg.length
        if profile.metric is Metric.TIME:
            cost += allowance
        return Route(vehicle_class, profile, tuple(path), legs, length, time + allowance, cost)

    def _path(self, table: _Table, source: str, target: str) -> list[str] | None:
        if not self._use_scipy:
            try:
                path: list[str] = nx.dijkstra_path(table.graph(), source, target, weight="cost")
            except nx.NetworkXNoPath:
                return None
            return path
        index = table.index
        found, predecessors = _csgraph.dijkstra(
            table.matrix(), directed=True, indices=index[source], return_predecessors=True
        )
        at = index[target]
        if not math.isfinite(found[at]):
            return None
        steps = [at]
        while at != index[source]:
            at = int(predecessors[at])
            steps.append(at)
        return [table.edges.nodes[i] for i in reversed(steps)]

    def _leg(self, vehicle_class: str, source: str, target: str, profile: CostProfile) -> RouteLeg:
        data = self._plant.graph(vehicle_class).edges[source, target]
        length: float = data["length"]
        time = length / edge_speed(self._classes[vehicle_class], data["speed_limit"], profile.loaded)
        penalty = self.penalty(vehicle_class, (source, target))
        base = length if profile.metric is Metric.DISTANCE else time
        return RouteLeg(data["edge"], length, time, penalty, base + penalty)

    def _why_not(self, vehicle_class: str, source: str, target: str, profile: CostProfile) -> NoRoute:
        graph = self._plant.graph(vehicle_class)
        opened = _graph_of(
            self._edge_arrays(vehicle_class), self._costs(vehicle_class, profile, closures=False)
        )
        if nx.has_path(opened, source, target):
            path: list[str] = nx.dijkstra_path(opened, source, target, weight="cost")
            steps = list(pairwise(path))
            zones = sorted(
                {z for u, v in steps for z in graph.edges[u, v]["zones"] if z in self._closed_zones}
            )
            edges = [f"{u}->{v}" for u, v in steps if (u, v) in self._closed_edges]
            nodes = [v for _, v in steps if v in self._closed_nodes]
            parts = [
                f"{label} {', '.join(items)}"
                for label, items in (("closed zone", zones), ("closed edge", edges), ("closed node", nodes))
                if items
            ]
            detail = "the best of them crosses " + "; ".join(parts)
            return NoRoute(vehicle_class, source, target, NoRouteReason.CLOSED, detail)
        if nx.has_path(graph, source, target):
            return NoRoute(vehicle_class, source, target, NoRouteReason.FORBIDDEN)
        return NoRoute(vehicle_class, source, target, NoRouteReason.NO_PATH)
