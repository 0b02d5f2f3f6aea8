"""Property tests: the routing graphs derived from a plant file agree with its geometry.

Random networks (nodes, one- and two-way edges with bends, class restrictions, given lengths), a rail with
stops and a safety zone are built into a plant; each property is checked against an independent reading of
the same file, not against the code under test.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from layout import Plant
from layout.build import build_plant
from layout.rules import check_plant_file
from layout.schema import PlantFile
from tests.plant_strategies import scattered_network

CLASSES = ("agv-a", "agv-b", "agv-c")
SIZE = 200.0


@st.composite
def plant_files(draw: st.DrawFn) -> dict[str, Any]:
    nodes, pairs = draw(scattered_network(25))
    edges = []
    for a, b in pairs:
        edge: dict[str, Any] = {"from": f"N{a}", "to": f"N{b}", "two_way": draw(st.booleans())}
        if draw(st.booleans()):
            edge["classes"] = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            edge["via"] = [[draw(st.floats(1, SIZE - 1)), draw(st.floats(1, SIZE - 1))]]
        if draw(st.booleans()):
            edge["length"] = "stretched"  # filled in below, once the drawn length is known
            edge["stretch"] = draw(st.floats(1.0, 3.0))
        edges.append(edge)
    for edge in edges:
        if edge.pop("length", None) is not None:
            stretch = edge.pop("stretch")
            points = [
                nodes[int(edge["from"][1:])]["at"],
                *edge.get("via", []),
                nodes[int(edge["to"][1:])]["at"],
            ]
            edge["length"] = _polyline(points) * stretch + 0.01
    rail_path = [[2.0, 195.0], [100.0, 195.0], [100.0, 150.0]]
    stops_at = sorted(
        draw(st.lists(st.floats(0, 143), min_size=2, max_size=6, unique_by=lambda v: round(v, 1)))
    )
    stops_at = [a for i, a in enumerate(stops_at) if i == 0 or a - stops_at[i - 1] > 0.5]
    if len(stops_at) < 2:
        stops_at = [0.0, 143.0]
    zone = draw(st.tuples(st.floats(0, 150), st.floats(0, 150), st.floats(5, 50), st.floats(5, 50)))
    x, y, w, h = zone
    return {
        "plant": {"id": "prop", "outline": [[0, 0], [SIZE, 0], [SIZE, SIZE], [0, SIZE]]},
        "network": {
            "nodes": nodes,
            "edges": edges,
            "rails": [
                {
                    "id": "RL",
                    "path": rail_path,
                    "stops": [{"id": f"S{i}", "at": a} for i, a in enumerate(stops_at)],
                }
            ],
        },
        "vehicle_classes": [_agv(c) for c in CLASSES] + [{**_agv("rgv"), "kind": "rgv", "rail": "RL"}],
        "safety_zones": [{"id": "Z", "outline": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]}],
    }


def _agv(cid: str) -> dict[str, Any]:
    return {
        "id": cid,
        "kind": "agv",
        "speed_empty": 1.5,
        "speed_loaded": 1.0,
        "acceleration": 0.3,
        "capacity": 30,
        "footprint": {"length": 6, "width": 2.8},
    }


def _polyline(points: list[list[float]]) -> float:
    return sum(math.dist(a, b) for a, b in pairwise(points))


def _build(raw: dict[str, Any]) -> Plant:
    plant_file = PlantFile.model_validate(raw)
    assert check_plant_file(plant_file) == []
    return build_plant(plant_file)


def _allowed(raw: dict[str, Any], cid: str) -> set[tuple[str, str]]:
    """Directed node pairs class `cid` may drive, read straight from the file."""
    pairs: set[tuple[str, str]] = set()
    for edge in raw["network"]["edges"]:
        if "classes" in edge and cid not in edge["classes"]:
            continue
        pairs.add((edge["from"], edge["to"]))
        if edge["two_way"]:
            pairs.add((edge["to"], edge["from"]))
    return pairs


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(plant_files())
def test_each_class_graph_has_exactly_the_edges_open_to_it(raw: dict[str, Any]) -> None:
    plant = _build(raw)
    for cid in CLASSES:
        assert set(plant.graph(cid).edges) == _allowed(raw, cid)
        assert set(plant.graph(cid).nodes) == {n["id"] for n in raw["network"]["nodes"]}
    rgv = plant.graph("rgv")
    assert all(rgv.edges[u, v]["edge"].rail == "RL" for u, v in rgv.edges)


@PROPERTY
@given(plant_files())
def test_edge_lengths_follow_the_drawn_path_unless_given(raw: dict[str, Any]) -> None:
    plant = _build(raw)
    points = {n["id"]: n["at"] for n in raw["network"]["nodes"]}
    by_pair = {}
    for edge in raw["network"]["edges"]:
        by_pair[(edge["from"], edge["to"])] = edge
        if edge["two_way"]:
            by_pair[(edge["to"], edge["from"])] = edge
    for cid in CLASSES:
        graph = plant.graph(cid)
        for u, v in graph.edges:
            length = graph.edges[u, v]["length"]
            edge = by_pair[(u, v)]
            drawn = _polyline([points[edge["from"]], *edge.get("via", []), points[edge["to"]]])
            expected = edge.get("length", drawn)
            assert math.isclose(length, expected, rel_tol=1e-9)
            assert length >= math.dist(points[u], points[v]) - 1e-9


@PROPERTY
@given(plant_files())
def test_connectivity_matches_the_file(raw: dict[str, Any]) -> None:
    plant = _build(raw)
    points = {n["id"]: n["at"] for n in raw["network"]["nodes"]}
    for cid in CLASSES:
        reach = _closure(_allowed(raw, cid), set(points))
        graph = plant.graph(cid)
        for source, at in points.items():
            assert set(nx.descendants(graph, source)) | {source} == reach[source]
            distances = nx.single_source_dijkstra_path_length(graph, source, weight="length")
            for target, distance in distances.items():
                # No route is shorter than the straight line: lengths come from geometry.
                assert distance >= math.dist(at, points[target]) - 1e-6


def _closure(pairs: set[tuple[str, str]], nodes: set[str]) -> dict[str, set[str]]:
    """Reachability by repeated relaxation: an independent reading of the directed edges."""
    reach = {n: {n} for n in nodes}
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            for n in nodes:
                if a in reach[n] and b not in reach[n]:
                    reach[n].add(b)
                    changed = True
    return reach


@PROPERTY
@given(plant_files())
def test_rail_stops_lie_on_the_rail_in_order(raw: dict[str, Any]) -> None:
    plant = _build(raw)
    rail = raw["network"]["rails"][0]
    track = LineString(rail["path"])
    stops = sorted(rail["stops"], key=lambda s: s["at"])
    graph = plant.graph("rgv")
    for stop in stops:
        x, y = plant.node_points[stop["id"]]
        assert track.distance(Point(x, y)) < 1e-6
        assert math.isclose(track.project(Point(x, y)), stop["at"], abs_tol=1e-6)
    for a, b in pairwise(stops):
        assert math.isclose(graph.edges[a["id"], b["id"]]["length"], b["at"] - a["at"], abs_tol=1e-9)
        assert graph.has_edge(b["id"], a["id"])
    assert graph.number_of_edges() == 2 * (len(stops) - 1)


@PROPERTY
@given(plant_files())
def test_safety_zones_tag_exactly_the_edges_that_cross_them(raw: dict[str, Any]) -> None:
    plant = _build(raw)
    zone = Polygon(raw["safety_zones"][0]["outline"])
    for edge in plant.edges:
        samples = [
            LineString(edge.points).interpolate(f, normalized=True) for f in (i / 50 for i in range(51))
        ]
        if any(zone.contains(p) for p in samples):
            assert "Z" in edge.zones
        if "Z" in edge.zones:
            assert LineString(edge.points).distance(zone) < 1e-9
