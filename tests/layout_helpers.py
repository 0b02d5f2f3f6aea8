"""Shared helpers for the layout tests: break `examples/tiny.yaml` on purpose and look at what is reported."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

import layout
from layout import LayoutInvalid, LayoutProblem

REPO_ROOT = Path(__file__).parents[1]
TINY_PATH = REPO_ROOT / "examples" / "tiny.yaml"
SOURCE = "broken.yaml"

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

Plant = dict[str, Any]
Mutation = Callable[[Plant], object]


@functools.cache
def _tiny_text() -> str:
    return TINY_PATH.read_text(encoding="utf-8")


@functools.cache
def _tiny_data() -> str:
    loaded = yaml.load(_tiny_text(), Loader=_LOADER)
    assert isinstance(loaded, dict)
    # Through JSON so that nothing is shared (the file's `<<: *crane` merge shares the axis mappings).
    return json.dumps(loaded)


def tiny_text() -> str:
    """The text of the example plant, read once per test session."""
    return _tiny_text()


def tiny() -> Plant:
    """A fresh, mutable copy of the example plant as plain Python data."""
    data = json.loads(_tiny_data())
    assert isinstance(data, dict)
    return data


def dump(plant: Plant) -> str:
    """YAML text for plant data, block style with short lists inline, without anchors."""
    plain = json.loads(json.dumps(plant))  # a mutation may share objects (`dict(x)`); write them out in full
    return yaml.dump(plain, Dumper=_DUMPER, sort_keys=False, default_flow_style=None, width=200)


def broken(mutate: Mutation, base: Plant | None = None) -> tuple[str, Plant]:
    """Apply `mutate` to a deep copy of the plant (tiny by default); return the YAML text and the data."""
    plant = copy.deepcopy(base if base is not None else tiny())
    mutate(plant)
    return dump(plant), plant


def problems_of_text(text: str) -> tuple[LayoutProblem, ...]:
    """Parse text that must be invalid and return every problem reported."""
    with pytest.raises(LayoutInvalid) as caught:
        layout.parse_plant_file(text, source=SOURCE)
    error = caught.value
    assert error.source == SOURCE
    assert error.problems, "LayoutInvalid raised with no problems"
    return error.problems


def problems_after(mutate: Mutation, base: Plant | None = None) -> tuple[LayoutProblem, ...]:
    """Break a copy of tiny.yaml with `mutate`, parse it, and return the problems (fails if it parses)."""
    text, _ = broken(mutate, base)
    return problems_of_text(text)


def describe(problems: Sequence[LayoutProblem]) -> str:
    return "\n".join(p.describe(SOURCE) for p in problems)


def assert_problem(
    problems: Sequence[LayoutProblem], where: str, *words: str, line: int | None = None
) -> LayoutProblem:
    """A problem at exactly `where` exists, mentions every word, and has a line (the given one, if any)."""
    at_path = [p for p in problems if p.where == where]
    assert at_path, f"no problem at {where!r}; reported:\n{describe(problems)}"
    matching = [p for p in at_path if all(w in p.message for w in words)]
    assert matching, f"problem(s) at {where!r} do not mention all of {words!r}:\n{describe(at_path)}"
    found = matching[0]
    assert found.line is not None, f"problem at {where!r} has no line number"
    assert found.line >= 1
    if line is not None:
        assert found.line == line, f"problem at {where!r} is on line {found.line}, expected {line}"
    return found


def assert_only(problems: Sequence[LayoutProblem], *wheres: str) -> None:
    """Exactly these paths were reported (one problem each, in any order): a mistake is not echoed elsewhere."""
    assert sorted(p.where for p in problems) == sorted(wheres), describe(problems)


def line_containing(text: str, fragment: str, start: int = 1) -> int:
    """The 1-based number of the first line at or after `start` that contains `fragment`."""
    for number, content in enumerate(text.splitlines(), start=1):
        if number >= start and fragment in content:
            return number
    raise AssertionError(f"{fragment!r} is not in the text")


# ---------------------------------------------------------------------------------------------- lookups


def store(plant: Plant, store_id: str) -> dict[str, Any]:
    found = next(s for s in plant["stores"] if s["id"] == store_id)
    assert isinstance(found, dict)
    return found


def coil_store(plant: Plant) -> dict[str, Any]:
    """FS1, the flat coil store: stores[0]."""
    return store(plant, "FS1")


def slab_store(plant: Plant) -> dict[str, Any]:
    """IS1, the ingot store: stores[1]."""
    return store(plant, "IS1")


def high_bay(plant: Plant) -> dict[str, Any]:
    """HB1, the one-aisle high-bay store: stores[2]."""
    return store(plant, "HB1")


def coil_bay(plant: Plant) -> dict[str, Any]:
    """Bay B1 of FS1: stores[0].bays[0]."""
    bay = coil_store(plant)["bays"][0]
    assert isinstance(bay, dict)
    return bay


def coil_row(plant: Plant, index: int) -> dict[str, Any]:
    """Saddle row R01 (0) or R02 (1) of FS1/B1: stores[0].bays[0].rows[index]."""
    row = coil_bay(plant)["rows"][index]
    assert isinstance(row, dict)
    return row


def slab_bay(plant: Plant) -> dict[str, Any]:
    """Bay B1 of IS1: stores[1].bays[0]."""
    bay = slab_store(plant)["bays"][0]
    assert isinstance(bay, dict)
    return bay


def slab_row(plant: Plant) -> dict[str, Any]:
    """Stack row R01 of IS1/B1: stores[1].bays[0].rows[0]."""
    row = slab_bay(plant)["rows"][0]
    assert isinstance(row, dict)
    return row


def node(plant: Plant, node_id: str) -> dict[str, Any]:
    found = next(n for n in plant["network"]["nodes"] if n["id"] == node_id)
    assert isinstance(found, dict)
    return found


def edge_index(plant: Plant, source: str, target: str) -> int:
    edges = plant["network"]["edges"]
    return next(i for i, e in enumerate(edges) if e["from"] == source and e["to"] == target)


def edge(plant: Plant, source: str, target: str) -> dict[str, Any]:
    found = plant["network"]["edges"][edge_index(plant, source, target)]
    assert isinstance(found, dict)
    return found


def remove_edge(plant: Plant, source: str, target: str) -> None:
    del plant["network"]["edges"][edge_index(plant, source, target)]


def rail(plant: Plant) -> dict[str, Any]:
    """RL1, the RGV rail: network.rails[0]."""
    found = plant["network"]["rails"][0]
    assert isinstance(found, dict)
    return found


def station(plant: Plant, station_id: str) -> dict[str, Any]:
    found = next(s for s in plant["stations"] if s["id"] == station_id)
    assert isinstance(found, dict)
    return found
