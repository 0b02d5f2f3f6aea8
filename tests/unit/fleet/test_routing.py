"""The router on the tiny plant and on a small triangle: one-way edges, speed limits, zones, rails, caches."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from fleet.routing import (
    FASTEST,
    HAVE_SCIPY,
    SHORTEST,
    CostProfile,
    Metric,
    NoRoute,
    NoRouteReason,
    Router,
    UnknownNode,
    UnknownVehicleClass,
    UnknownZone,
)
from layout import Plant, parse_plant
from tests.wms_factories import tiny_plant

ENGINES = [pytest.param(False, id="networkx"), pytest.param(True, id="scipy")] if HAVE_SCIPY else [False]

# A→B is short but limited to 0.5 m/s; A→C→B is longer (2 × 64.03 m) and open at 2 m/s, through zone ZC,
# which the file declares active.
TRIANGLE = """
plant: {id: tri, outline: [[0, 0], [200, 0], [200, 100], [0, 100]]}
network:
  nodes:
    - {id: A, at: [10, 10]}
    - {id: B, at: [110, 10]}
    - {id: C, at: [60, 50]}
    - {id: D, at: [150, 10]}
  edges:
    - {from: A, to: B, speed_limit: 0.5}
    - {from: A, to: C}
    - {from: C, to: B}
    - {from: B, to: D, two_way: false}
vehicle_classes:
  - {id: agv, kind: agv, speed_empty: 2.0, speed_loaded: 1.0, acceleration: 0.5, deceleration: 0.25,
     capacity: 30, footprint: {length: 6, width: 2.8}}
  - {id: heavy, kind: agv, speed_empty: 1.0, speed_loaded: 0.8, acceleration: 0.2, capacity: 60,
     footprint: {length: 8, width: 3}}
safety_zones:
  - {id: ZC, outline: [[55, 45], [65, 45], [65, 55], [55, 55]], active: true}
"""
SIDE = math.hypot(50, 40)


@cache
def triangle() -> Plant:
    return parse_plant(TRIANGLE)


@pytest.fixture(params=ENGINES)
def tiny(request: pytest.FixtureRequest) -> Router:
    return Router(tiny_plant(), use_scipy=request.param)


@pytest.fixture(params=ENGINES)
def tri(request: pytest.FixtureRequest) -> Router:
    return Router(triangle(), use_scipy=request.param)


# ---------------------------------------------------------------------------------------------- tiny plant


def test_shortest_route_to_the_dock_follows_the_one_way_loop(tiny: Router) -> None:
    there = tiny.route("agv", "W1", "DOCK1", SHORTEST)
    assert there.nodes == ("W1", "W2", "W3", "W4", "W5", "W6", "DOCK1")
    assert math.isclose(there.length, 28 + 14 + 23 + 20 + 16 + 12)
    assert there.cost == pytest.approx(there.length)
    back = tiny.route("agv", "DOCK1", "W1", SHORTEST)
    # W5→W6 is one-way, so the way back leaves the dock by the one-way DOCK1→W5 (bent via (107, 30)).
    assert back.nodes == ("DOCK1", "W5", "W4", "W3", "W2", "W1")
    assert ("W6", "W5") not in back.edges
    assert math.isclose(back.legs[0].length, math.dist((107, 43), (107, 30)) + math.dist((107, 30), (95, 27)))


def test_route_legs_break_down_length_time_and_cost(tiny: Router) -> None:
    route = tiny.route("agv", "W1", "W4", CostProfile(Metric.TIME, loaded=True))
    assert [leg.edge.target for leg in route.legs] == ["W2", "W3", "W4"]
    assert [leg.length for leg in route.legs] == pytest.approx([28, 14, 23])
    assert [leg.time for leg in route.legs] == pytest.approx([28, 14, 23])  # loaded: 1 m/s
    assert route.time == pytest.approx(65) and route.cost == pytest.approx(65)
    assert route.cost == pytest.approx(sum(leg.cost for leg in route.legs))
    assert route.source == "W1" and route.target == "W4"


def test_speed_limited_handover_edge_costs_length_over_the_limit(tiny: Router) -> None:
    route = tiny.route("agv", "W4", "HM-X", FASTEST)
    assert route.nodes == ("W4", "HM-X")
    assert route.legs[0].edge.speed_limit == 0.5
    assert route.time == pytest.approx(5 / 0.5)
    assert tiny.edge_cost("agv", "W4", "HM-X") == pytest.approx(10.0)
    assert tiny.edge_cost("agv", "W3", "W4") == pytest.approx(23 / 1.5)
    assert tiny.edge_cost("agv", "W6", "W5") == math.inf  # one-way: not an edge of the graph
    assert tiny.cost("agv", "W4", "HM-X", SHORTEST) == pytest.approx(5.0)


def test_closing_zone_z1_cuts_off_the_hot_mill_and_names_the_zone(tiny: Router) -> None:
    assert tiny.closed_zones == frozenset()
    before = tiny.version
    tiny.close_zone("Z1")
    assert tiny.version == before + 1
    with pytest.raises(NoRoute) as caught:
        tiny.route("agv", "W1", "HM-X")
    assert caught.value.reason is NoRouteReason.CLOSED
    assert (caught.value.vehicle_class, caught.value.source, caught.value.target) == ("agv", "W1", "HM-X")
    assert "Z1" in str(caught.value) and "closed zone" in str(caught.value)
    assert tiny.cost("agv", "W1", "HM-X") == math.inf
    assert tiny.cost("agv", "W1", "W3") < math.inf  # W1→W3 stays outside the zone
    tiny.open_zone("Z1")
    assert tiny.route("agv", "W1", "HM-X").target == "HM-X"


def test_closed_edges_and_nodes_are_named_too(tiny: Router) -> None:
    tiny.close_edge("W3", "W4")
    with pytest.raises(NoRoute, match="closed edge W3->W4") as caught:
        tiny.route("agv", "W1", "P1")
    assert caught.value.reason is NoRouteReason.CLOSED
    tiny.open_edge("W3", "W4")
    tiny.close_node("W5")
    with pytest.raises(NoRoute, match="closed node W5"):
        tiny.route("agv", "W1", "P1")
    # A vehicle standing on a closed node may leave it; nobody may enter it.
    assert tiny.cost("agv", "W5", "W6") < math.inf
    assert tiny.cost("agv", "W4", "W5") == math.inf


def test_rgv_routes_only_on_its_rail(tiny: Router) -> None:
    route = tiny.route("rgv", "RS1", "RS2")
    assert route.nodes == ("RS1", "RS2")
    assert route.length == pytest.approx(67)
    assert route.time == pytest.approx(67 / 1.5)
    assert all(leg.edge.rail == "RL1" for leg in route.legs)
    with pytest.raises(NoRoute) as caught:
        tiny.route("rgv", "RS1", "W1")
    assert caught.value.reason is NoRouteReason.NOT_ON_NETWORK and "W1" in str(caught.value)
    with pytest.raises(NoRoute) as caught:
        tiny.route("agv", "RS1", "W1")
    assert caught.value.reason is NoRouteReason.NOT_ON_NETWORK
    assert tiny.cost("agv", "RS1", "W1") == math.inf
    assert tiny.cost("rgv", "RS2", "RS1") == pytest.approx(67 / 1.5)


def test_unknown_nodes_classes_and_zones_raise(tiny: Router) -> None:
    with pytest.raises(NoRoute) as caught:
        tiny.route("agv", "W1", "NOWHERE")
    assert caught.value.reason is NoRouteReason.UNKNOWN_NODE and "NOWHERE" in str(caught.value)
    with pytest.raises(NoRoute, match="unknown node"):
        tiny.cost("agv", "NOWHERE", "W1")
    with pytest.raises(NoRoute, match="NOWHERE"):
        tiny.cost_matrix("agv", ["W1"], ["W2", "NOWHERE"])
    with pytest.raises(UnknownVehicleClass, match="'crane'"):
        tiny.route("crane", "W1", "W2")
    with pytest.raises(UnknownVehicleClass):
        tiny.cost_matrix("crane", ["W1"], ["W2"])
    with pytest.raises(UnknownZone, match="'Z9'"):
        tiny.close_zone("Z9")
    with pytest.raises(UnknownNode, match="'W9'"):
        tiny.close_node("W9")
    with pytest.raises(UnknownNode, match="'W9'"):
        tiny.forbid_edge("agv", "W1", "W9")
    assert tiny.version == 0  # nothing changed


def test_no_path_at_all_says_so(tri: Router) -> None:
    # D hangs off B by a one-way edge: there is a way in, none out.
    assert tri.cost("agv", "B", "D") < math.inf
    with pytest.raises(NoRoute) as caught:
        tri.route("agv", "D", "A")
    assert caught.value.reason is NoRouteReason.NO_PATH
    assert str(caught.value) == "no route for agv from D to A: no path"
    assert tri.cost("agv", "D", "A") == math.inf


def test_forbidden_edges_only_bind_their_class(tiny: Router) -> None:
    tiny.forbid_edge("agv", "W5", "W6")
    with pytest.raises(NoRoute) as caught:
        tiny.route("agv", "W1", "DOCK1")
    assert caught.value.reason is NoRouteReason.FORBIDDEN
    assert tiny.edge_cost("agv", "W5", "W6") == math.inf
    tiny.forbid_edge("agv", "W5", "W6", forbidden=False)
    assert tiny.route("agv", "W1", "DOCK1").target == "DOCK1"


def test_route_to_itself_is_empty_and_free(tiny: Router) -> None:
    route = tiny.route("agv", "W1", "W1", CostProfile(stop_allowance=True))
    assert route.nodes == ("W1",) and route.legs == () and route.cost == 0.0
    assert tiny.cost("agv", "W1", "W1", CostProfile(stop_allowance=True)) == 0.0


def test_cost_matrix_equals_pairwise_costs(tiny: Router) -> None:
    nodes = sorted(tiny_plant().node_points)
    sources = [*nodes, "W1", "W1"]
    targets = [*reversed(nodes), "DOCK1"]
    for profile in (SHORTEST, FASTEST, CostProfile(loaded=True, stop_allowance=True)):
        matrix = tiny.cost_matrix("agv", sources, targets, profile)
        assert matrix.shape == (len(sources), len(targets))
        expected = np.array([[tiny.cost("agv", s, t, profile) for t in targets] for s in sources])
        np.testing.assert_allclose(matrix, expected, rtol=1e-12)
        assert np.isinf(matrix[sources.index("RS1")]).all()  # a rail stop: off the AGV network
    assert tiny.cost_matrix("agv", [], ["W1"]).shape == (0, 1)
    assert tiny.cost_matrix("agv", ["W1"], []).shape == (1, 0)


def test_cost_matrix_by_columns_agrees_with_rows(tiny: Router) -> None:
    nodes = list(tiny_plant().graph("agv"))
    by_columns = tiny.cost_matrix("agv", nodes, ["DOCK1", "HM-X"])  # 2 targets < 14 sources: reversed
    fresh = Router(tiny_plant())
    by_rows = np.array([[fresh.cost("agv", s, t) for t in ("DOCK1", "HM-X")] for s in nodes])
    np.testing.assert_allclose(by_columns, by_rows, rtol=1e-12)


def test_a_closure_invalidates_the_cached_matrix(tiny: Router) -> None:
    sources, targets = ["W1", "W2", "DOCK1"], ["HM-X", "DOCK1", "P2"]
    before = tiny.cost_matrix("agv", sources, targets)
    assert np.isfinite(before).all()
    version = tiny.version
    assert np.array_equal(tiny.cost_matrix("agv", sources, targets), before)
    assert tiny.version == version  # asking again changes nothing
    tiny.close_zone("Z1")
    tiny.close_zone("Z1")  # closing twice is one change
    assert tiny.version == version + 1
    after = tiny.cost_matrix("agv", sources, targets)
    assert np.isinf(after[:, 0]).all()  # HM-X hangs off W4, inside Z1
    assert after[0, 1] == math.inf and after[2, 1] == 0.0
    tiny.open_zone("Z1")
    np.testing.assert_array_equal(tiny.cost_matrix("agv", sources, targets), before)


def test_penalties_add_to_edges_and_infinity_forbids(tiny: Router) -> None:
    base = tiny.cost("agv", "W1", "W4", SHORTEST)
    tiny.set_penalty(("W2", "W3"), 7.5)
    assert tiny.cost("agv", "W1", "W4", SHORTEST) == pytest.approx(base + 7.5)
    route = tiny.route("agv", "W1", "W4", SHORTEST)
    assert [leg.penalty for leg in route.legs] == [0.0, 7.5, 0.0]
    assert route.length == pytest.approx(base)  # the length is still metres driven
    tiny.set_penalty(("W2", "W3"), 2.5, vehicle_class="agv")  # class penalties add to plant-wide ones
    assert tiny.cost("agv", "W1", "W4", SHORTEST) == pytest.approx(base + 10)
    tiny.set_penalties({})
    assert tiny.cost("agv", "W1", "W4", SHORTEST) == pytest.approx(base + 2.5)
    tiny.set_penalty(("W3", "W4"), math.inf, vehicle_class="agv")
    with pytest.raises(NoRoute) as caught:
        tiny.route("agv", "W1", "W4")
    assert caught.value.reason is NoRouteReason.FORBIDDEN
    with pytest.raises(ValueError, match=">= 0"):
        tiny.set_penalty(("W3", "W4"), -1.0)


def test_forbidden_nodes_only_bind_their_class(tiny: Router) -> None:
    tiny.forbid_node("agv", "W6")
    with pytest.raises(NoRoute) as caught:
        tiny.route("agv", "W1", "DOCK1")
    assert caught.value.reason is NoRouteReason.FORBIDDEN
    tiny.forbid_node("agv", "W6", forbidden=False)
    assert tiny.route("agv", "W1", "DOCK1").target == "DOCK1"


# ---------------------------------------------------------------------------------------------- triangle


def test_a_zone_active_in_the_file_starts_closed(tri: Router) -> None:
    assert tri.closed_zones == {"ZC"}
    assert tri.route("agv", "A", "B", FASTEST).nodes == ("A", "B")


def test_fastest_route_takes_the_longer_faster_way(tri: Router) -> None:
    tri.open_zone("ZC")
    shortest = tri.route("agv", "A", "B", SHORTEST)
    fastest = tri.route("agv", "A", "B", FASTEST)
    assert shortest.nodes == ("A", "B") and shortest.length == pytest.approx(100)
    assert shortest.time == pytest.approx(100 / 0.5)
    assert fastest.nodes == ("A", "C", "B")
    assert fastest.length == pytest.approx(2 * SIDE) and fastest.time == pytest.approx(2 * SIDE / 2.0)
    loaded = tri.route("agv", "A", "B", CostProfile(Metric.TIME, loaded=True))
    assert loaded.nodes == ("A", "C", "B") and loaded.time == pytest.approx(2 * SIDE / 1.0)
    # The heavy class drives at 1 m/s empty: the detour takes 128 s, still less than the 200 s direct.
    assert tri.cost("heavy", "A", "B") == pytest.approx(2 * SIDE)
    # A penalty on the detour above the difference sends the fast class the short way again.
    tri.set_penalty(("C", "B"), 200 - 2 * SIDE / 2.0 + 1, vehicle_class="agv")
    assert tri.route("agv", "A", "B").nodes == ("A", "B")
    assert tri.route("heavy", "A", "B").nodes == ("A", "C", "B")


def test_stop_allowance_adds_start_and_stop_time(tri: Router) -> None:
    tri.open_zone("ZC")
    plain = tri.cost("agv", "A", "B", FASTEST)
    profile = CostProfile(Metric.TIME, stop_allowance=True)
    # v/(2a) + v/(2d) = 2/(2·0.5) + 2/(2·0.25) = 2 + 4 s
    assert tri.cost("agv", "A", "B", profile) == pytest.approx(plain + 6.0)
    route = tri.route("agv", "A", "B", profile)
    assert route.time == pytest.approx(plain + 6.0) and route.cost == pytest.approx(plain + 6.0)
    assert tri.cost_matrix("agv", ["A"], ["B"], profile)[0, 0] == pytest.approx(plain + 6.0)
    # The distance metric is not made of seconds: no allowance in its cost.
    assert tri.cost("agv", "A", "B", CostProfile(Metric.DISTANCE, stop_allowance=True)) == pytest.approx(100)
