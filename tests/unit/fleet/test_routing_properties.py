"""Property tests: on random plants, the router agrees with networkx run on weights the test computes itself.

Random networks (one- and two-way edges, speed limits, class restrictions), a rail, a safety zone that may
be active, and random penalties, prohibitions and closures. The expected weight of each edge is worked out
here from the edge's attributes, not by the router.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.routing import HAVE_SCIPY, SHORTEST, CostProfile, Metric, NoRoute, Router
from layout import Plant
from layout.build import build_plant
from layout.schema import PlantFile
from tests.plant_strategies import scattered_network

CLASSES = ("agv-a", "agv-b")
SIZE = 200.0
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILES = st.builds(CostProfile, st.sampled_from(Metric), st.booleans(), st.booleans())


@st.composite
def plant_files(draw: st.DrawFn) -> dict[str, Any]:
    nodes, pairs = draw(scattered_network(14))
    edges = []
    for a, b in pairs:
        edge: dict[str, Any] = {"from": f"N{a}", "to": f"N{b}", "two_way": draw(st.booleans())}
        if draw(st.booleans()):
            edge["speed_limit"] = draw(st.sampled_from([0.3, 0.5, 1.0, 1.2, 3.0]))
        if draw(st.integers(0, 3)) == 0:
            edge["classes"] = [draw(st.sampled_from(CLASSES))]
        edges.append(edge)
    x, y, w, h = draw(st.tuples(st.floats(0, 150), st.floats(0, 150), st.floats(5, 60), st.floats(5, 60)))
    return {
        "plant": {"id": "prop", "outline": [[0, 0], [SIZE, 0], [SIZE, SIZE], [0, SIZE]]},
        "network": {
            "nodes": nodes,
            "edges": edges,
            "rails": [
                {
                    "id": "RL",
                    "path": [[2.0, 195.0], [100.0, 195.0], [100.0, 150.0]],
                    "stops": [{"id": "S0", "at": 0.0}, {"id": "S1", "at": 60.0}, {"id": "S2", "at": 143.0}],
                    "speed_limit": 1.0,
                }
            ],
        },
        "vehicle_classes": [
            _agv("agv-a", draw(st.sampled_from([0.8, 1.5, 2.0])), draw(st.sampled_from([0.6, 1.0]))),
            _agv("agv-b", 1.5, 1.0),
            {**_agv("rgv", 1.5, 1.2), "kind": "rgv", "rail": "RL"},
        ],
        "safety_zones": [
            {
                "id": "Z",
                "outline": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]],
                "active": draw(st.booleans()),
            }
        ],
    }


def _agv(cid: str, empty: float, loaded: float) -> dict[str, Any]:
    return {
        "id": cid,
        "kind": "agv",
        "speed_empty": empty,
        "speed_loaded": loaded,
        "acceleration": 0.3,
        "capacity": 30,
        "footprint": {"length": 6, "width": 2.8},
    }


def _build(raw: dict[str, Any]) -> Plant:
    return build_plant(PlantFile.model_validate(raw))


class Scenario:
    """A router with random penalties, prohibitions and closures, and the weights the test expects."""

    def __init__(self, plant: Plant, data: st.DataObject, use_scipy: bool) -> None:
        self.plant = plant
        self.router = Router(plant, use_scipy=use_scipy)
        self.cid = data.draw(st.sampled_from((*CLASSES, "rgv")), label="class")
        self.profile = data.draw(PROFILES, label="profile")
        graph = plant.graph(self.cid)
        edges = sorted(graph.edges)
        pick = st.sampled_from(edges or [("", "")])
        room = 1 if edges else 0
        self.penalties: dict[tuple[str, str], float] = dict(
            data.draw(st.lists(st.tuples(pick, st.floats(0.5, 50.0)), max_size=4 * room), label="penalties")
        )
        self.forbidden = set(data.draw(st.lists(pick, max_size=3 * room), label="forbidden edges"))
        self.closed = set(data.draw(st.lists(pick, max_size=2 * room), label="closed edges"))
        self.zone_closed = data.draw(st.booleans(), label="zone Z closed")
        self.apply(self.router)

    def apply(self, router: Router) -> None:
        for edge, extra in self.penalties.items():
            router.set_penalty(edge, extra, vehicle_class=self.cid)
        for u, v in self.forbidden:
            router.forbid_edge(self.cid, u, v)
        for u, v in self.closed:
            router.close_edge(u, v)
        if self.zone_closed:
            router.close_zone("Z")
        else:
            router.open_zone("Z")

    def undo(self, router: Router) -> None:
        """Take back what `apply` did: every cost goes back down to the plain plant's."""
        router.set_penalties({}, vehicle_class=self.cid)
        for u, v in self.forbidden:
            router.forbid_edge(self.cid, u, v, forbidden=False)
        for u, v in self.closed:
            router.open_edge(u, v)
        router.open_zone("Z")

    def blocked(self, u: str, v: str) -> bool:
        zones = self.plant.graph(self.cid).edges[u, v]["zones"]
        return (u, v) in self.forbidden or (u, v) in self.closed or (self.zone_closed and "Z" in zones)

    def weight(self, u: str, v: str, d: dict[str, Any]) -> float | None:
        if self.blocked(u, v):
            return None
        vclass = self.plant.vehicle_classes[self.cid]
        speed = vclass.speed_loaded if self.profile.loaded else vclass.speed_empty
        if d["speed_limit"] is not None:
            speed = min(speed, d["speed_limit"])
        base = d["length"] if self.profile.metric is Metric.DISTANCE else d["length"] / speed
        return float(base + self.penalties.get((u, v), 0.0))

    def allowance(self) -> float:
        if not (self.profile.stop_allowance and self.profile.metric is Metric.TIME):
            return 0.0
        vclass = self.plant.vehicle_classes[self.cid]
        speed = vclass.speed_loaded if self.profile.loaded else vclass.speed_empty
        return speed / (2 * vclass.acceleration) * 2  # no deceleration given: it equals the acceleration

    def expected(self, source: str, target: str) -> float:
        if source == target:
            return 0.0
        try:
            found = nx.shortest_path_length(self.plant.graph(self.cid), source, target, weight=self.weight)
        except nx.NetworkXNoPath:
            return math.inf
        return float(found) + self.allowance()


ENGINES = [False, True] if HAVE_SCIPY else [False]


@pytest.mark.parametrize("use_scipy", ENGINES)
@PROPERTY
@given(raw=plant_files(), data=st.data())
def test_route_cost_is_networkx_shortest_path_length(
    raw: dict[str, Any], data: st.DataObject, use_scipy: bool
) -> None:
    scenario = Scenario(_build(raw), data, use_scipy)
    graph = scenario.plant.graph(scenario.cid)
    for source in graph:
        for target in graph:
            expected = scenario.expected(source, target)
            assert math.isclose(
                scenario.router.cost(scenario.cid, source, target, scenario.profile), expected
            )
            if math.isinf(expected):
                with pytest.raises(NoRoute):
                    scenario.router.route(scenario.cid, source, target, scenario.profile)
                continue
            route = scenario.router.route(scenario.cid, source, target, scenario.profile)
            assert math.isclose(route.cost, expected)
            # A valid path of the class graph, from source to target, over edges open to the class now.
            assert route.nodes[0] == source and route.nodes[-1] == target
            assert len(route.legs) == len(route.nodes) - 1
            for (u, v), leg in zip(route.edges, route.legs, strict=True):
                assert graph.has_edge(u, v)
                assert leg.edge == graph.edges[u, v]["edge"]
                assert not scenario.blocked(u, v)
                assert (u, v) not in scenario.forbidden
            assert list(route.edges) == list(zip(route.nodes, route.nodes[1:], strict=False))
            assert math.isclose(
                route.length, sum(graph.edges[e]["length"] for e in route.edges), abs_tol=1e-9
            )


@pytest.mark.parametrize("use_scipy", ENGINES)
@PROPERTY
@given(raw=plant_files(), data=st.data())
def test_cost_matrix_agrees_with_pairwise_costs(
    raw: dict[str, Any], data: st.DataObject, use_scipy: bool
) -> None:
    plant = _build(raw)
    scenario = Scenario(plant, data, use_scipy)
    every = sorted(plant.node_points)
    sources = data.draw(st.lists(st.sampled_from(every), max_size=12), label="sources")
    targets = data.draw(st.lists(st.sampled_from(every), max_size=12), label="targets")
    matrix = scenario.router.cost_matrix(scenario.cid, sources, targets, scenario.profile)
    assert matrix.shape == (len(sources), len(targets))
    # A second router on the other engine answers the pairwise questions; both match networkx.
    other = Router(plant, use_scipy=not use_scipy and HAVE_SCIPY)
    scenario.apply(other)
    graph = plant.graph(scenario.cid)
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            pairwise_cost = other.cost(scenario.cid, s, t, scenario.profile)
            assert math.isclose(matrix[i, j], pairwise_cost, rel_tol=1e-9)
            expected = scenario.expected(s, t) if s in graph and t in graph else math.inf
            assert math.isclose(matrix[i, j], expected, rel_tol=1e-9)


@PROPERTY
@given(raw=plant_files(), data=st.data())
def test_forbidden_edges_never_appear_and_shortest_routes_are_no_longer_than_any_path(
    raw: dict[str, Any], data: st.DataObject
) -> None:
    plant = _build(raw)
    router = Router(plant)
    cid = data.draw(st.sampled_from(CLASSES), label="class")
    graph = plant.graph(cid)
    edges = sorted(graph.edges)
    if not edges:
        return
    forbidden = set(
        data.draw(st.lists(st.sampled_from(edges), min_size=1, max_size=len(edges)), label="forbidden")
    )
    for u, v in forbidden:
        router.forbid_edge(cid, u, v)
    router.open_zone("Z")
    open_graph = nx.DiGraph(graph.edge_subgraph(set(edges) - forbidden))
    open_graph.add_nodes_from(graph)
    for source in graph:
        row = router.cost_matrix(cid, [source], list(graph), SHORTEST)[0]
        lengths = nx.single_source_dijkstra_path_length(open_graph, source, weight="length")
        for j, target in enumerate(graph):
            if target not in lengths:
                assert row[j] == math.inf
                continue
            assert math.isclose(row[j], lengths[target], abs_tol=1e-9)
            route = router.route(cid, source, target, SHORTEST)
            assert forbidden.isdisjoint(route.edges)
    # Allowing the edges again gives the costs of a router that never forbade them.
    for u, v in forbidden:
        router.forbid_edge(cid, u, v, forbidden=False)
    np.testing.assert_array_equal(
        router.cost_matrix(cid, list(graph), list(graph), SHORTEST),
        Router(plant).cost_matrix(cid, list(graph), list(graph), SHORTEST)
        if not plant.file.safety_zones[0].active
        else _opened(plant).cost_matrix(cid, list(graph), list(graph), SHORTEST),
    )


def _opened(plant: Plant) -> Router:
    router = Router(plant)
    router.open_zone("Z")
    return router


@PROPERTY
@given(raw=plant_files(), data=st.data())
def test_costs_cached_before_a_change_are_exact_after_it(raw: dict[str, Any], data: st.DataObject) -> None:
    """Rows and columns cached before closures, penalties and prohibitions survive only where still exact."""
    plant = _build(raw)
    scenario = Scenario(plant, data, HAVE_SCIPY)
    router = Router(plant, use_scipy=HAVE_SCIPY)
    every = sorted(plant.node_points)
    many = data.draw(st.lists(st.sampled_from(every), min_size=1, max_size=12), label="many")
    few = data.draw(st.lists(st.sampled_from(every), min_size=1, max_size=3), label="few")
    router.cost_matrix(scenario.cid, many, few, scenario.profile)  # cached as columns (fewer targets)
    router.cost_matrix(scenario.cid, few, many, scenario.profile)  # cached as rows
    scenario.apply(router)
    graph = plant.graph(scenario.cid)
    for sources, targets in ((many, few), (few, many)):
        matrix = router.cost_matrix(scenario.cid, sources, targets, scenario.profile)
        for i, s in enumerate(sources):
            for j, t in enumerate(targets):
                expected = scenario.expected(s, t) if s in graph and t in graph else math.inf
                assert math.isclose(matrix[i, j], expected, rel_tol=1e-9), (s, t)


@PROPERTY
@given(raw=plant_files(), data=st.data())
def test_costs_cached_before_a_reopening_are_exact_after_it(raw: dict[str, Any], data: st.DataObject) -> None:
    """Cheaper edges (a zone or edge reopened, a penalty lifted) must drop the rows they would shorten."""
    plant = _build(raw)
    scenario = Scenario(plant, data, HAVE_SCIPY)
    router = Router(plant, use_scipy=HAVE_SCIPY)
    scenario.apply(router)
    every = sorted(plant.node_points)
    many = data.draw(st.lists(st.sampled_from(every), min_size=1, max_size=12), label="many")
    few = data.draw(st.lists(st.sampled_from(every), min_size=1, max_size=3), label="few")
    router.cost_matrix(scenario.cid, many, few, scenario.profile)
    router.cost_matrix(scenario.cid, few, many, scenario.profile)
    scenario.undo(router)
    plain = Router(plant, use_scipy=HAVE_SCIPY)
    plain.open_zone("Z")  # the file may mark Z active; `undo` opened it on the other router too
    for sources, targets in ((many, few), (few, many)):
        got = router.cost_matrix(scenario.cid, sources, targets, scenario.profile)
        want = plain.cost_matrix(scenario.cid, sources, targets, scenario.profile)
        assert np.allclose(got, want, rtol=1e-9, atol=0.0)
