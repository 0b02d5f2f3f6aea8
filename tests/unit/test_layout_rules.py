"""Every cross-field rule of `layout.rules`, each check broken once in a copy of `examples/tiny.yaml`.

Each case names the exact field path that must be reported, words the message must contain (the offending
id or number), and by default that nothing else is reported: one mistake gives one precise problem. Cases
where a mistake rightly has knock-on effects list those paths in `also` (or skip the check with `also=None`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

import layout
from layout.schema import FlatStore
from tests.layout_helpers import (
    TINY_PATH,
    Mutation,
    Plant,
    assert_only,
    assert_problem,
    broken,
    coil_bay,
    coil_row,
    coil_store,
    edge,
    high_bay,
    node,
    problems_after,
    rail,
    remove_edge,
    slab_bay,
    slab_row,
    slab_store,
    station,
    tiny,
    tiny_text,
)


@dataclass(frozen=True)
class Case:
    mutate: Mutation
    where: str
    words: tuple[str, ...]
    also: tuple[str, ...] | None


def case(
    case_id: str, mutate: Mutation, where: str, *words: str, also: Sequence[str] | None = ()
) -> pytest.ParameterSet:
    """One broken layout: `mutate` tiny.yaml, expect a problem at `where` whose message has `words`."""
    return pytest.param(Case(mutate, where, words, None if also is None else tuple(also)), id=case_id)


def check(c: Case) -> None:
    problems = problems_after(c.mutate)
    assert_problem(problems, c.where, *c.words)
    if c.also is not None:
        assert_only(problems, c.where, *c.also)


# ---------------------------------------------------------------------------------------------- baseline


def test_tiny_plant_is_valid() -> None:
    plant_file = layout.parse_plant_file(tiny_text(), source="tiny.yaml")
    assert [s.id for s in plant_file.stores] == ["FS1", "IS1", "HB1"]
    plant = layout.load_plant(TINY_PATH)
    assert len(plant.saddle_positions) == 2 * (8 + 7)
    assert sorted(plant.vehicles) == ["AGV-01", "AGV-02", "RGV-01"]


def test_tiny_plant_survives_the_round_trip_the_helpers_use() -> None:
    """Mutations start from a dump of the parsed dict; unmodified, that dump must still be valid."""
    text, plant = broken(lambda p: None)
    assert plant == tiny()
    assert "&" not in text and "*" not in text, "the dump must not use YAML anchors"
    assert layout.parse_plant_file(text, source="roundtrip.yaml").plant.id == "tiny"


# ---------------------------------------------------------------------------------------------- unique_ids


def _second_bay_b1(p: Plant) -> None:
    coil_store(p)["bays"].append(
        {"id": "B1", "outline": [[50, 56], [55, 56], [55, 59], [50, 59]], "floor_load_limit": 5}
    )


def _node_named_like_rail_stop(p: Plant) -> None:
    p["network"]["nodes"].append({"id": "RS2", "at": [90, 57]})


def _second_rail_rl1(p: Plant) -> None:
    p["network"]["rails"].append(
        {"id": "RL1", "path": [[0, 59], [10, 59]], "stops": [{"id": "X1", "at": 0}, {"id": "X2", "at": 5}]}
    )


def _default_prefix_clash(p: Plant) -> None:
    del p["fleet"][0]["prefix"]  # agv vehicles are then named AGV-01, AGV-02 by default
    p["fleet"][1]["prefix"] = "AGV"


@pytest.mark.parametrize(
    "c",
    [
        case(
            "store",
            lambda p: slab_store(p).update(id="FS1"),
            "stores[1].id",
            "duplicate id 'FS1'",
            "stores[0].id",
        ),
        case(
            "station", lambda p: station(p, "SD1").update(id="HM"), "stations[2].id", "'HM'", "stations[0].id"
        ),
        case(
            "vehicle-class",
            lambda p: p["vehicle_classes"].append(dict(p["vehicle_classes"][0])),
            "vehicle_classes[2].id",
            "'agv'",
        ),
        case(
            "safety-zone",
            lambda p: p["safety_zones"].append(dict(p["safety_zones"][0])),
            "safety_zones[1].id",
            "'Z1'",
        ),
        case(
            "rail",
            _second_rail_rl1,
            "network.rails[1].id",
            "'RL1'",
            "network.rails[0].id",
            also=None,  # which RL1 the rgv class runs on is then anyone's guess
        ),
        case(
            "node-vs-rail-stop",
            _node_named_like_rail_stop,
            "network.rails[0].stops[1].id",
            "duplicate id 'RS2'",
            "network.nodes[14].id",
        ),
        case(
            "crane-across-stores",
            lambda p: slab_store(p)["cranes"][0].update(id="C1"),
            "stores[1].cranes[0].id",
            "'C1'",
            "stores[0].cranes[0].id",
        ),
        case(
            "bay-handover-across-stores",
            lambda p: slab_bay(p)["handovers"][0].update(id="FS1-H1"),
            "stores[1].bays[0].handovers[0].id",
            "'FS1-H1'",
            "stores[0].bays[0].handovers[0].id",
        ),
        case("bay-in-store", _second_bay_b1, "stores[0].bays[1].id", "'B1'", "stores[0].bays[0].id"),
        case(
            "runway-in-store",
            lambda p: coil_store(p)["runways"].append(dict(coil_store(p)["runways"][0])),
            "stores[0].runways[1].id",
            "'RW1'",
        ),
        case(
            "row-in-bay",
            lambda p: coil_row(p, 1).update(id="R01"),
            "stores[0].bays[0].rows[1].id",
            "duplicate id 'R01'",
            "stores[0].bays[0].rows[0].id",
        ),
        case(
            "vehicle-id-from-prefixes",
            lambda p: p["fleet"][1].update(prefix="AGV"),
            "fleet[1].prefix",
            "vehicle id 'AGV-01'",
            "fleet[0]",
        ),
        case(
            "vehicle-id-from-default-prefix",
            _default_prefix_clash,
            "fleet[1].prefix",
            "'AGV-01'",
            "fleet[0]",
        ),
    ],
)
def test_unique_ids(c: Case) -> None:
    check(c)


def test_ids_may_repeat_where_they_are_scoped() -> None:
    """Bay, runway and row ids are per store / per bay: tiny uses B1, RW1 and R01 in two stores."""
    text, plant = broken(lambda p: None)
    assert coil_bay(plant)["id"] == slab_bay(plant)["id"] == "B1"
    assert coil_row(plant, 0)["id"] == slab_row(plant)["id"] == "R01"
    layout.parse_plant_file(text, source="scoped.yaml")


# ---------------------------------------------------------------------------------------------- known_references


def _slab_crane_names_the_coil_bay(p: Plant) -> None:
    slab_bay(p)["id"] = "B2"
    slab_store(p)["cranes"][0]["bays"] = ["B1"]  # B1 exists, but in FS1


@pytest.mark.parametrize(
    "c",
    [
        case(
            "edge-to-missing-node",
            lambda p: p["network"]["edges"][0].update(to="NOPE"),
            "network.edges[0].to",
            "unknown node 'NOPE'",
        ),
        case(
            "edge-from-missing-node",
            lambda p: p["network"]["edges"][0].update({"from": "NOPE"}),
            "network.edges[0].from",
            "unknown node 'NOPE'",
        ),
        case(
            "edge-class-unknown",
            lambda p: p["network"]["edges"][0].update(classes=["agv", "forklift"]),
            "network.edges[0].classes[1]",
            "unknown vehicle class 'forklift'",
        ),
        case(
            "edge-class-is-rgv",
            lambda p: p["network"]["edges"][0].update(classes=["rgv"]),
            "network.edges[0].classes[0]",
            "'rgv'",
            "RGV",
            "rails only",
        ),
        case(
            "crane-to-missing-bay",
            lambda p: coil_store(p)["cranes"][1].update(bays=["B1", "B9"]),
            "stores[0].cranes[1].bays[1]",
            "unknown bay 'B9'",
            "'FS1'",
        ),
        case(
            "crane-to-bay-of-another-store",
            _slab_crane_names_the_coil_bay,
            "stores[1].cranes[0].bays[0]",
            "unknown bay 'B1'",
            "'IS1'",
            also=["stores[1].bays[0]"],  # and the slab bay, now B2, has no crane
        ),
        case(
            "crane-to-missing-runway",
            lambda p: coil_store(p)["cranes"][0].update(runway="RW9"),
            "stores[0].cranes[0].runway",
            "unknown runway 'RW9'",
            "'FS1'",
        ),
        case(
            "bay-handover-to-missing-node",
            lambda p: coil_bay(p)["handovers"][0].update(node="H-XX"),
            "stores[0].bays[0].handovers[0].node",
            "unknown node 'H-XX'",
        ),
        case(
            "station-handover-to-missing-node",
            lambda p: station(p, "SD1").update(handovers=["DOCK9"]),
            "stations[2].handovers[0]",
            "unknown node 'DOCK9'",
            also=["stations[2]"],  # and so the dock cannot be reached
        ),
        case(
            "station-served-by-unknown-class",
            lambda p: station(p, "CM1").update(served_by=["rgv", "crane"]),
            "stations[1].served_by[1]",
            "unknown vehicle class 'crane'",
        ),
        case(
            "vehicle-class-on-unknown-rail",
            lambda p: p["vehicle_classes"][1].update(rail="RL9"),
            "vehicle_classes[1].rail",
            "unknown rail 'RL9'",
            also=None,
        ),
        case(
            "fleet-of-unknown-class",
            lambda p: p["fleet"][0].update({"class": "forklift"}),
            "fleet[0].class",
            "unknown vehicle class 'forklift'",
        ),
        case(
            "fleet-home-not-a-node",
            lambda p: p["fleet"][0].update(homes=["P1", "P9"]),
            "fleet[0].homes[1]",
            "unknown node 'P9'",
        ),
        case(
            "fleet-home-not-on-class-graph",
            lambda p: p["fleet"][1].update(homes=["P1"]),
            "fleet[1].homes[0]",
            "node 'P1' is not on the network of class 'rgv'",
            also=None,
        ),
        case(
            "io-point-node-unknown",
            lambda p: high_bay(p)["io_points"][0].update(node="IO-X"),
            "stores[2].io_points[0].node",
            "unknown node 'IO-X'",
        ),
        case(
            "io-point-aisle-out-of-range",
            lambda p: high_bay(p)["io_points"].append({"aisle": 2, "node": "W4"}),
            "stores[2].io_points[1].aisle",
            "aisle 2 does not exist",
            "has 1",
        ),
    ],
)
def test_known_references(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- valid_outlines

BOWTIE = [[70, 25], [80, 29], [80, 25], [70, 29]]


@pytest.mark.parametrize(
    "c",
    [
        case(
            "self-intersecting-zone",
            lambda p: p["safety_zones"][0].update(outline=BOWTIE),
            "safety_zones[0].outline",
            "not a simple polygon",
            "Self-intersection",
        ),
        case(
            "self-intersecting-station",
            lambda p: station(p, "HM").update(outline=[[60, 5], [90, 20], [90, 5], [60, 20]]),
            "stations[0].outline",
            "not a simple polygon",
        ),
        case(
            "self-intersecting-bay",
            lambda p: coil_bay(p).update(outline=[[5, 30], [45, 55], [45, 30], [5, 55]]),
            "stores[0].bays[0].outline",
            "not a simple polygon",
            also=None,  # its rows are then also outside what is left of the bay
        ),
        case(
            "self-intersecting-plant",
            lambda p: p["plant"].update(outline=[[0, 0], [120, 60], [120, 0], [0, 60]]),
            "plant.outline",
            "not a simple polygon",
            also=None,
        ),
        case(
            "station-outline-on-a-line",  # reported once, not also as "outside the plant"
            lambda p: station(p, "HM").update(outline=[[60, 5], [70, 5], [80, 5]]),
            "stations[0].outline",
            "not a simple polygon",
        ),
        case(
            "outline-without-area",
            lambda p: p["safety_zones"][0].update(outline=[[70, 25], [70.01, 25], [70, 25.01]]),
            "safety_zones[0].outline",
            "no area",
        ),
    ],
)
def test_valid_outlines(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- no_overlaps


@pytest.mark.parametrize(
    "c",
    [
        case(
            "bays-of-two-stores",
            lambda p: slab_bay(p).update(outline=[[5, 5], [45, 5], [45, 32], [5, 32]]),
            "stores[1].bays[0]",
            "overlaps stores[0].bays[0]",
            "80.00 m²",
        ),
        case(
            "bay-over-high-bay",
            lambda p: coil_bay(p).update(outline=[[5, 30], [62, 30], [62, 55], [5, 55]]),
            "stores[2]",
            "overlaps stores[0].bays[0]",
            "15.60 m²",
        ),
        case(
            "high-bay-over-bay",
            lambda p: high_bay(p).update(origin=[40, 30]),
            "stores[2]",
            "overlaps stores[0].bays[0]",
            "39.00 m²",
        ),
    ],
)
def test_no_overlaps(c: Case) -> None:
    check(c)


def test_bays_may_touch() -> None:
    # The slab bay grows up to y=30, exactly where the coil bay starts.
    text, _ = broken(lambda p: slab_bay(p).update(outline=[[5, 5], [45, 5], [45, 30], [5, 30]]))
    layout.parse_plant_file(text, source="touching.yaml")


# ---------------------------------------------------------------------------------------------- inside_plant


@pytest.mark.parametrize(
    "c",
    [
        case(
            "high-bay-store",
            lambda p: high_bay(p).update(origin=[100, 30]),
            "stores[2]",
            "outside the plant outline",
        ),
        case(
            "bay",
            lambda p: coil_bay(p).update(outline=[[5, 30], [45, 30], [45, 65], [5, 65]]),
            "stores[0].bays[0]",
            "outside the plant outline",
        ),
        case(
            "node",
            lambda p: node(p, "CH1").update(at=[125, 27]),
            "network.nodes[13].at",
            "node 'CH1'",
            "(125.0, 27.0)",
            "outside the plant outline",
        ),
        case(
            "station",
            lambda p: station(p, "SD1").update(outline=[[100, 45], [125, 45], [125, 55], [100, 55]]),
            "stations[2].outline",
            "outside the plant outline",
        ),
        case(
            "rail",
            lambda p: rail(p).update(path=[[30, 50], [30, 65], [90, 65]]),
            "network.rails[0].path",
            "rail 'RL1'",
            "outside the plant outline",
        ),
    ],
)
def test_inside_plant(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- positions_inside_bays


@pytest.mark.parametrize(
    "c",
    [
        case(
            "last-saddle-outside",
            lambda p: coil_row(p, 0).update(positions=16),
            "stores[0].bays[0].rows[0]",
            "1 position(s)",
            "row 'R01'",
            "bay 'B1'",
            "P16",
        ),
        case(
            "row-shifted-out",
            lambda p: coil_row(p, 0).update(origin=[30, 36]),
            "stores[0].bays[0].rows[0]",
            "2 position(s)",
            ": P07, P08",
            also=["stores[0].bays[0].rows[0]"],  # P08 is also beyond the runway
        ),
        case(
            "many-saddles-outside-are-abridged",
            lambda p: coil_row(p, 0).update(positions=21),
            "stores[0].bays[0].rows[0]",
            "6 position(s)",
            "P16, P17, P18, P19, P20 ...",
            also=["stores[0].bays[0].rows[0]"],
        ),
        case(
            "stack-row-outside",
            lambda p: slab_row(p).update(heading_deg=90),
            "stores[1].bays[0].rows[0]",
            "stack positions of row 'R01'",
            "bay 'B1'",
        ),
        case(
            "bay-handover-node-outside-the-bay",
            lambda p: node(p, "H-FS1").update(at=[38, 29]),
            "stores[0].bays[0].handovers[0].node",
            "node 'H-FS1'",
            "(38.0, 29.0)",
            "not inside bay 'B1'",
            also=["stores[0].bays[0].handovers[0]"],  # and so out of the cranes' reach
        ),
        case(
            "rows-overlap",
            lambda p: coil_row(p, 1).update(origin=[9, 37]),
            "stores[0].bays[0].rows[1]",
            "overlaps row 'R01'",
        ),
    ],
)
def test_positions_inside_bays(c: Case) -> None:
    check(c)


def test_the_outside_message_names_the_right_positions_only() -> None:
    problems = problems_after(lambda p: coil_row(p, 0).update(origin=[30, 36]))
    outside = assert_problem(problems, "stores[0].bays[0].rows[0]", "lie outside")
    assert "P06" not in outside.message


# ---------------------------------------------------------------------------------------------- rails_and_edges


def _same_place(length: float | None) -> Mutation:
    def mutate(p: Plant) -> None:
        p["network"]["nodes"].append({"id": "W1b", "at": [10, 27]})
        extra: dict[str, object] = {"from": "W1", "to": "W1b"}
        if length is not None:
            extra["length"] = length
        p["network"]["edges"].append(extra)

    return mutate


@pytest.mark.parametrize(
    "c",
    [
        case(
            "edge-to-itself",
            lambda p: p["network"]["edges"].append({"from": "W1", "to": "W1"}),
            "network.edges[14]",
            "from 'W1' to itself",
        ),
        case(
            "nodes-at-the-same-place",
            _same_place(None),
            "network.edges[14]",
            "'W1' and 'W1b' are at the same place",
        ),
        case(
            "given-length-shorter-than-straight-line",
            lambda p: p["network"]["edges"][0].update(length=20),
            "network.edges[0].length",
            "length 20 m",
            "28.000 m",
        ),
        case(
            "given-length-shorter-than-the-bends",
            lambda p: edge(p, "DOCK1", "W5").update(length=15),
            "network.edges[13].length",
            "length 15 m",
            "25.369 m",
        ),
        case(
            "second-edge-between-the-same-nodes-reversed",
            lambda p: p["network"]["edges"].append({"from": "W2", "to": "W1"}),
            "network.edges[14]",
            "second edge from 'W2' to 'W1'",
            "network.edges[0]",
        ),
        case(
            "second-one-way-edge",
            lambda p: p["network"]["edges"].append({"from": "DOCK1", "to": "W6", "two_way": False}),
            "network.edges[14]",
            "second edge from 'DOCK1' to 'W6'",
            "network.edges[12]",
        ),
        case(
            "rail-stop-beyond-rail-end",
            lambda p: rail(p)["stops"][1].update(at=70),
            "network.rails[0].stops[1].at",
            "70 m",
            "beyond the end",
            "67.00 m",
        ),
        case(
            "two-rail-stops-at-one-place",
            lambda p: rail(p)["stops"].append({"id": "RS3", "at": 67}),
            "network.rails[0].stops[2].at",
            "stop 'RS3'",
            "same place as 'RS2'",
        ),
    ],
)
def test_rails_and_edges(c: Case) -> None:
    check(c)


def test_one_way_edges_in_both_directions_are_not_duplicates() -> None:
    def both_ways(p: Plant) -> None:
        edge(p, "W1", "W2")["two_way"] = False
        p["network"]["edges"].append({"from": "W2", "to": "W1", "two_way": False})

    text, _ = broken(both_ways)
    layout.parse_plant_file(text, source="both-ways.yaml")


def test_a_given_length_makes_a_zero_length_edge_acceptable() -> None:
    text, _ = broken(_same_place(2.0))
    layout.parse_plant_file(text, source="lift.yaml")


def test_a_given_length_may_exceed_the_geometry() -> None:
    text, _ = broken(lambda p: p["network"]["edges"][0].update(length=28.0005))
    layout.parse_plant_file(text, source="long.yaml")


# ---------------------------------------------------------------------------------------------- saddles_fit_bands


@pytest.mark.parametrize(
    "c",
    [
        case(
            "saddle-shorter-than-widest-coil",
            lambda p: coil_row(p, 1).update(saddle_length=1.9),
            "stores[0].bays[0].rows[1].saddle_length",
            "saddle length 1.9 m",
            "(2 m)",
        ),
        case(
            "pitch-below-largest-od",
            lambda p: coil_row(p, 0).update(pitch=2.1),
            "stores[0].bays[0].rows[0].pitch",
            "pitch 2.1 m",
            "(2.2 m)",
            "touch",
        ),
        case(
            "cooling-position-beyond-row",
            lambda p: coil_row(p, 0).update(cooling_positions=[1, 9]),
            "stores[0].bays[0].rows[0].cooling_positions[1]",
            "position 9 does not exist",
            "has 8",
        ),
        case(
            "stacks-closer-than-their-length",
            lambda p: slab_row(p).update(pitch=2),
            "stores[1].bays[0].rows[0].pitch",
            "pitch 2 m",
            "stack length (2.2 m)",
        ),
        case(
            "high-bay-cell-too-shallow",
            lambda p: high_bay(p)["cell"].update(depth=1.9),
            "stores[2].cell.depth",
            "cell depth 1.9 m",
            "widest coil (2 m)",
        ),
        case(
            "high-bay-cell-too-narrow",
            lambda p: high_bay(p)["cell"].update(width=2.1),
            "stores[2].cell.width",
            "cell width 2.1 m",
            "(2.2 m)",
        ),
        case(
            "high-bay-cell-too-low",
            lambda p: high_bay(p)["cell"].update(height=2.0),
            "stores[2].cell.height",
            "cell height 2 m",
            "(2.2 m)",
        ),
    ],
)
def test_saddles_fit_bands(c: Case) -> None:
    check(c)


def test_all_positions_may_be_cooling_positions() -> None:
    text, _ = broken(lambda p: coil_row(p, 0).update(cooling_positions="all"))
    coil_store_file = layout.parse_plant_file(text, source="cooling.yaml").stores[0]
    assert isinstance(coil_store_file, FlatStore)
    assert coil_store_file.bays[0].rows[0].cooling_positions == "all"


# ---------------------------------------------------------------------------------------------- floor_loads


@pytest.mark.parametrize(
    "c",
    [
        case(
            "saddle-row-two-tiers",
            # 2 tiers x 30 t on 2.4 m x 2.2 m = 11.4 t/m² per ground saddle
            lambda p: coil_bay(p).update(floor_load_limit=10),
            "stores[0].bays[0].rows[0]",
            "11.4 t/m²",
            "bay 'B1'",
            "limit of 10 t/m²",
            also=["stores[0].bays[0].rows[1]"],
        ),
        case(
            "stack-row",
            # 250 t on 2.2 m x 9 m = 12.6 t/m²
            lambda p: slab_row(p).update(max_weight=250),
            "stores[1].bays[0].rows[0]",
            "12.6 t/m²",
            "limit of 10 t/m²",
        ),
    ],
)
def test_floor_loads(c: Case) -> None:
    check(c)


def test_a_single_tier_halves_the_floor_load() -> None:
    def one_tier(p: Plant) -> None:
        coil_bay(p)["floor_load_limit"] = 10
        coil_row(p, 0)["tiers"] = 1
        coil_row(p, 1)["tiers"] = 1

    text, _ = broken(one_tier)
    layout.parse_plant_file(text, source="one-tier.yaml")


# ---------------------------------------------------------------------------------------------- crane_loads


@pytest.mark.parametrize(
    "c",
    [
        case(
            "crane-below-heaviest-coil",
            lambda p: coil_store(p)["cranes"][0].update(safe_working_load=25),
            "stores[0].cranes[0].safe_working_load",
            "25 t",
            "heaviest coil",
            "(30 t)",
        ),
        case(
            "heavier-coils-in-one-row",
            lambda p: coil_row(p, 1).update(max_coil_weight=36, saddle_length=2.5),
            "stores[0].cranes[0].safe_working_load",
            "35 t",
            "(36 t)",
            also=["stores[0].cranes[1].safe_working_load"],
        ),
        case(
            "stacker-below-cell-load-limit",
            lambda p: high_bay(p)["stacker"].update(safe_working_load=25),
            "stores[2].stacker.safe_working_load",
            "25 t",
            "cell load limit (30 t)",
        ),
    ],
)
def test_crane_loads(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- cranes_cover_bays


def _flat_runway_starts_late(p: Plant) -> None:
    coil_store(p)["runways"][0]["start"] = [10, 42.5]  # R01 begins at x=9, R02 is moved to x=12
    coil_row(p, 1)["origin"] = [12, 41]


@pytest.mark.parametrize(
    "c",
    [
        case(
            "bay-with-rows-but-no-crane",
            lambda p: coil_store(p).update(cranes=[]),
            "stores[0].bays[0]",
            "no crane serves bay 'B1'",
        ),
        case(
            "row-beyond-runway-end",
            _flat_runway_starts_late,
            "stores[0].bays[0].rows[0]",
            "row 'R01'",
            "not fully under the runway",
            "bay 'B1'",
        ),
        case(
            "row-beyond-trolley-span",
            lambda p: slab_store(p)["runways"][0].update(start=[5, 21.5], end=[45, 21.5]),
            "stores[1].bays[0].rows[0]",
            "row 'R01'",
            "not fully under the runway",
        ),
        case(
            "bay-handover-out-of-reach",
            lambda p: node(p, "H-FS1").update(at=[38, 30.2]),
            "stores[0].bays[0].handovers[0]",
            "handover node 'H-FS1'",
            "out of reach",
        ),
    ],
)
def test_cranes_cover_bays(c: Case) -> None:
    check(c)


def test_a_bay_without_rows_needs_no_crane() -> None:
    def empty_bay(p: Plant) -> None:
        coil_store(p)["bays"].append(
            {"id": "B2", "outline": [[50, 56], [55, 56], [55, 59], [50, 59]], "floor_load_limit": 5}
        )

    text, _ = broken(empty_bay)
    layout.parse_plant_file(text, source="empty-bay.yaml")


# ---------------------------------------------------------------------------------------------- runways_hold_cranes


@pytest.mark.parametrize(
    "c",
    [
        case(
            "home-beyond-runway-end",
            lambda p: coil_store(p)["cranes"][1].update(home=41),
            "stores[0].cranes[1].home",
            "41 m",
            "beyond the runway's end (40.00 m)",
        ),
        case(
            "cranes-closer-than-min-distance",
            lambda p: coil_store(p)["cranes"][1].update(home=6),
            "stores[0].cranes[1].home",
            "crane 'C2'",
            "3.00 m from 'C1'",
            "(4 m)",
        ),
        case(
            "cranes-at-one-home",
            lambda p: coil_store(p)["cranes"][1].update(home=3),
            "stores[0].cranes[1].home",
            "0.00 m",
        ),
        case(
            "order-along-the-runway-not-in-the-file",
            lambda p: coil_store(p)["cranes"][0].update(home=33),
            "stores[0].cranes[0].home",
            "crane 'C1'",
            "3.00 m from 'C2'",
        ),
        case(
            "runway-without-length",
            lambda p: coil_store(p)["runways"][0].update(end=[5, 42.5]),
            "stores[0].runways[0].end",
            "runway has no length",
            also=None,  # nothing in the bay is then in reach
        ),
    ],
)
def test_runways_hold_cranes(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- io_points_per_aisle


@pytest.mark.parametrize(
    "c",
    [
        case(
            "second-aisle-without-io-point",
            lambda p: high_bay(p).update(aisles=2, origin=[60, 25]),
            "stores[2].io_points",
            "aisle(s) 2 have no I/O point",
        ),
        case(
            "no-io-points",
            lambda p: high_bay(p).update(io_points=[]),
            "stores[2].io_points",
            "aisle(s) 1 have no I/O point",
        ),
        case(
            "duplicate-io-point",
            lambda p: high_bay(p)["io_points"].append({"aisle": 1, "node": "W3"}),
            "stores[2].io_points[1].aisle",
            "aisle 1 already has an I/O point",
            "io_points[0]",
        ),
    ],
)
def test_io_points_per_aisle(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- stations_reachable


def _dock_is_a_dead_end(p: Plant) -> None:
    remove_edge(p, "DOCK1", "W5")
    edge(p, "W6", "DOCK1")["two_way"] = False  # vehicles get to DOCK1 and can go nowhere from there


@pytest.mark.parametrize(
    "c",
    [
        case(
            "edge-to-station-handover-cut",
            lambda p: remove_edge(p, "W6", "DOCK1"),
            "stations[2]",
            "station 'SD1'",
            "any vehicle class",
        ),
        case(
            "one-way-edge-turned-round",
            lambda p: edge(p, "W5", "W6").update({"from": "W6", "to": "W5"}),
            "stations[2]",
            "station 'SD1'",
        ),
        case(
            "edge-closed-to-every-class",
            lambda p: edge(p, "W6", "DOCK1").update(classes=[]),
            "stations[2]",
            "station 'SD1'",
        ),
        case(
            "station-reached-but-not-left",
            _dock_is_a_dead_end,
            "stations[2]",
            "station 'SD1'",
            "(and left)",
        ),
        case(
            "served-by-a-class-that-cannot-get-there",
            lambda p: station(p, "CM1").update(served_by=["agv"]),
            "stations[1]",
            "station 'CM1'",
            "its classes (agv)",
        ),
        case(
            "bay-handover-unreachable",
            lambda p: remove_edge(p, "W2", "H-FS1"),
            "stores[0].bays[0].handovers[0]",
            "node 'H-FS1' cannot be reached",
        ),
        case(
            "io-point-unreachable",
            lambda p: remove_edge(p, "W3", "IO-HB1"),
            "stores[2].io_points[0]",
            "node 'IO-HB1' cannot be reached",
        ),
    ],
)
def test_stations_reachable(c: Case) -> None:
    check(c)


def _dock_reachable_only_from_an_unused_parking_spot(p: Plant) -> None:
    p["network"]["nodes"] += [
        {"id": "P9", "at": [115, 10], "kind": "parking"},
        {"id": "DOCK2", "at": [115, 5], "kind": "handover"},
    ]
    p["network"]["edges"].append({"from": "P9", "to": "DOCK2"})
    p["stations"].append(
        {
            "id": "SD2",
            "kind": "shipping_dock",
            "role": "consumes",
            "handovers": ["DOCK2"],
            "served_by": ["agv"],
        }
    )
    p["fleet"][0]["count"] = 1  # the one AGV starts on P1; P9 stays empty


def test_a_parking_spot_with_a_vehicle_on_it_makes_its_island_reachable() -> None:
    def third_agv(p: Plant) -> None:
        _dock_reachable_only_from_an_unused_parking_spot(p)
        p["fleet"][0]["count"] = 3  # P1, P2 and P9 all get a vehicle

    text, _ = broken(third_agv)
    plant = layout.parse_plant(text, source="island.yaml")
    assert sorted(v.home for v in plant.vehicles.values() if v.vehicle_class.id == "agv") == [
        "P1",
        "P2",
        "P9",
    ]


def test_a_station_reachable_only_from_an_unused_home_is_reported() -> None:
    """Reachability starts where vehicles stand (the first `count` homes), not from every candidate home."""
    problems = problems_after(_dock_reachable_only_from_an_unused_parking_spot)
    assert_only(problems, "stations[3]")
    assert_problem(problems, "stations[3]", "station 'SD2'", "(agv)")


def test_listed_homes_beyond_the_count_are_not_starting_points() -> None:
    def listed(p: Plant) -> None:
        _dock_reachable_only_from_an_unused_parking_spot(p)
        p["fleet"][0].update(count=2, homes=["P1", "P2", "P9"])

    problems = problems_after(listed)
    assert_only(problems, "stations[3]")
    assert_problem(problems, "stations[3]", "station 'SD2'")


# ---------------------------------------------------------------------------------------------- fleet_fits_homes


def _two_agv_entries_one_home(p: Plant) -> None:
    p["fleet"][0].update(count=1, homes=["P1"])
    p["fleet"].append({"class": "agv", "count": 1, "prefix": "AGX", "homes": ["P1"]})


def _two_agv_entries_on_near_homes(p: Plant) -> None:
    p["fleet"][0].update(count=1, homes=["P1"])
    p["fleet"].append({"class": "agv", "count": 1, "prefix": "AGX", "homes": ["P2"]})
    node(p, "P2")["at"] = [104, 27]


@pytest.mark.parametrize(
    "c",
    [
        case(
            "more-vehicles-than-parking-nodes",
            lambda p: p["fleet"][0].update(count=3),
            "fleet[0].count",
            "3 vehicles but only 2 parking nodes",
        ),
        case(
            "more-vehicles-than-listed-homes",
            lambda p: p["fleet"][0].update(homes=["P1"]),
            "fleet[0].count",
            "2 vehicles but only 1 homes listed",
        ),
        case(
            "a-home-listed-twice",
            lambda p: p["fleet"][0].update(homes=["P1", "P1"]),
            "fleet[0].count",
            "2 vehicles but only 1 homes listed",
        ),
        case(
            "two-entries-share-parking",
            lambda p: p["fleet"].append({"class": "agv", "count": 1, "prefix": "AGX"}),
            "fleet[2]",
            "home 'P1' is also a home of fleet[0]",
        ),
        case(
            "two-entries-share-a-listed-home",
            _two_agv_entries_one_home,
            "fleet[2]",
            "home 'P1' is also a home of fleet[0]",
        ),
        case(
            "homes-closer-than-the-vehicles-are-long",
            lambda p: node(p, "P2").update(at=[103, 27]),  # AGVs are 6 m long
            "fleet[0]",
            "home 'P2' is 3.0 m from home 'P1'",
            "need 6.0 m",
        ),
        case(
            "homes-of-two-entries-too-close",
            _two_agv_entries_on_near_homes,
            "fleet[2]",
            "home 'P2' is 4.0 m from home 'P1' (fleet[0])",
        ),
        case(
            "two-rgv-entries-share-a-stop",
            lambda p: p["fleet"].append({"class": "rgv", "count": 1, "prefix": "RGX"}),
            "fleet[2]",
            "home 'RS1' is also a home of fleet[1]",
        ),
    ],
)
def test_fleet_fits_homes(c: Case) -> None:
    check(c)


# ---------------------------------------------------------------------------------------------- rgv_rails_used


@pytest.mark.parametrize(
    "c",
    [
        case(
            "rail-without-length",
            lambda p: rail(p).update(path=[[30, 50], [30, 50]]),
            "vehicle_classes[1].rail",
            "rail 'RL1' has no length",
            also=["network.rails[0].stops[1].at"],  # RS2 at 67 m is beyond its end
        ),
    ],
)
def test_rgv_rails_used(c: Case) -> None:
    check(c)
