"""The `coilyard layout` commands as a planner runs them: real files in, files and exit codes out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coilyard.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.endswith(".scenario.yaml"))
runner = CliRunner()


def test_every_example_plant_checks_clean() -> None:
    assert len(EXAMPLES) >= 2
    result = runner.invoke(app, ["layout", "check", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.output.count("✓") == len(EXAMPLES)


def test_check_lists_every_problem_and_fails(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "tiny.yaml").read_text(encoding="utf-8")
    broken = text.replace("{from: W1, to: W2}", "{from: W1, to: W9}").replace(
        "safe_working_load: 35", "safe_working_load: 20"
    )
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    result = runner.invoke(app, ["layout", "check", str(path), str(ROOT / "examples" / "tiny.yaml")])
    assert result.exit_code == 1
    assert "network.edges[0].to: unknown node 'W9'" in result.output
    assert "stores[0].cranes[0].safe_working_load" in result.output
    assert f"{path}:" in result.output  # file and line lead each problem
    assert "✓" in result.output  # the valid file is still checked and reported
    assert "Traceback" not in result.output


def test_check_of_a_missing_file_says_so() -> None:
    result = runner.invoke(app, ["layout", "check", "no-such-plant.yaml"])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_render_writes_the_plan(tmp_path: Path, suffix: str) -> None:
    output = tmp_path / f"plan{suffix}"
    result = runner.invoke(app, ["layout", "render", str(ROOT / "examples" / "tiny.yaml"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    head = output.read_bytes()[:8]
    expected = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix]
    assert head.startswith(expected)
    assert output.stat().st_size > 10_000


def test_render_refuses_an_unknown_format(tmp_path: Path) -> None:
    output = tmp_path / "plan.bmp"
    result = runner.invoke(app, ["layout", "render", str(ROOT / "examples" / "tiny.yaml"), "-o", str(output)])
    assert result.exit_code == 2
    assert ".svg, .png or .pdf" in result.output
    assert not output.exists()


def test_render_of_a_broken_plant_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("format: 1\nplant: {id: x}\n", encoding="utf-8")
    output = tmp_path / "plan.png"
    result = runner.invoke(app, ["layout", "render", str(path), "-o", str(output)])
    assert result.exit_code == 1
    assert "plant.outline: required field is missing" in result.output
    assert not output.exists()


def test_stats_counts_the_example_plant() -> None:
    result = runner.invoke(app, ["layout", "stats", str(ROOT / "examples" / "tiny.yaml")])
    assert result.exit_code == 0, result.output
    # tiny: 2 rows x 8 ground + 7 upper = 30 saddles; 5 stacks; 1 aisle x 2 sides x 10 columns x 4 levels = 80 cells
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert "30" in lines["FS1"].split("│")[3]
    assert "80" in lines["HB1"].split("│")[3]
    assert "vehicles agv: 2, rgv: 1" in result.output


def test_schema_is_json_schema_of_the_format() -> None:
    result = runner.invoke(app, ["layout", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["title"] == "coilyard plant layout"
    assert {"plant", "stores", "network", "vehicle_classes", "fleet", "safety_zones"} <= set(
        schema["properties"]
    )
    edge = schema["$defs"]["Edge"]["properties"]
    assert "from" in edge and "to" in edge  # the names a planner writes, not Python's
