"""Replay: the time window and step give the frames; positions are interpolated between trace records;
the HTML page carries one frame per step and no external URL; the GIF has one image per frame."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from simulation.replay import (
    ReplayInvalid,
    auto_step,
    frame_times,
    parse_time,
    read_trace,
    sample,
    write_replay,
)
from tests.sim_run_fixtures import SyntheticRun, write_synthetic_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRun:
    return write_synthetic_run(tmp_path_factory.mktemp("replay") / "sim-tiny", trace_end_s=600.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5400", 5400.0),
        ("90.5", 90.5),
        ("1:30", 5400.0),
        ("0:05", 300.0),
        ("2:00:15", 7215.0),
        (" 0:01 ", 60.0),
    ],
)
def test_times_are_seconds_or_clock(text: str, seconds: float) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["1:75", "soon", "-5", "1:5", "nan"])
def test_bad_times_are_explained(text: str) -> None:
    with pytest.raises(ReplayInvalid, match="give seconds"):
        parse_time(text)


def test_frames_step_through_the_window() -> None:
    assert frame_times(60.0, 300.0, 20.0) == [60.0 + 20.0 * k for k in range(13)]
    assert len(frame_times(0.0, 100.0, 30.0)) == 4  # 0, 30, 60, 90: the end is not on the step
    assert auto_step(3600.0) == 20.0  # 15 s would give 241 frames, one over the limit of 240
    assert auto_step(600.0) == 5.0  # 2 s would give 301
    with pytest.raises(ReplayInvalid, match="must be after"):
        frame_times(300.0, 60.0, 10.0)
    with pytest.raises(ReplayInvalid, match="must be positive"):
        frame_times(0.0, 60.0, 0.0)


def test_movers_are_interpolated_and_stock_follows_the_trace(run: SyntheticRun) -> None:
    trace = read_trace(run.directory / "trace.jsonl")
    assert list(trace.movers) == ["AGV-01", "AGV-02", "C1"]
    assert (trace.start, trace.end) == (0.0, run.trace_end_s)
    frames = sample(trace, [50.0, 100.0, 120.0])
    agv = frames.mover_ids.index("AGV-01")
    x, y, state, load = frames.movers[0][agv]  # type: ignore[misc]
    assert (x, y, state, load) == (80.0, 28.0, "driving", None)  # halfway from (60, 28) to (100, 28)
    assert frames.movers[1][agv][:2] == (100.0, 28.0)  # type: ignore[index]
    assert frames.movers[1][agv][3] == "C00100"  # type: ignore[index]
    # Place i receives a coil at 50 (i + 1) s: two are full at 120 s.
    assert [load is not None for load in frames.stock[2]] == [True, True, False, False, False, False]
    assert frames.stock[2][:2] == ["K000", "K001"]


def _page_data(page: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="replay-data">(.*?)</script>', page, re.DOTALL)
    assert match
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_html_has_one_frame_per_step_and_no_external_url(run: SyntheticRun, tmp_path: Path) -> None:
    output = tmp_path / "replay.html"
    assert write_replay(run.directory, output, start=60.0, end=300.0, step=20.0) == 13
    page = output.read_text(encoding="utf-8")
    data = _page_data(page)
    assert data["times"] == [60.0 + 20.0 * k for k in range(13)]
    frames = data["frames"]
    assert isinstance(frames, list) and len(frames) == 13
    assert all(len(frame) == 3 for frame in frames)  # two AGVs and a crane in every frame
    assert len(data["stockChanges"]) == 13  # type: ignore[arg-type]
    assert data["labels"][0] == "0:01:00"  # type: ignore[index]
    assert re.search(r"https?://", page) is None
    assert 'href="data:image/png;base64,' in page  # the plan is inside the page
    assert "Replay: sim-tiny 0:01:00–0:05:00" in page
    assert not list(tmp_path.glob(".*part*"))


def test_gif_has_one_image_per_frame(run: SyntheticRun, tmp_path: Path) -> None:
    output = tmp_path / "replay.gif"
    seen: list[tuple[int, int]] = []
    count = write_replay(
        run.directory, output, start=0.0, end=200.0, step=25.0, progress=lambda d, t: seen.append((d, t))
    )
    assert count == 9
    with Image.open(output) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 9  # type: ignore[attr-defined]
    assert seen[-1] == (9, 9)


def test_window_outside_the_trace_is_refused(run: SyntheticRun, tmp_path: Path) -> None:
    # The trace ends at 10 min but the run (kpis.json) at 2 h: the window may run to the end of the run.
    with pytest.raises(ReplayInvalid, match=r"outside the trace, which covers 0 s–2:00:00"):
        write_replay(run.directory, tmp_path / "r.html", start=9000.0, end=10000.0)
    with pytest.raises(ReplayInvalid, match=r"--to \(0:01:00\) must be after --from \(0:05:00\)"):
        write_replay(run.directory, tmp_path / "r.html", start=300.0, end=60.0)
    with pytest.raises(ReplayInvalid, match=r"as \.html or \.gif, not '\.mp4'"):
        write_replay(run.directory, tmp_path / "r.mp4")
    assert not list(tmp_path.iterdir())


def test_a_bad_trace_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_text(
        '{"t": 0, "kind": "vehicle", "id": "A", "x": 0, "y": 0, "state": "idle", "load": null}\n'
        '{"t": 1, "kind": "boat", "id": "A", "x": 0, "y": 0, "state": "idle", "load": null}\n',
        encoding="utf-8",
    )
    with pytest.raises(
        ReplayInvalid, match=r"trace\.jsonl: line 2: kind: Input should be 'vehicle', 'crane' or 'stock'"
    ):
        read_trace(path)


def test_the_cli_replays_a_window(run: SyntheticRun, tmp_path: Path) -> None:
    from coilyard.cli import app

    output = tmp_path / "replay.html"
    result = CliRunner().invoke(
        app,
        ["replay", str(run.directory), "--from", "0:01", "--to", "0:05", "--step", "30", "-o", str(output)],
    )
    assert result.exit_code == 0, result.output
    assert "(9 frames)" in result.output
    assert len(_page_data(output.read_text(encoding="utf-8"))["times"]) == 9  # type: ignore[arg-type]
    bad = CliRunner().invoke(app, ["replay", str(run.directory), "--from", "later", "-o", str(output)])
    assert bad.exit_code == 1
    assert "'later' is not a time" in bad.output
    assert "Traceback" not in bad.output


def test_the_default_window_runs_to_the_end_of_the_run(run: SyntheticRun, tmp_path: Path) -> None:
    output = tmp_path / "whole.html"
    count = write_replay(run.directory, output, step=600.0)
    assert count == 13  # 0 to 2 h (kpis.json hours) every 10 min, though the trace stops at 10 min
    data = _page_data(output.read_text(encoding="utf-8"))
    frames = data["frames"]
    assert isinstance(frames, list)
    assert frames[-1] == frames[1]  # after its last record, everything stays where it was


def test_a_trace_at_one_instant_gives_one_frame(tmp_path: Path) -> None:
    (tmp_path / "trace.jsonl").write_text(
        '{"t": 0, "kind": "vehicle", "id": "A", "x": 0, "y": 0, "state": "idle", "load": null}\n'
        '{"t": 0, "kind": "stock", "id": "P1", "x": 5, "y": 5, "state": "empty", "load": null}\n',
        encoding="utf-8",
    )
    assert write_replay(tmp_path, tmp_path / "one.gif") == 1
