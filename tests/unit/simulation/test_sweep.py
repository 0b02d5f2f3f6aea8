"""Sweeps: --vary parsing, the grid, runs on a pool against a deterministic stand-in of run_experiment, and
the table, plots and page they write."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import simulation.sweep as sweep_module
from simulation.sweep import (
    Experiment,
    Line,
    SweepInvalid,
    Vary,
    grid,
    parse_vary,
    plateau,
    point_share,
    run_sweep,
    write_outputs,
)
from tests.sim_run_fixtures import (
    TINY_LAYOUT,
    failing_run_experiment,
    stand_in_run_experiment,
    unpicklable_failing_run_experiment,
)

EXPERIMENT = Experiment(TINY_LAYOUT, None, hours=2.0, warmup_hours=0.5, replications=3, seed=1)


@pytest.mark.parametrize(
    ("text", "key", "values"),
    [
        ("fleet.agv.count=4..16", "fleet.agv.count", tuple(range(4, 17))),
        ("fleet.agv.count=4..16:4", "fleet.agv.count", (4, 8, 12, 16)),
        ("fleet.agv.count=4..15:4", "fleet.agv.count", (4, 8, 12)),
        (
            "vehicle_classes.agv.speed_loaded=1..2:0.25",
            "vehicle_classes.agv.speed_loaded",
            (1.0, 1.25, 1.5, 1.75, 2.0),
        ),
        ("dispatch.rule=nearest,fifo", "dispatch.rule", ("nearest", "fifo")),
        ("x=1, 2.5 ,auto", "x", (1, 2.5, "auto")),
        ("sources.hot-mill.interarrival_s=600", "sources.hot-mill.interarrival_s", (600,)),
    ],
)
def test_vary_parses_ranges_and_lists(text: str, key: str, values: tuple[object, ...]) -> None:
    vary = parse_vary(text)
    assert vary == Vary(key, values)  # type: ignore[arg-type]
    assert [type(v) for v in vary.values] == [type(v) for v in values]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fleet.agv.count", "write KEY=A..B"),
        ("=4..8", "write KEY=A..B"),
        ("fleet.agv.count=", "write KEY=A..B"),
        ("fleet agv=1", "'fleet agv' is not a dotted parameter path"),
        ("n=8..4", "write it low..high"),
        ("n=1..5:0", "step must be positive"),
        ("n=1,,2", "empty value"),
        ("n=1,2,1", "listed twice"),
        ("n=0..5000", "at most 1000"),
    ],
)
def test_bad_vary_is_explained(text: str, message: str) -> None:
    with pytest.raises(SweepInvalid) as caught:
        parse_vary(text)
    assert message in str(caught.value)
    assert f"'{text}'" in str(caught.value) or message.startswith("write")


@given(st.lists(st.lists(st.integers(-50, 50), min_size=1, max_size=4, unique=True), min_size=1, max_size=3))
def test_the_grid_is_the_cartesian_product(value_lists: list[list[int]]) -> None:
    varies = [Vary(f"k{i}", tuple(values)) for i, values in enumerate(value_lists)]
    points = grid(varies)
    assert len(points) == math.prod(len(v) for v in value_lists)
    assert len({tuple(p.items()) for p in points}) == len(points)  # every combination once
    assert all(p[f"k{i}"] in value_lists[i] for p in points for i in range(len(value_lists)))
    assert [p["k0"] for p in points][0 :: len(points) // len(value_lists[0])] == value_lists[
        0
    ]  # first key slowest


def test_a_key_varied_twice_is_refused() -> None:
    with pytest.raises(SweepInvalid, match=r"a key is varied twice \(n\)"):
        grid([Vary("n", (1, 2)), Vary("n", (3,))])


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[int, int, object]]]:
    calls: list[tuple[int, int, object]] = []
    result = run_sweep(
        EXPERIMENT,
        [parse_vary("fleet.agv.count=4..16"), parse_vary("fleet.agv.speed=1,1.5")],
        runner=stand_in_run_experiment,
        workers=2,
        on_point_done=lambda done, total, point: calls.append((done, total, point)),
    )
    out = tmp_path_factory.mktemp("sweep")
    write_outputs(result, out)
    return out, calls


def _table(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_table_has_a_row_per_combination_with_the_runner_values(
    swept: tuple[Path, list[tuple[int, int, object]]],
) -> None:
    out, calls = swept
    rows = _table(out / "sweep.csv")
    assert len(rows) == 13 * 2
    assert [(r["fleet.agv.count"], r["fleet.agv.speed"]) for r in rows[:3]] == [
        ("4", "1"),
        ("4", "1.5"),
        ("5", "1"),
    ]
    expected = stand_in_run_experiment(
        TINY_LAYOUT,
        None,
        hours=2,
        warmup_hours=0.5,
        replications=3,
        seed=1,
        overrides={"fleet.agv.count": 7, "fleet.agv.speed": 1.5},
    ).kpis["throughput_per_hour"]
    row = next(r for r in rows if r["fleet.agv.count"] == "7" and r["fleet.agv.speed"] == "1.5")
    assert float(row["throughput_per_hour_mean"]) == pytest.approx(expected.mean, rel=1e-6)
    assert float(row["throughput_per_hour_ci95_low"]) == pytest.approx(expected.ci95_low, rel=1e-6)
    assert [c[0] for c in calls] == list(range(1, 27))  # progress once per finished point
    assert {c[1] for c in calls} == {26}


def test_the_json_keeps_units_and_the_varied_values(
    swept: tuple[Path, list[tuple[int, int, object]]],
) -> None:
    out, _ = swept
    document = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert document["schema"] == "coilyard.sweep/1"
    assert document["vary"] == {"fleet.agv.count": list(range(4, 17)), "fleet.agv.speed": [1, 1.5]}
    assert len(document["points"]) == 26
    first = document["points"][0]
    assert first["overrides"] == {"fleet.agv.count": 4, "fleet.agv.speed": 1}
    assert first["kpis"]["throughput_per_hour"]["unit"] == "moves/h"


def test_one_plot_per_kpi_with_title_and_the_plateau(
    swept: tuple[Path, list[tuple[int, int, object]]],
) -> None:
    out, _ = swept
    for name, title in (
        ("throughput_per_hour", "Throughput vs fleet.agv.count"),
        ("vehicle_utilisation", "Vehicle utilisation vs fleet.agv.count"),
        ("task_lead_time_p95_s", "Task lead time, 95th percentile vs fleet.agv.count"),
    ):
        assert (out / f"sweep_{name}.png").read_bytes()[:4] == b"\x89PNG"
        texts = [
            "".join(n.itertext())
            for n in ET.parse(out / f"sweep_{name}.svg").getroot().iter()
            if n.tag.endswith("text")
        ]
        assert title in texts
    throughput = "".join(
        "".join(n.itertext()) for n in ET.parse(out / "sweep_throughput_per_hour.svg").getroot().iter()
    )
    assert "no gain beyond 10" in throughput  # the stand-in saturates at 10 AGVs


def test_the_page_says_where_more_stops_helping(swept: tuple[Path, list[tuple[int, int, object]]]) -> None:
    out, _ = swept
    page = (out / "sweep.html").read_text(encoding="utf-8")
    assert re.search(r"https?://", page) is None
    assert (
        "<b>Throughput</b> (with fleet.agv.speed=1) stops changing at <code>fleet.agv.count</code> = <b>10</b>"
        in page
    )
    assert page.count("<svg") == 3
    assert page.count("<tr>") == 1 + 26


def test_any_executor_gives_the_same_table(
    swept: tuple[Path, list[tuple[int, int, object]]], tmp_path: Path
) -> None:
    out, _ = swept
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        result = run_sweep(
            EXPERIMENT,
            [parse_vary("fleet.agv.count=4..16"), parse_vary("fleet.agv.speed=1,1.5")],
            runner=stand_in_run_experiment,
            executor=pool,
        )
    write_outputs(result, tmp_path)
    assert (tmp_path / "sweep.csv").read_bytes() == (out / "sweep.csv").read_bytes()


def test_a_failing_point_names_its_values() -> None:
    with cf.ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(SweepInvalid) as caught:
        run_sweep(EXPERIMENT, [parse_vary("fleet.bogus=1,2")], runner=failing_run_experiment, executor=pool)
    assert "point fleet.bogus=1 failed" in str(caught.value) or "point fleet.bogus=2 failed" in str(
        caught.value
    )
    assert "ValueError: unknown override path 'fleet.bogus'" in str(caught.value)


def test_a_runner_error_that_cannot_be_pickled_still_names_the_point() -> None:
    with pytest.raises(SweepInvalid) as caught:
        run_sweep(
            EXPERIMENT,
            [parse_vary("fleet.agv.count=1..4")],
            runner=unpicklable_failing_run_experiment,
            workers=2,
        )
    assert str(caught.value) == (
        "point fleet.agv.count=3 failed: UnpicklableError: tiny.yaml: fleet[0].count: 3 vehicles but only 2 "
        "parking nodes"
    )


@pytest.mark.parametrize(
    ("means", "knee"),
    [
        ([10.0, 20.0, 30.0, 30.1, 30.0], 2),  # flat from the third point on
        ([10.0, 20.0, 30.0, 40.0], None),  # still rising at the end
        ([10.0, 10.1, 10.0, 9.9], 0),  # flat everywhere
        ([10.0, 20.0], None),  # too few points to say
        ([10.0, 20.0, 30.0, 30.2], None),  # a flat last step alone is not a plateau
    ],
)
def test_plateau_is_where_later_points_stay_within_the_interval(means: list[float], knee: int | None) -> None:
    line = Line("x", list(range(len(means))), means, [m - 0.5 for m in means], [m + 0.5 for m in means])
    assert plateau(line) == knee


def test_the_cli_writes_the_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from coilyard.cli import app

    monkeypatch.setattr(sweep_module, "default_runner", lambda: stand_in_run_experiment)
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        app,
        ["sweep", str(TINY_LAYOUT), "--vary", "fleet.agv.count=4..8:2", "--vary", "fleet.agv.speed=1,2",
         "--replications", "2", "--workers", "1", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(_table(out / "sweep.csv")) == 3 * 2
    assert "6/6" in result.output  # the progress bar reached the end
    assert (out / "sweep.html").is_file()


def test_the_cli_explains_a_bad_vary(tmp_path: Path) -> None:
    from coilyard.cli import app

    result = CliRunner().invoke(
        app, ["sweep", str(TINY_LAYOUT), "--vary", "fleet.agv.count=9..3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "write it low..high" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "sweep.csv").exists()


def test_two_values_are_too_few_to_find_a_plateau(tmp_path: Path) -> None:
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        result = run_sweep(
            EXPERIMENT, [parse_vary("fleet.agv.count=8,12")], runner=stand_in_run_experiment, executor=pool
        )
    page = write_outputs(result, tmp_path).read_text(encoding="utf-8")
    assert "2 values of <code>fleet.agv.count</code> are too few" in page
    assert "no gain beyond" not in (tmp_path / "sweep_throughput_per_hour.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "fraction", "share"),
    [
        ("replication 2/5", 0.5, 0.3),
        ("replication 1/1", 1.0, 1.0),
        ("loading", 0.25, 0.25),
        ("replication 3/2", 1.5, 1.0),
    ],
)
def test_a_point_share_counts_finished_replications(name: str, fraction: float, share: float) -> None:
    assert point_share(name, fraction) == pytest.approx(share)


def test_the_local_pool_reports_progress_inside_points() -> None:
    partial: list[tuple[float, int]] = []
    run_sweep(
        EXPERIMENT,
        [parse_vary("fleet.agv.count=4..9")],
        runner=stand_in_run_experiment,
        workers=2,
        on_partial=lambda completed, total: partial.append((completed, total)),
    )
    assert partial[-1] == (6, 6)
    completed = [c for c, _ in partial]
    assert completed == sorted(completed)  # the bar never runs backwards
