"""Scenario files: valid examples load; every problem names its field path (and line), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from layout import load_plant
from simulation.experiment import OverrideError, default_scenario_path, prepare
from simulation.scenario import ScenarioInvalid, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[3]
TINY = load_plant(ROOT / "examples" / "tiny.yaml")

MINIMAL = """\
format: 1
scenario: {id: t}
sources:
  - id: mill
    station: HM
    store: FS1
    interarrival_s: {dist: exponential, mean: 600}
"""


@pytest.mark.parametrize("stem", ["tiny", "aluminium-rolling"])
def test_each_example_plant_ships_a_scenario_that_loads(stem: str) -> None:
    layout = ROOT / "examples" / f"{stem}.yaml"
    path = default_scenario_path(layout)
    assert path is not None and path.name == f"{stem}.scenario.yaml"
    plant, scenario = prepare(layout, path, {})
    assert scenario.sources and (scenario.demand.retrievals or scenario.demand.shipments)
    assert plant.vehicles


def test_unknown_key_is_named_with_its_path_and_line() -> None:
    text = MINIMAL.replace("    store: FS1\n", "    store: FS1\n    stroe: FS2\n")
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(text, source="s.yaml", plant=TINY)
    (problem,) = caught.value.problems
    assert problem.where == "sources[0].stroe"
    assert "unknown field" in problem.message
    assert problem.line == 7


def test_bad_distribution_names_the_field() -> None:
    text = MINIMAL.replace("{dist: exponential, mean: 600}", "{dist: exponential, mean: -5}")
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(text, source="s.yaml", plant=TINY)
    assert [p.where for p in caught.value.problems] == ["sources[0].interarrival_s.mean"]
    assert "greater than 0" in caught.value.problems[0].message


def test_references_to_the_plant_are_checked() -> None:
    text = MINIMAL.replace("station: HM", "station: HM9").replace("store: FS1", "store: IS1")
    text += "breakdowns: {classes: {hovercraft: {mtbf_h: 10, mttr_h: 1}}}\n"
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(text, source="s.yaml", plant=TINY)
    messages = {p.where: p.message for p in caught.value.problems}
    assert "unknown station 'HM9'" in messages["sources[0].station"]
    assert "sources[0].store" not in messages  # a source may feed the ingot store (slabs)
    assert "unknown vehicle class 'hovercraft'" in messages["breakdowns.classes.hovercraft"]


SLABS = """\
format: 1
scenario: {id: slabs}
sources:
  - id: pit
    station: HM
    handover: HM-X
    store: IS1
    interarrival_s: {dist: uniform, low: 10800, high: 18000}
    batch: {dist: uniform, low: 3.5, high: 6.49}
    exit_buffer: 6
    slab:
      alloy: {AA5182: 1.0}
      width_m: {dist: uniform, low: 1.4, high: 2.1}
      thickness_m: 0.55
demand:
  retrievals:
    - {id: mill, station: CM1, store: IS1, interarrival_s: 1440, max_open: 2}
"""


def test_a_slab_source_and_slab_demand_load() -> None:
    scenario = parse_scenario(SLABS, source="s.yaml", plant=TINY)
    (source,) = scenario.sources
    assert source.slab is not None and source.slab.thickness_m == 0.55
    assert scenario.demand.retrievals[0].max_open == 2


def test_coil_and_slab_attributes_must_fit_the_store() -> None:
    text = SLABS.replace("    slab:\n", "    attributes: {alloy: {AA5182: 1.0}}\n    slab:\n")
    text = text.replace("store: IS1, interarrival_s: 1440", "store: IS1, temper: F, interarrival_s: 1440")
    text += "  shipments:\n    - {id: trucks, docks: [SD1], store: IS1, interarrival_s: 3600}\n"
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(text, source="s.yaml", plant=TINY)
    messages = {p.where: p.message for p in caught.value.problems}
    assert "describe them under 'slab'" in messages["sources[0].attributes"]
    assert "no temper" in messages["demand.retrievals[0].temper"]
    assert "trucks take coils only" in messages["demand.shipments[0].store"]
    coil_store = SLABS.replace("store: IS1\n", "store: FS1\n")
    with pytest.raises(ScenarioInvalid) as wrong:
        parse_scenario(coil_store, source="s.yaml", plant=TINY)
    assert [p.where for p in wrong.value.problems] == ["sources[0].slab"]
    assert wrong.value.problems[0].line is not None


def test_unknown_calendar_and_warmup_longer_than_the_run() -> None:
    text = MINIMAL.replace("    store: FS1\n", "    store: FS1\n    calendar: nights\n")
    text += "run: {hours: 4, warmup_hours: 6}\n"
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario(text, source="s.yaml")
    wheres = sorted(p.where for p in caught.value.problems)
    assert wheres == ["run.warmup_hours", "sources[0].calendar"]


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scenario("scenario: {id: [", source="s.yaml")
    assert "YAML syntax error" in caught.value.problems[0].message
    with pytest.raises(ScenarioInvalid) as missing:
        load_scenario(tmp_path / "nope.yaml")
    assert "cannot read the file" in missing.value.problems[0].message


def test_overrides_reach_scenario_and_plant_values() -> None:
    layout = ROOT / "examples" / "tiny.yaml"
    scenario = ROOT / "examples" / "tiny.scenario.yaml"
    plant, plan = prepare(
        layout,
        scenario,
        {"fleet.agv.count": "1", "sources.mill-to-FS1.interarrival_s": "900", "run.sample_s": 300},
    )
    assert sum(1 for v in plant.vehicles.values() if v.vehicle_class.id == "agv") == 1
    assert plan.sources[0].interarrival_s == 900
    assert plan.run.sample_s == 300
    with pytest.raises(OverrideError, match="no entry 'nope'"):
        prepare(layout, scenario, {"sources.nope.interarrival_s": 1})
    with pytest.raises(ScenarioInvalid) as caught:
        prepare(layout, scenario, {"run.hours": "-1"})
    assert caught.value.problems[0].where == "run.hours"
