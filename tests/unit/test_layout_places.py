"""The places, cranes and vehicles a plant file implies, checked on the tiny example by hand."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import pytest

from layout import Plant, Tier, load_plant
from layout.model import RunwayFrame
from layout.schema import FlatStore

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny.yaml"


@cache
def tiny() -> Plant:
    return load_plant(TINY)


def test_saddle_ids_follow_store_bay_row_position_tier() -> None:
    plant = tiny()
    ground = plant.saddle_positions["FS1-B1-R01-P01-G"]
    assert (ground.store, ground.bay, ground.index, ground.tier) == ("FS1", "B1", 1, Tier.GROUND)
    assert (ground.x, ground.y) == (9.0, 36.0)
    assert ground.cooling  # cooling_positions: [1, 2]
    assert not plant.saddle_positions["FS1-B1-R01-P03-G"].cooling


def test_an_upper_position_rests_between_its_two_supports() -> None:
    plant = tiny()
    upper = plant.saddle_positions["FS1-B1-R02-P03-U"]
    assert upper.tier is Tier.UPPER
    assert upper.supports == ("FS1-B1-R02-P03-G", "FS1-B1-R02-P04-G")
    left, right = (plant.saddle_positions[s] for s in upper.supports)
    assert (upper.x, upper.y) == pytest.approx(((left.x + right.x) / 2, (left.y + right.y) / 2))
    assert math.dist((left.x, left.y), (right.x, right.y)) == pytest.approx(2.4)  # the row's pitch


def test_each_two_tier_row_has_one_upper_fewer_than_ground() -> None:
    plant = tiny()
    for row in ("R01", "R02"):
        tiers = [p.tier for p in plant.saddle_positions.values() if p.row.id == row]
        assert tiers.count(Tier.GROUND) == 8
        assert tiers.count(Tier.UPPER) == 7
    assert all(p.supports is None for p in plant.saddle_positions.values() if p.tier is Tier.GROUND)


def test_rack_cells_cover_aisles_sides_columns_levels() -> None:
    plant = tiny()
    assert len(plant.rack_cells) == 1 * 2 * 10 * 4
    cell = plant.rack_cells["HB1-A01-L-C003-L02"]
    assert (cell.aisle, cell.side, cell.column, cell.level) == (1, "L", 3, 2)
    assert cell.along == pytest.approx(2.5 * 2.5)  # centre of column 3, cells 2.5 m wide
    assert cell.height == pytest.approx(2.5)  # level 2 rests one cell height up
    # Heading 0: "across" is +y, so the left-hand rack (looking along the aisle) has the larger y.
    right = plant.rack_cells["HB1-A01-R-C003-L02"]
    assert cell.y > right.y
    assert cell.y - right.y == pytest.approx(2.4 + 3.0)  # one cell depth plus the aisle width


def test_one_stacker_crane_per_aisle_with_its_io_point() -> None:
    crane = tiny().stacker_cranes["HB1-SC01"]
    assert crane.io_node == "IO-HB1"
    assert (crane.rack_length, crane.rack_height) == (25.0, 10.0)


def test_stack_positions_of_the_ingot_store() -> None:
    plant = tiny()
    assert sorted(plant.stack_positions) == [f"IS1-B1-R01-S0{i}" for i in range(1, 6)]
    assert plant.stack_positions["IS1-B1-R01-S02"].x == pytest.approx(13.0)


def test_vehicles_start_on_parking_nodes_or_rail_stops() -> None:
    plant = tiny()
    assert {v.id: v.home for v in plant.vehicles.values()} == {
        "AGV-01": "P1",
        "AGV-02": "P2",
        "RGV-01": "RS1",
    }


def test_runway_frame_measures_along_and_across() -> None:
    store = tiny().file.stores[0]
    assert isinstance(store, FlatStore)
    frame = RunwayFrame(store.runways[0])
    assert frame.length == pytest.approx(40.0)
    assert frame.to_runway(15.0, 45.0) == pytest.approx((10.0, 2.5))
    assert frame.reach().area == pytest.approx(40.0 * 24.0)


def test_rail_stops_become_nodes_on_the_rgv_graph_only() -> None:
    plant = tiny()
    assert plant.node_points["RS2"] == pytest.approx((67.0 - 7.0 + 30.0, 57.0))  # 7 m up, then 60 m along
    assert set(plant.graph("rgv").nodes) == {"RS1", "RS2"}
    assert plant.graph("rgv").edges["RS1", "RS2"]["length"] == pytest.approx(67.0)
    assert "RS1" not in plant.graph("agv")


def test_one_way_edges_and_speed_limits_reach_the_graph() -> None:
    graph = tiny().graph("agv")
    assert graph.has_edge("W5", "W6") and not graph.has_edge("W6", "W5")
    assert graph.edges["W4", "HM-X"]["speed_limit"] == 0.5
    assert graph.edges["W4", "HM-X"]["time"] == pytest.approx(5.0 / 0.5)
    via = math.dist((107, 43), (107, 30)) + math.dist((107, 30), (95, 27))  # through its `via` point
    assert graph.edges["DOCK1", "W5"]["length"] == pytest.approx(via)
