"""The router's cached costs stay exact: columns prepared ahead (`Router.prepare`) and rows and columns kept
across closures, openings and penalties (`_keep_unaffected`) must equal, bit for bit, what a search on the
new costs gives.

Random grid plants (3x3 to 7x7, 10 m spacing, some edges missing or one-way, some speed limits): grids have
many equally short paths, the case the kept-vector rule relies on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.core import FleetCore, SetClosed, SubmitOrder
from fleet.dispatcher import Dispatcher
from fleet.domain.orders import Destination, Operation, OrderBook, OrderSpec
from fleet.routing import FASTEST, SHORTEST, CostProfile, Router
from layout import Plant
from layout.build import build_plant
from layout.schema import PlantFile
from tests.fleet_factories import agv_class
from tests.wms_factories import tiny_plant

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AGV = agv_class()


@st.composite
def grids(draw: st.DrawFn) -> Plant:
    size = draw(st.integers(3, 7))
    nodes = [
        {"id": f"n{i}_{j}", "at": [10.0 + 10 * i, 10.0 + 10 * j]} for i in range(size) for j in range(size)
    ]
    pairs = [((i, j), (i + 1, j)) for i in range(size - 1) for j in range(size)]
    pairs += [((i, j), (i, j + 1)) for i in range(size) for j in range(size - 1)]
    edges: list[dict[str, Any]] = []
    for a, b in pairs:
        kind = draw(st.sampled_from(["two-way"] * 6 + ["one-way", "missing"]))
        if kind == "missing":
            continue
        edge: dict[str, Any] = {
            "from": f"n{a[0]}_{a[1]}",
            "to": f"n{b[0]}_{b[1]}",
            "two_way": kind == "two-way",
        }
        if draw(st.integers(0, 5)) == 0:
            edge["speed_limit"] = draw(st.sampled_from([0.5, 1.0]))
        edges.append(edge)
    return build_plant(
        PlantFile.model_validate(
            {
                "plant": {"id": "grid", "outline": [[0, 0], [100, 0], [100, 100], [0, 100]]},
                "network": {"nodes": nodes, "edges": edges},
                "vehicle_classes": [AGV],
                "fleet": [{"class": "agv", "count": 1, "homes": ["n0_0"]}],
            }
        )
    )


def change(router: Router, plant: Plant, draws: list[tuple[int, int]]) -> None:
    """Close nodes and edges, open earlier ones, set penalties: `draws` pick the kind and the item."""
    nodes = sorted(plant.graph("agv"))
    edges = sorted(plant.graph("agv").edges)
    for kind, k in draws:
        if kind == 0:
            router.close_node(nodes[k % len(nodes)])
        elif kind == 1:
            router.close_edge(*edges[k % len(edges)])
        elif kind == 2 and router.closed_nodes:
            router.open_node(sorted(router.closed_nodes)[k % len(router.closed_nodes)])
        elif kind == 3:
            router.set_penalty(edges[k % len(edges)], float(k % 3) * 5.0)
        else:
            router.set_penalty(edges[k % len(edges)], 0.0)


CHANGES = st.lists(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 999)), max_size=3), max_size=4)


@PROPERTY
@given(
    plant=grids(),
    picks=st.lists(st.integers(0, 999), min_size=2, max_size=10),
    changes=CHANGES,
    profile=st.sampled_from([FASTEST, SHORTEST]),
)
def test_kept_rows_and_columns_equal_a_fresh_search_bit_for_bit(
    plant: Plant, picks: list[int], changes: list[list[tuple[int, int]]], profile: CostProfile
) -> None:
    nodes = sorted(plant.graph("agv"))
    chosen = list(dict.fromkeys(nodes[k % len(nodes)] for k in picks))
    sources, targets = chosen[: len(chosen) // 2 + 1], chosen[len(chosen) // 2 :]
    cached = Router(plant)
    cached.prepare("agv", targets, profile)  # columns
    cached.cost_matrix("agv", sources, nodes, profile)  # rows (more targets than sources)
    for k, step in enumerate(changes):
        change(cached, plant, step)
        fresh = Router(plant)
        for done in changes[: k + 1]:
            change(fresh, plant, done)
        table = cached._table("agv", profile)  # the carried-over vectors, before anything recomputes them
        expected = fresh._table("agv", profile)
        assert np.array_equal(table.costs, expected.costs)
        for node, values in table.columns.items():
            assert np.array_equal(values, fresh._dijkstra(expected, [node], True)[0]), f"column {node}"
        for node, values in table.rows.items():
            assert np.array_equal(values, fresh._dijkstra(expected, [node], False)[0]), f"row {node}"
        # The matrix a decision reads (from the kept columns and new searches) is the plain one.
        got = cached.cost_matrix("agv", sources, targets, profile)
        plain = fresh.cost_matrix("agv", sources, nodes, profile)[:, [nodes.index(t) for t in targets]]
        if profile is SHORTEST:  # sums of 10 m lengths are exact: forward and reverse agree to the bit
            assert np.array_equal(got, plain)
        else:
            np.testing.assert_allclose(got, plain, rtol=1e-12)


@PROPERTY
@given(
    plant=grids(),
    picks=st.lists(st.integers(0, 999), min_size=1, max_size=10),
    changes=CHANGES,
    profile=st.sampled_from([FASTEST, SHORTEST]),
)
def test_repair_searches_again_the_dropped_columns_and_only_those(
    plant: Plant, picks: list[int], changes: list[list[tuple[int, int]]], profile: CostProfile
) -> None:
    nodes = sorted(plant.graph("agv"))
    targets = list(dict.fromkeys(nodes[k % len(nodes)] for k in picks))
    cached = Router(plant)
    cached.prepare("agv", targets, profile)
    fresh = Router(plant)
    for step in changes:
        change(cached, plant, step)
        change(fresh, plant, step)
        kept = set(cached._table("agv", profile).columns)
        assert cached.repair() == len(set(targets) - kept)  # one search per dropped column
        table, expected = cached._table("agv", profile), fresh._table("agv", profile)
        assert set(table.columns) == set(targets)
        for node in targets:
            assert np.array_equal(table.columns[node], fresh._dijkstra(expected, [node], True)[0]), node
        assert cached.repair() == 0  # nothing left to do


def test_closing_a_grid_node_keeps_the_columns_that_have_another_way() -> None:
    plant = _open_grid(5)
    router = Router(plant)
    targets = sorted(plant.graph("agv"))
    router.prepare("agv", targets, SHORTEST)
    router.close_node("n2_2")
    kept = router._table("agv", SHORTEST).columns
    # Only targets whose costs the closed node changes are dropped: itself (nobody can enter it) and those in
    # its row or column (seen from them, the nodes straight behind n2_2 have their only shortest way through
    # it). From every other target, a node next to n2_2 has another way as short.
    assert set(kept) == {f"n{i}_{j}" for i in range(5) for j in range(5) if i != 2 and j != 2}


def _open_grid(size: int) -> Plant:
    nodes = [
        {"id": f"n{i}_{j}", "at": [10.0 + 10 * i, 10.0 + 10 * j]} for i in range(size) for j in range(size)
    ]
    pairs = [((i, j), (i + 1, j)) for i in range(size - 1) for j in range(size)]
    pairs += [((i, j), (i, j + 1)) for i in range(size) for j in range(size - 1)]
    edges = [{"from": f"n{a[0]}_{a[1]}", "to": f"n{b[0]}_{b[1]}"} for a, b in pairs]
    return build_plant(
        PlantFile.model_validate(
            {
                "plant": {"id": "grid", "outline": [[0, 0], [100, 0], [100, 100], [0, 100]]},
                "network": {"nodes": nodes, "edges": edges},
                "vehicle_classes": [AGV],
                "fleet": [{"class": "agv", "count": 1, "homes": ["n0_0"]}],
            }
        )
    )


def test_the_dispatcher_prepares_the_columns_of_arriving_orders() -> None:
    plant = tiny_plant()
    book = OrderBook(plant)
    router = Router(plant)
    dispatcher = Dispatcher(plant, router, book)
    book.add(
        OrderSpec(
            id="T1",
            destinations=(Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP)),
            vehicle_class="agv",
        )
    )
    assert dispatcher.prepare(["T1"]) == 4  # one search to the pickup, and the charger and parking places
    assert dispatcher.prepare(["T1"]) == 0  # kept
    assert set(router._table("agv", dispatcher.profile).columns) == {"HM-X", "CH1", "P1", "P2"}


def test_columns_no_open_order_needs_are_dropped_once_they_pile_up() -> None:
    plant = _open_grid(5)
    router = Router(plant)
    nodes = sorted(plant.graph("agv"))
    router.prepare("agv", nodes, SHORTEST)
    assert router.forget_columns("agv", nodes[:5], SHORTEST, slack=20) == 0  # 25 <= 5 + 20: kept
    assert router.forget_columns("agv", nodes[:5], SHORTEST, slack=10) == 20
    assert set(router._table("agv", SHORTEST).columns) == set(nodes[:5])


def test_a_closure_handled_by_the_core_leaves_no_search_to_the_next_dispatch() -> None:
    plant = tiny_plant()
    core = FleetCore(plant)
    spec = OrderSpec(
        id="T1",
        destinations=(Destination("HM-X", Operation.PICK), Destination("H-FS1", Operation.DROP)),
        vehicle_class="agv",
    )
    core.handle(SubmitOrder(spec=spec), 0.0)
    table = core.router._table("agv", core.dispatcher.profile)
    prepared = set(table.columns)
    assert "HM-X" in prepared
    core.handle(SetClosed(node="HM-X"), 1.0)  # the pickup itself: its column is wrong now
    table = core.router._table("agv", core.dispatcher.profile)
    assert core.router.closed_nodes == {"HM-X"}
    assert set(table.columns) == prepared and table.dropped == []
    assert core.router.repair() == 0  # already repaired by the core
    core.handle(SetClosed(node="HM-X", closed=False), 2.0)
    assert core.router.closed_nodes == set()
    assert core.router.repair() == 0
    edge = next(iter(plant.graph("agv").edges))
    core.handle(SetClosed(edge=edge), 3.0)
    assert core.router.closed_edges == {edge}
    assert core.router.repair() == 0


def test_a_closure_names_exactly_one_node_or_edge() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SetClosed()
    with pytest.raises(ValueError, match="exactly one"):
        SetClosed(node="HM-X", edge=("HM-X", "H-FS1"))


def test_columns_over_several_blocks_read_back_as_searched() -> None:
    plant = _open_grid(20)  # 400 nodes: more columns than one block of the store holds
    nodes = sorted(plant.graph("agv"))
    router = Router(plant)
    assert router.prepare("agv", nodes, SHORTEST) == len(nodes)
    table = router._table("agv", SHORTEST)
    plain = Router(plant).cost_matrix("agv", nodes, nodes, SHORTEST)  # rows: fewer searches one way only
    sources = nodes[::7]
    at = [nodes.index(s) for s in sources]
    assert np.array_equal(router.cost_matrix("agv", sources, nodes, SHORTEST), plain[at])
    # Free slots in both blocks, then fill them again with other columns: each reads back its own values.
    keep = nodes[::3]
    router.forget_columns("agv", keep, SHORTEST)
    assert set(table.columns) == set(keep)
    assert router.prepare("agv", nodes, SHORTEST) == len(nodes) - len(keep)
    assert np.array_equal(router.cost_matrix("agv", sources, nodes[::-1], SHORTEST), plain[at][:, ::-1])
    order = [table.index[n] for n in nodes]  # a column is indexed in the graph's node order
    for node in nodes[::11]:
        assert np.array_equal(table.columns[node][order], plain[:, nodes.index(node)])
