"""The run report: plots are real PNG/SVG files with their titles, report.html carries the KPI table,
the Little's law check and the bottleneck, and stays self-contained."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from simulation.report import RunDirInvalid, write_report
from simulation.report.labels import fmt, fmt_duration
from tests.sim_run_fixtures import KPIS, LITTLE, SyntheticRun, write_synthetic_run

PLOTS = {
    "throughput": "Throughput over time",
    "utilisation": "Utilisation per vehicle and crane",
    "queues": "Queue lengths over time",
    "lead_time": "Task lead-time distribution",
    "occupancy_map": "Store occupancy heat map",
    "occupancy_stores": "Store occupancy heat map by store",
    "occupancy_time": "Store occupancy over time",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticRun, str]:
    run = write_synthetic_run(tmp_path_factory.mktemp("run") / "sim-tiny")
    report = write_report(run.directory)
    assert report == run.directory / "report.html"
    return run, report.read_text(encoding="utf-8")


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return ["".join(node.itertext()) for node in root.iter() if node.tag.endswith("text")]


@pytest.mark.parametrize(("stem", "title"), sorted(PLOTS.items()))
def test_each_plot_is_a_valid_png_and_svg_with_its_title(
    reported: tuple[SyntheticRun, str], stem: str, title: str
) -> None:
    run, _ = reported
    png = run.directory / f"{stem}.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    with Image.open(png) as image:
        image.verify()
        assert image.size[0] > 400 and image.size[1] > 250
    texts = svg_texts(run.directory / f"{stem}.svg")
    assert any(title in text for text in texts), texts[:10]


def _kpi_row(page: str, name: str) -> str:
    match = re.search(rf"<tr><td>[^<]*<br><code>{name}</code></td>(.*?)</tr>", page)
    assert match, f"no table row for {name}"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(KPIS))
def test_the_kpi_table_shows_mean_interval_and_unit(reported: tuple[SyntheticRun, str], name: str) -> None:
    _, page = reported
    mean, low, high, unit = KPIS[name]
    row = _kpi_row(page, name)
    assert f"<b>{fmt(mean)}</b>" in row
    assert f"{fmt(low)} – {fmt(high)}" in row
    assert f'<td class="unit">{unit}</td>' in row


def test_littles_law_line_gives_both_sides_and_the_error(reported: tuple[SyntheticRun, str]) -> None:
    _, page = reported
    block = page[page.index('id="littles-law"') :].split("</div>")[0]
    assert f"<b>{fmt(LITTLE['L'])}</b>" in block
    assert f"λW = <b>{fmt(LITTLE['lambda_W'])}</b>" in block
    assert f"<b>{fmt(LITTLE['W_s'])}</b> s" in block
    assert f"{fmt(LITTLE['relative_error'] * 100, 3)}%" in block  # 2.56%
    assert "holds" in block


def test_what_to_look_at_names_the_bottleneck_and_the_longest_queue(
    reported: tuple[SyntheticRun, str],
) -> None:
    _, page = reported
    block = page[page.index('id="what-to-look-at"') :].split("</div>")[0]
    assert "crane <b>C2</b>, busy <b>89%</b>" in block  # C2 is the busiest of vehicles and cranes
    assert "near saturation" in block
    assert "Queues form at <b>FS1</b>" in block  # FS1 has the longest time-average queue
    assert fmt_duration(KPIS["task_lead_time_p95_s"][0]) in block  # the long tail is pointed out


def test_the_report_is_self_contained(reported: tuple[SyntheticRun, str]) -> None:
    _, page = reported
    assert re.search(r"https?://", page) is None
    assert re.search(r"""(src|href)=["'](?!data:|#)""", page) is None  # only inline data and anchors
    assert page.count("<svg") == len(PLOTS) - 2  # the heat maps are embedded PNGs
    assert page.count('src="data:image/png;base64,') == 2


def test_the_report_is_the_same_for_the_same_run(reported: tuple[SyntheticRun, str], tmp_path: Path) -> None:
    run, page = reported
    copy = tmp_path / "again"
    copy.mkdir()
    for name in ("kpis.json", "tasks.csv", "timeseries.csv", "occupancy.csv"):
        shutil.copy(run.directory / name, copy / name)
    assert write_report(copy).read_text(encoding="utf-8") == page


def test_little_far_off_is_flagged(tmp_path: Path) -> None:
    law = {"L": 4.0, "lambda_per_s": 0.01, "W_s": 200.0, "lambda_W": 2.0, "relative_error": 0.5}
    run = write_synthetic_run(tmp_path / "run", layout=None, little=law)
    for name in ("tasks.csv", "timeseries.csv", "occupancy.csv"):
        (run.directory / name).unlink()
    page = write_report(run.directory).read_text(encoding="utf-8")
    block = page[page.index('id="littles-law"') :].split("</div>")[0]
    assert '<div class="callout warn" id="littles-law">' in page
    assert "50%" in block and "far off" in block
    # Without the CSV files only the plot that needs just kpis.json is drawn; the others are listed.
    assert (run.directory / "utilisation.png").is_file()
    assert not (run.directory / "throughput.png").exists()
    assert "Not drawn (the run directory lacks their data): Throughput over time" in page


def test_heat_map_without_a_loadable_layout_shows_positions_only(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", layout=None, layout_text="nowhere/plant.yaml")
    for name in ("tasks.csv", "timeseries.csv"):  # only the heat map is of interest here
        (run.directory / name).unlink()
    page = write_report(run.directory).read_text(encoding="utf-8")
    texts = svg_texts(run.directory / "occupancy_map.svg")
    assert any("positions only" in text for text in texts)
    assert any(text == "S1" for text in texts)  # the store is named at its places
    assert "the layout in kpis.json did not load" in page


def test_bad_kpis_json_names_the_field(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", layout=None)
    path = run.directory / "kpis.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["kpis"]["throughput_per_hour"]["mean"] = "fast"
    del data["littles_law"]["W_s"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RunDirInvalid) as caught:
        write_report(run.directory)
    message = str(caught.value)
    assert str(path) in message
    assert "kpis.throughput_per_hour.mean" in message
    assert "littles_law.W_s" in message
    assert not (run.directory / "report.html").exists()  # nothing half-written


def test_wrong_schema_is_refused(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", layout=None)
    path = run.directory / "kpis.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace("coilyard.kpis/1", "coilyard.kpis/9"), encoding="utf-8"
    )
    with pytest.raises(RunDirInvalid, match=r"schema: expected 'coilyard.kpis/1', found 'coilyard.kpis/9'"):
        write_report(run.directory)


def test_bad_csv_cell_names_file_line_and_column(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", layout=None)
    path = run.directory / "tasks.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[2].split(",")
    cells[7] = "soon"  # created_s
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RunDirInvalid, match=r"tasks\.csv: line 3: column created_s: not a number: 'soon'"):
        write_report(run.directory)


def test_missing_csv_columns_are_named(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", layout=None)
    (run.directory / "occupancy.csv").write_text("position,store,x\nP1,S1,1.0\n", encoding="utf-8")
    with pytest.raises(RunDirInvalid, match=r"occupancy\.csv: header lacks column\(s\) y, occupied_fraction"):
        write_report(run.directory)


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunDirInvalid, match="not a directory"):
        write_report(tmp_path / "missing")
    with pytest.raises(RunDirInvalid, match=r"kpis\.json: missing"):
        write_report(tmp_path)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234.5678, "1,235"),
        (0.8125, "0.8125"),
        (12.5, "12.5"),
        (0.0, "0"),
        (-3.25, "-3.25"),
        (2e-7, "2.000e-07"),
    ],
)
def test_numbers_print_to_four_significant_digits(value: float, text: str) -> None:
    assert fmt(value) == text


def test_durations_print_as_clock_times() -> None:
    assert fmt_duration(42.0) == "42 s"
    assert fmt_duration(3900.0) == "1:05:00"


def test_a_run_that_moved_nothing_says_so(tmp_path: Path) -> None:
    law = {"L": 0.0, "lambda_per_s": 0.0, "W_s": 0.0, "lambda_W": 0.0, "relative_error": 0.0}
    run = write_synthetic_run(tmp_path / "run", layout=None, little=law)
    path = run.directory / "kpis.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("utilisation_by_vehicle", "utilisation_by_crane"):
        data["breakdown"][key] = dict.fromkeys(data["breakdown"][key], 0.0)
    path.write_text(json.dumps(data), encoding="utf-8")
    for name in ("tasks.csv", "timeseries.csv", "occupancy.csv"):
        (run.directory / name).unlink()
    page = write_report(run.directory).read_text(encoding="utf-8")
    assert "the run moved nothing" in page
    assert "bottleneck" not in page.split('id="what-to-look-at"')[1].split("</div>")[0]
    assert "nothing to check" in page


def test_charger_and_charging_tables_show_the_run_breakdown(tmp_path: Path) -> None:
    run = write_synthetic_run(tmp_path / "run", layout=None)
    path = run.directory / "kpis.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["breakdown"]["utilisation_by_charger"] = {"CH1": 0.25, "CH2": 0.0}
    data["breakdown"]["charging_s_by_vehicle"] = {"AGV-01": 5400.0}
    path.write_text(json.dumps(data), encoding="utf-8")
    page = write_report(run.directory).read_text(encoding="utf-8")
    chargers = page.split("<h3>Chargers</h3>")[1].split("</div>")[0]
    assert re.search(r"CH1</td>\s*<td[^>]*>25</td>", chargers), chargers
    assert re.search(r"CH2</td>\s*<td[^>]*>0</td>", chargers), chargers
    charging = page.split("<h3>Charging by vehicle</h3>")[1].split("</div>")[0]
    assert re.search(r"AGV-01</td>\s*<td[^>]*>1.5</td>", charging), charging


def test_a_run_without_chargers_has_no_charger_tables(reported: tuple[SyntheticRun, str]) -> None:
    _, page = reported
    assert "<h3>Throughput by store</h3>" in page
    assert "<h3>Chargers</h3>" not in page
