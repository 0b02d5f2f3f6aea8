"""`coilyard simulate` as a planner runs it: the tiny plant in a temporary directory, files and exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coilyard.cli import app

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny.yaml"
runner = CliRunner()
pytestmark = pytest.mark.integration


def _simulate(out: Path, *extra: str) -> str:
    result = runner.invoke(
        app,
        ["simulate", str(TINY), "--hours", "6", "--warmup", "1", "--replications", "2", "--seed", "4",
         "--out", str(out), *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def test_simulate_writes_the_run_directory_and_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    output = _simulate(tmp_path / "a", "--json", str(tmp_path / "kpis-copy.json"))
    _simulate(tmp_path / "b")
    a, b = tmp_path / "a", tmp_path / "b"
    for name in ("kpis.json", "tasks.csv", "timeseries.csv", "occupancy.csv", "trace.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (tmp_path / "kpis-copy.json").read_bytes() == (a / "kpis.json").read_bytes()
    kpis = json.loads((a / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["schema"] == "coilyard.kpis/1" and kpis["replications"] == 2 and kpis["seed"] == 4
    for name in ("moves_completed", "throughput_per_hour", "task_lead_time_p95_s", "crane_wait_s"):
        assert set(kpis["kpis"][name]) == {"mean", "ci95_low", "ci95_high", "unit"}
    assert set(kpis["littles_law"]) >= {"L", "lambda_per_s", "W_s", "lambda_W", "relative_error"}
    assert len(kpis["per_replication"]) == 2
    with (a / "tasks.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:4] == ["replication", "task", "kind", "coil"] and header[-1] == "relocations"
    trace = [json.loads(line) for line in (a / "trace.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {line["kind"] for line in trace} == {"vehicle", "crane", "stock"}
    assert [line["t"] for line in trace] == sorted(line["t"] for line in trace)
    assert "Little's law" in output and "real time" in output


def test_a_broken_scenario_is_reported_by_field_without_a_traceback(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.scenario.yaml"
    scenario.write_text(
        "format: 1\nscenario: {id: x}\nsources:\n  - {id: s, station: NOPE, store: FS1, interarrival_s: 60}\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["simulate", str(TINY), "--scenario", str(scenario), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "sources[0].station: unknown station 'NOPE'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_a_bad_override_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", str(TINY), "--set", "fleet.agv", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "is not PATH=VALUE" in result.output


def test_results_do_not_depend_on_the_interpreters_hash_seed(tmp_path: Path) -> None:
    """Separate processes with different PYTHONHASHSEED: set iteration order must not leak into results."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"run-{hash_seed}"
        subprocess.run(
            [sys.executable, "-m", "coilyard", "simulate", str(TINY), "--hours", "4", "--warmup", "1",
             "--replications", "1", "--seed", "2", "--out", str(out)],
            check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=600,
        )  # fmt: skip
        outputs.append(out)
    for name in ("kpis.json", "tasks.csv", "trace.jsonl"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), name
