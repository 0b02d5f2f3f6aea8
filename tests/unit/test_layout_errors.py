"""Problems found before the rules run: YAML syntax, shape, types, signs, unknown fields, unreadable files.

They are reported like rule problems, as `LayoutInvalid` with a field path and a line, never as a
traceback; and every problem in a file is reported at once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layout
from layout import LayoutInvalid, LayoutProblem
from tests.layout_helpers import (
    SOURCE,
    TINY_PATH,
    Mutation,
    Plant,
    assert_only,
    assert_problem,
    broken,
    coil_row,
    coil_store,
    edge,
    high_bay,
    line_containing,
    problems_of_text,
    rail,
    slab_store,
    tiny,
    tiny_text,
)

ROW0 = "stores[0].bays[0].rows[0]"


def replaced(text: str, old: str, new: str) -> str:
    """`text` with the first `old` replaced; fails if `old` is not there (so the edit cannot go stale)."""
    assert old in text, f"{old!r} is not in the text"
    return text.replace(old, new, 1)


def only_file_problem(text: str) -> LayoutProblem:
    problems = problems_of_text(text)
    assert len(problems) == 1, problems
    (found,) = problems
    assert found.path == ()
    assert found.where == "(file)"
    return found


# ---------------------------------------------------------------------------------------------- YAML and the top level


def test_yaml_syntax_error_has_its_line() -> None:
    text = replaced(tiny_text(), "name: Tiny test plant", "name: Tiny: test plant")
    found = only_file_problem(text)
    assert found.message.startswith("YAML syntax error")
    assert "mapping values are not allowed" in found.message
    assert found.line == line_containing(text, "name: Tiny: test plant")


def test_yaml_syntax_error_in_a_flow_list_points_near_it() -> None:
    text = replaced(tiny_text(), "- {id: W3, at: [52, 27]}", "- {id: W3, at: [52, 27}")
    found = only_file_problem(text)
    assert "YAML syntax error" in found.message
    assert found.line == line_containing(text, "at: [52, 27}")


def test_a_duplicate_key_is_refused_at_its_line() -> None:
    text = replaced(tiny_text(), "  name: Tiny test plant\n", "  name: Tiny test plant\n  name: Again\n")
    found = only_file_problem(text)
    assert "duplicate key 'name'" in found.message
    assert found.line == line_containing(text, "name: Again")


def test_merge_keys_may_override_what_they_merge() -> None:
    # `{<<: *crane, id: C2}` sets `id` twice on purpose: that is not a duplicate key.
    assert "<<: *crane, id: C2" in tiny_text()
    assert layout.parse_plant_file(tiny_text(), source=SOURCE).stores[0].cranes[1].id == "C2"  # type: ignore[union-attr]


def test_yaml_tags_that_construct_objects_are_refused() -> None:
    found = only_file_problem("format: 1\nplant: !!python/object/apply:os.getcwd []\n")
    assert "YAML syntax error" in found.message
    assert "python/object/apply" in found.message
    assert found.line == 2


def test_two_documents_are_refused() -> None:
    found = only_file_problem(tiny_text() + "\n---\nformat: 1\n")
    assert "YAML syntax error" in found.message
    assert "single document" in found.message


@pytest.mark.parametrize(
    ("text", "found"),
    [
        pytest.param("- FS1\n- FS2\n", "found list", id="list"),
        pytest.param("tiny plant\n", "found str", id="scalar"),
        pytest.param("42\n", "found int", id="number"),
        pytest.param("", "found an empty document", id="empty"),
        pytest.param("# nothing here yet\n", "found an empty document", id="only-a-comment"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, found: str) -> None:
    problem = only_file_problem(text)
    assert problem.message == f"expected a mapping at the top, {found}"
    assert problem.line == 1


# ---------------------------------------------------------------------------------------------- types and signs


def test_wrong_type_points_at_the_row_line_in_the_original_file() -> None:
    text = replaced(tiny_text(), "positions: 8, pitch: 2.4", 'positions: "many", pitch: 2.4')
    problems = problems_of_text(text)
    assert_only(problems, f"{ROW0}.positions")
    found = assert_problem(problems, f"{ROW0}.positions", "valid integer", "'many'")
    assert found.line == line_containing(text, "- {id: R01, origin: [9, 36]")


def test_wrong_type_points_at_the_field_line_in_block_style() -> None:
    text, _ = broken(lambda p: coil_row(p, 0).update(positions="many"))
    problems = problems_of_text(text)
    field_line = line_containing(text, "positions: many")
    assert field_line > line_containing(text, "- id: R01")
    assert_problem(problems, f"{ROW0}.positions", "valid integer", line=field_line)


@pytest.mark.parametrize("speed", [0, -1, -0.5], ids=["zero", "minus-one", "minus-half"])
def test_speed_must_be_positive(speed: float) -> None:
    text, _ = broken(lambda p: p["vehicle_classes"][0].update(speed_empty=speed))
    problems = problems_of_text(text)
    assert_only(problems, "vehicle_classes[0].speed_empty")
    assert_problem(
        problems,
        "vehicle_classes[0].speed_empty",
        "greater than 0",
        f"(got {speed})",
        line=line_containing(text, f"speed_empty: {speed}"),
    )


@pytest.mark.parametrize(
    ("where", "set_field"),
    [
        pytest.param(f"{ROW0}.pitch", lambda p: coil_row(p, 0).update(pitch=0), id="pitch-zero"),
        pytest.param(
            f"{ROW0}.saddle_length", lambda p: coil_row(p, 0).update(saddle_length=-2.2), id="saddle"
        ),
        pytest.param("stores[2].cell.width", lambda p: high_bay(p)["cell"].update(width=0), id="cell-width"),
        pytest.param(
            "stores[0].runways[0].span", lambda p: coil_store(p)["runways"][0].update(span=0), id="span"
        ),
        pytest.param("stores[2].aisles", lambda p: high_bay(p).update(aisles=0), id="count-zero"),
        pytest.param(
            "network.edges[0].length", lambda p: p["network"]["edges"][0].update(length=0), id="edge"
        ),
    ],
)
def test_sizes_must_be_positive(where: str, set_field: Mutation) -> None:
    problems = problems_of_text(broken(set_field)[0])
    assert_only(problems, where)
    assert_problem(problems, where, "greater than", "(got ")


def test_rail_stops_may_be_at_zero_but_not_below() -> None:
    problems = problems_of_text(broken(lambda p: rail(p)["stops"][0].update(at=-1))[0])
    assert_only(problems, "network.rails[0].stops[0].at")
    assert_problem(problems, "network.rails[0].stops[0].at", "greater than or equal to 0", "(got -1)")


@pytest.mark.parametrize(
    ("where", "set_band"),
    [
        pytest.param(
            f"{ROW0}.width_band",
            lambda p: coil_row(p, 0).update(width_band={"min": 2.5, "max": 2.0}),
            id="saddle-width-band",
        ),
        pytest.param(
            "stores[2].od_band",
            lambda p: high_bay(p).update(od_band={"min": 2.3, "max": 2.2}),
            id="high-bay-od-band",
        ),
    ],
)
def test_band_min_above_max(where: str, set_band: Mutation) -> None:
    text, plant = broken(set_band)
    problems = problems_of_text(text)
    assert_only(problems, where)
    band = coil_row(plant, 0)["width_band"] if "rows" in where else high_bay(plant)["od_band"]
    assert_problem(problems, where, "min", "greater than max", f"({band['min']})", f"({band['max']})")


def test_a_band_of_one_value_is_fine() -> None:
    text, _ = broken(lambda p: coil_row(p, 0).update(width_band={"min": 1.5, "max": 1.5}))
    layout.parse_plant_file(text, source=SOURCE)


@pytest.mark.parametrize(
    ("where", "old", "new"),
    [
        pytest.param(f"{ROW0}.pitch", "pitch: 2.4", "pitch: .inf", id="pitch-inf"),
        pytest.param(f"{ROW0}.origin[0]", "origin: [9, 36]", "origin: [.nan, 36]", id="row-origin-nan"),
        pytest.param(
            f"{ROW0}.heading_deg", "origin: [9, 36]", "origin: [9, 36], heading_deg: .nan", id="heading-nan"
        ),
        pytest.param(
            "stores[2].origin[0]", "origin: [60, 30]", "origin: [.nan, 30]", id="high-bay-origin-nan"
        ),
        pytest.param("network.rails[0].path[2][0]", "[90, 57]]", "[-.inf, 57]]", id="rail-path-minus-inf"),
        pytest.param(
            "vehicle_classes[0].speed_empty", "speed_empty: 1.5", "speed_empty: .inf", id="speed-inf"
        ),
    ],
)
def test_non_finite_numbers_are_reported(where: str, old: str, new: str) -> None:
    """YAML has .nan and .inf; they pass `> 0` checks and would poison the geometry, so they are refused."""
    text = replaced(tiny_text(), old, new)
    problems = problems_of_text(text)
    assert_only(problems, where)
    assert_problem(problems, where, "finite number", line=line_containing(text, new))


def test_battery_low_fraction_below_full() -> None:
    problems = problems_of_text(
        broken(lambda p: p["vehicle_classes"][0]["battery"].update(low_fraction=0.95))[0]
    )
    assert_only(problems, "vehicle_classes[0].battery")
    assert_problem(problems, "vehicle_classes[0].battery", "low_fraction (0.95)", "full_fraction (0.9)")


# ---------------------------------------------------------------------------------------------- fields


def test_unknown_field_is_reported_by_name_at_its_path() -> None:
    def typo(p: Plant) -> None:
        row = coil_row(p, 0)
        row["pich"] = row.pop("pitch")

    text, _ = broken(typo)
    problems = problems_of_text(text)
    assert_only(problems, f"{ROW0}.pich", f"{ROW0}.pitch")
    found = assert_problem(problems, f"{ROW0}.pich", line=line_containing(text, "pich: 2.4"))
    assert found.message == "unknown field 'pich'"
    assert_problem(problems, f"{ROW0}.pitch", "required field is missing")


def test_field_of_another_store_kind_is_unknown() -> None:
    """The discriminator tag ('flat') pydantic puts in its location must not show in the path."""
    problems = problems_of_text(broken(lambda p: coil_store(p).update(aisles=2))[0])
    assert_only(problems, "stores[0].aisles")
    assert_problem(problems, "stores[0].aisles", "unknown field 'aisles'")


def test_missing_required_field_points_at_its_parent() -> None:
    text, _ = broken(lambda p: coil_row(p, 0).pop("max_coil_weight"))
    problems = problems_of_text(text)
    assert_only(problems, f"{ROW0}.max_coil_weight")
    assert_problem(
        problems,
        f"{ROW0}.max_coil_weight",
        "required field is missing",
        line=line_containing(text, "- id: R01"),
    )


@pytest.mark.parametrize(
    ("where", "mutate"),
    [
        pytest.param(
            "network.edges[0].from",
            lambda p: edge(p, "W1", "W2").update({"frm": edge(p, "W1", "W2").pop("from")}),
            id="edge-from",
        ),
        pytest.param("fleet[0].class", lambda p: p["fleet"][0].pop("class"), id="fleet-class"),
    ],
)
def test_missing_aliased_field_is_reported_by_its_name_in_the_file(where: str, mutate: Mutation) -> None:
    problems = problems_of_text(broken(mutate)[0])
    assert_problem(problems, where, "required field is missing")


def test_python_names_of_aliased_fields_are_unknown() -> None:
    """The file says `from`, not pydantic's `source`; `source` is a typo, not a synonym."""

    def python_name(p: Plant) -> None:
        first = edge(p, "W1", "W2")
        first["source"] = first.pop("from")

    problems = problems_of_text(broken(python_name)[0])
    assert_only(problems, "network.edges[0].source", "network.edges[0].from")
    assert_problem(problems, "network.edges[0].source", "unknown field 'source'")


def test_unknown_store_kind() -> None:
    problems = problems_of_text(broken(lambda p: slab_store(p).update(kind="silo"))[0])
    assert_only(problems, "stores[1]")
    assert_problem(problems, "stores[1]", "'silo'", "'kind'", "'flat', 'ingot', 'high_bay'")


def test_store_without_kind() -> None:
    problems = problems_of_text(broken(lambda p: slab_store(p).pop("kind"))[0])
    assert_only(problems, "stores[1]")
    assert_problem(problems, "stores[1]", "discriminator 'kind'")


def test_rgv_class_needs_a_rail() -> None:
    problems = problems_of_text(broken(lambda p: p["vehicle_classes"][1].pop("rail"))[0])
    assert_only(problems, "vehicle_classes[1]")
    assert_problem(problems, "vehicle_classes[1]", "RGV class needs `rail`")


def test_agv_class_may_not_have_a_rail() -> None:
    problems = problems_of_text(broken(lambda p: p["vehicle_classes"][0].update(rail="RL1"))[0])
    assert_only(problems, "vehicle_classes[0]")
    assert_problem(problems, "vehicle_classes[0]", "only for RGV classes")


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [("length", "mm", "m"), ("length", "ft", "m"), ("time", "min", "s"), ("mass", "kg", "t")],
    ids=["millimetres", "feet", "minutes", "kilograms"],
)
def test_units_other_than_metres_seconds_tonnes_are_refused(unit: str, value: str, expected: str) -> None:
    text = replaced(tiny_text(), f"{unit}: {expected}", f"{unit}: {value}")
    problems = problems_of_text(text)
    assert_only(problems, f"plant.units.{unit}")
    assert_problem(
        problems,
        f"plant.units.{unit}",
        f"'{expected}'",
        f"(got '{value}')",
        line=line_containing(text, "units:"),
    )


def test_format_other_than_1_is_refused() -> None:
    problems = problems_of_text(broken(lambda p: p.update(format=2))[0])
    assert_only(problems, "format")
    assert_problem(problems, "format", "(got 2)", line=1)


# ---------------------------------------------------------------------------------------------- files and reports


def test_load_plant_reads_the_example() -> None:
    assert layout.load_plant(TINY_PATH).file.plant.id == "tiny"
    assert layout.load_plant(str(TINY_PATH)).file.plant.id == "tiny"


def test_load_plant_on_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-plant.yaml"
    with pytest.raises(LayoutInvalid) as caught:
        layout.load_plant(missing)
    (found,) = caught.value.problems
    assert found.where == "(file)"
    assert found.message.startswith("cannot read the file")
    assert "No such file" in found.message
    assert found.line is None
    assert caught.value.source == str(missing)
    assert f"{missing}: (file): cannot read the file" in str(caught.value)


def test_load_plant_on_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LayoutInvalid) as caught:
        layout.load_plant(tmp_path)
    assert caught.value.problems[0].message.startswith("cannot read the file")


def test_load_plant_on_a_file_that_is_not_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    # What Path.read_text(encoding="utf-8") raises on a Latin-1 'ü' (a station named "Walzwerk Düren").
    def undecodable(self: Path, *args: object, **kwargs: object) -> str:
        raise UnicodeDecodeError("utf-8", b"D\xfcren", 1, 2, "invalid start byte")

    monkeypatch.setattr(Path, "read_text", undecodable)
    with pytest.raises(LayoutInvalid) as caught:
        layout.load_plant(TINY_PATH)
    assert caught.value.problems[0].message.startswith("cannot read the file")


def _three_rule_errors(p: Plant) -> None:
    p["network"]["edges"][0]["to"] = "NOPE"  # known_references
    coil_store(p)["cranes"][0]["safe_working_load"] = 25  # crane_loads
    high_bay(p)["cell"]["width"] = 2.1  # saddles_fit_bands


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of_text(broken(_three_rule_errors)[0])
    assert_only(
        problems, "network.edges[0].to", "stores[0].cranes[0].safe_working_load", "stores[2].cell.width"
    )
    lines = [p.line or 0 for p in problems]
    assert lines == sorted(lines), "problems are listed in file order"


def test_every_schema_problem_is_reported_at_once() -> None:
    def two(p: Plant) -> None:
        coil_row(p, 0)["pitch"] = 0
        p["vehicle_classes"][0]["speed_empty"] = 0
        p["fleet"][1]["count"] = 0

    problems = problems_of_text(broken(two)[0])
    assert_only(problems, f"{ROW0}.pitch", "vehicle_classes[0].speed_empty", "fleet[1].count")


def test_message_names_source_line_and_path() -> None:
    text, _ = broken(_three_rule_errors)
    with pytest.raises(LayoutInvalid) as caught:
        layout.parse_plant_file(text, source=SOURCE)
    lines = str(caught.value).splitlines()
    assert lines[0] == "broken.yaml: 3 problems"
    edge_line = line_containing(text, "to: NOPE")
    crane_line = line_containing(text, "safe_working_load: 25")
    assert f"  broken.yaml:{edge_line}: network.edges[0].to: unknown node 'NOPE'" in lines
    assert (
        f"  broken.yaml:{crane_line}: stores[0].cranes[0].safe_working_load: "
        "25 t is below the heaviest coil its bays allow (30 t)"
    ) in lines
    assert len(lines) == 4


def test_a_single_problem_is_not_plural() -> None:
    with pytest.raises(LayoutInvalid) as caught:
        layout.parse_plant_file("", source=SOURCE)
    assert str(caught.value).splitlines() == [
        "broken.yaml: 1 problem",
        "  broken.yaml:1: (file): expected a mapping at the top, found an empty document",
    ]


def test_default_source_name() -> None:
    with pytest.raises(LayoutInvalid) as caught:
        layout.parse_plant_file("[]")
    assert caught.value.source == "<text>"
    assert str(caught.value).startswith("<text>: 1 problem")


# ---------------------------------------------------------------------------------------------- never a traceback

NumberPath = tuple[str | int, ...]
# Whole-number fields: a huge value there means a huge plant to check and build, not a different bug.
COUNTS = {"positions", "columns", "levels", "aisles", "aisle", "count", "capacity_units", "tiers", "sides"}


def _numbers(node: object, path: NumberPath = ()) -> list[NumberPath]:
    """Paths of every number in the plant data (except `format`)."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _numbers(value, (*path, key))]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in _numbers(value, (*path, index))]
    if isinstance(node, int | float) and not isinstance(node, bool) and path != ("format",):
        return [path]
    return []


NUMBER_PATHS = _numbers(tiny())


def _set(plant: Plant, path: NumberPath, value: float) -> None:
    node: Any = plant
    for part in path[:-1]:
        node = node[part]
    if (path[-1] in COUNTS or "cooling_positions" in path) and math.isfinite(value):
        value = max(-3.0, min(value, 30.0))
    node[path[-1]] = value


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(
        st.tuples(
            st.sampled_from(NUMBER_PATHS),
            st.one_of(
                st.floats(min_value=-1e6, max_value=1e6),
                st.sampled_from([0, -1, 1e-9, 0.5, 1, 2, 3, 1000, math.nan, math.inf, -math.inf]),
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_any_numbers_give_a_plant_or_located_problems(changes: list[tuple[NumberPath, float]]) -> None:
    plant = tiny()
    for path, value in changes:
        _set(plant, path, value)
    text = broken(lambda p: None, plant)[0]
    try:
        layout.parse_plant(text, source=SOURCE)
    except LayoutInvalid as error:
        assert error.problems
        for found in error.problems:
            assert found.line is not None, found
            assert found.path, found


def test_the_property_test_samples_many_numbers() -> None:
    assert len(NUMBER_PATHS) > 100
    assert ("stores", 0, "bays", 0, "rows", 0, "pitch") in NUMBER_PATHS


# ---------------------------------------------------------------------------------------------- unions


@pytest.mark.parametrize("value", [[0], "some"], ids=["position-zero", "a-word"])
def test_cooling_positions_error_has_a_file_path(value: object) -> None:
    problems = problems_of_text(broken(lambda p: coil_row(p, 0).update(cooling_positions=value))[0])
    assert len(problems) == 1, problems
    where = problems[0].where
    assert where.startswith(f"{ROW0}.cooling_positions"), where
    assert "[constrained" not in where and "literal[" not in where and "list[" not in where, where


def test_json_round_trip_keeps_the_plant() -> None:
    """The helpers pass the plant through JSON; that must not change it."""
    assert json.loads(json.dumps(tiny())) == tiny()
