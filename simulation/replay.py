"""Replay a run's trace.jsonl over the plant plan: a self-contained animated HTML page or a GIF.

Vehicles and cranes move in straight lines between the positions the trace reports (the trace has a
record whenever something changes, so between two records a mover is either still or on one leg);
stock positions show whether they hold a coil. Frames are taken every `step` seconds of simulated time
in the window [from, to], both ends included when the step divides the window.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.animation import PillowWriter
from pydantic import BaseModel, ConfigDict, ValidationError

from layout import Plant
from simulation.report.labels import fmt_duration
from simulation.report.plan import PlanFigure, plan_figure, try_load_plant

MAX_AUTO_FRAMES = 240
AUTO_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
HTML_DPI = 100
GIF_DPI = 90
MOVER_COLOURS = {"vehicle": "#2ca02c", "crane": "#c0392b"}
STOCK_FULL, STOCK_EMPTY = "#23395d", "#ffffff"


class ReplayInvalid(Exception):
    """Bad replay input: the message names the file and line, or the option, that is wrong."""


class TraceRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    t: float
    kind: Literal["vehicle", "crane", "stock"]
    id: str
    x: float
    y: float
    state: str
    load: str | None = None


@dataclass(frozen=True)
class Track:
    """Everything the trace says about one vehicle, crane or stock position, in time order."""

    kind: str
    t: list[float]
    x: list[float]
    y: list[float]
    state: list[str]
    load: list[str | None]

    def index_at(self, time: float) -> int:
        """Index of the last record at or before `time`, -1 before the first."""
        return bisect_right(self.t, time) - 1

    def where(self, time: float) -> tuple[float, float, str, str | None] | None:
        i = self.index_at(time)
        if i < 0:
            return None
        if i + 1 < len(self.t):
            share = (time - self.t[i]) / (self.t[i + 1] - self.t[i])
            x = self.x[i] + share * (self.x[i + 1] - self.x[i])
            y = self.y[i] + share * (self.y[i + 1] - self.y[i])
        else:
            x, y = self.x[i], self.y[i]
        return x, y, self.state[i], self.load[i]


@dataclass(frozen=True)
class Trace:
    movers: dict[str, Track]
    stock: dict[str, Track]
    start: float
    end: float

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [x for track in (*self.movers.values(), *self.stock.values()) for x in track.x]
        ys = [y for track in (*self.movers.values(), *self.stock.values()) for y in track.y]
        return min(xs) - 3.0, min(ys) - 3.0, max(xs) + 3.0, max(ys) + 3.0


def read_trace(path: Path) -> Trace:
    if not path.is_file():
        raise ReplayInvalid(f"{path}: missing (the run directory has no trace.jsonl)")
    grouped: dict[str, list[TraceRecord]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = TraceRecord.model_validate_json(line)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"]) or "(line)"
                raise ReplayInvalid(f"{path}: line {number}: {where}: {error['msg']}") from None
            grouped[f"{record.kind}\0{record.id}"].append(record)
    if not grouped:
        raise ReplayInvalid(f"{path}: empty (no trace records)")
    movers: dict[str, Track] = {}
    stock: dict[str, Track] = {}
    for key, records in grouped.items():
        records.sort(key=lambda r: r.t)  # stable: records at one instant keep the file's order
        track = Track(
            records[0].kind,
            [r.t for r in records],
            [r.x for r in records],
            [r.y for r in records],
            [r.state for r in records],
            [r.load for r in records],
        )
        (stock if records[0].kind == "stock" else movers)[key.split("\0", 1)[1]] = track
    times = [t for track in (*movers.values(), *stock.values()) for t in (track.t[0], track.t[-1])]
    return Trace(dict(sorted(movers.items())), dict(sorted(stock.items())), min(times), max(times))


# ---------------------------------------------------------------------------------------------- window


_CLOCK = re.compile(r"^(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$")


def parse_time(text: str) -> float:
    """Seconds from '5400', '5400.5', '1:30' (H:MM) or '1:30:15' (H:MM:SS)."""
    value = text.strip()
    match = _CLOCK.match(value)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600.0 + int(minutes) * 60.0 + float(seconds or 0.0)
    try:
        seconds_value = float(value)
    except ValueError:
        raise ReplayInvalid(f"'{text}' is not a time: give seconds (5400) or H:MM (1:30)") from None
    if not math.isfinite(seconds_value) or seconds_value < 0:
        raise ReplayInvalid(f"'{text}' is not a time: give seconds (5400) or H:MM (1:30)")
    return seconds_value


def auto_step(span: float) -> float:
    """The smallest round step that keeps the replay at or under MAX_AUTO_FRAMES frames."""
    for step in AUTO_STEPS:
        if span / step + 1 <= MAX_AUTO_FRAMES:
            return float(step)
    return float(math.ceil(span / (MAX_AUTO_FRAMES - 1)))


def frame_times(start: float, end: float, step: float) -> list[float]:
    """start, start + step, ... up to end (included when the step lands on it)."""
    if step <= 0:
        raise ReplayInvalid(f"--step must be positive, not {step:g}")
    if end < start:
        raise ReplayInvalid(f"--to ({fmt_duration(end)}) must be after --from ({fmt_duration(start)})")
    count = math.floor((end - start) / step + 1e-9) + 1
    return [start + k * step for k in range(count)]


def window(
    trace: Trace, start: float | None, end: float | None, step: float | None, run_end: float | None = None
) -> list[float]:
    """Frame times; the window defaults to the whole trace, or up to the end of the run when the run
    directory says how long it ran (nothing may change in the trace near the end)."""
    last = max(trace.end, run_end or 0.0)
    t0 = trace.start if start is None else start
    t1 = last if end is None else end
    if t0 > last or t1 < trace.start:
        raise ReplayInvalid(
            f"the window {fmt_duration(t0)}–{fmt_duration(t1)} is outside the trace, which covers "
            f"{fmt_duration(trace.start)}–{fmt_duration(last)}"
        )
    if start is not None and end is not None and end <= start:
        raise ReplayInvalid(f"--to ({fmt_duration(end)}) must be after --from ({fmt_duration(start)})")
    return frame_times(t0, t1, step if step is not None else auto_step(t1 - t0))


# ---------------------------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Frames:
    """The replay sampled at `times`: mover positions per frame and stock loads per frame."""

    times: list[float]
    mover_ids: list[str]
    mover_kinds: list[str]
    movers: list[list[tuple[float, float, str, str | None] | None]]
    stock_ids: list[str]
    stock_xy: list[tuple[float, float]]
    stock: list[list[str | None]]


def sample(trace: Trace, times: list[float]) -> Frames:
    mover_ids = list(trace.movers)
    stock_ids = list(trace.stock)
    movers = [[trace.movers[i].where(t) for i in mover_ids] for t in times]
    stock = []
    for t in times:
        row: list[str | None] = []
        for ident in stock_ids:
            track = trace.stock[ident]
            k = track.index_at(t)
            row.append(track.load[k] if k >= 0 else None)
        stock.append(row)
    return Frames(
        times,
        mover_ids,
        [trace.movers[i].kind for i in mover_ids],
        movers,
        stock_ids,
        [(trace.stock[i].x[-1], trace.stock[i].y[-1]) for i in stock_ids],
        stock,
    )


# ---------------------------------------------------------------------------------------------- outputs


Progress = Callable[[int, int], None]


def write_replay(
    run_dir: Path,
    output: Path,
    *,
    start: float | None = None,
    end: float | None = None,
    step: float | None = None,
    layout: Path | None = None,
    fps: float = 8.0,
    progress: Progress | None = None,
) -> int:
    """Write the replay of `run_dir`/trace.jsonl to `output` (.html or .gif); return the frame count.
    The plan comes from `layout`, else from the layout named in the run's kpis.json when it loads."""
    suffix = output.suffix.lower()
    if suffix not in {".html", ".gif"}:
        raise ReplayInvalid(f"{output}: a replay is written as .html or .gif, not '{output.suffix}'")
    if not run_dir.is_dir():
        raise ReplayInvalid(f"{run_dir}: not a directory (give the --out directory of `coilyard simulate`)")
    trace = read_trace(run_dir / "trace.jsonl")
    run = _kpis_of(run_dir)
    hours = run.get("hours")
    run_end = float(hours) * 3600.0 if isinstance(hours, int | float) else None
    times = window(trace, start, end, step, run_end)
    plant = try_load_plant(layout if layout is not None else _layout_of(run_dir, run))
    frames = sample(trace, times)
    partial = output.with_name(f".{output.stem}.part{suffix}")
    if suffix == ".html":
        partial.write_text(replay_html(frames, trace, plant, run_dir.name, fps), encoding="utf-8")
    else:
        write_gif(frames, trace, plant, partial, fps=fps, progress=progress)
    partial.replace(output)  # never leave a half-written replay behind
    return len(times)


def _kpis_of(run_dir: Path) -> dict[str, object]:
    """kpis.json as far as it reads: the replay only borrows the layout and run length from it."""
    try:
        data = json.loads((run_dir / "kpis.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _layout_of(run_dir: Path, run: dict[str, object]) -> Path | None:
    if not isinstance(run.get("layout"), str):
        return None
    named = Path(str(run["layout"]))
    for candidate in (named, run_dir / named, run_dir.parent / named):
        if candidate.is_file():
            return candidate
    return None


def _background(plant: Plant | None, trace: Trace, *, width_in: float, height_in: float) -> PlanFigure:
    return plan_figure(
        plant,
        trace.bounds(),
        max_width_in=width_in,
        max_height_in=height_in,
        right_in=0.3,
        labels=True,
    )


def _pixel_mapper(
    plan: PlanFigure, dpi: float
) -> tuple[float, float, Callable[[float, float], tuple[float, float]]]:
    """Figure size in pixels and plant metres -> pixels (origin top left) for the saved background."""
    plan.ax.apply_aspect()
    width, height = (float(v) * dpi for v in plan.figure.get_size_inches())
    box = plan.ax.get_position()
    (x0, x1), (y0, y1) = plan.ax.get_xlim(), plan.ax.get_ylim()

    def to_px(x: float, y: float) -> tuple[float, float]:
        fx = box.x0 + (x - x0) / (x1 - x0) * box.width
        fy = box.y0 + (y - y0) / (y1 - y0) * box.height
        return round(fx * width, 1), round((1.0 - fy) * height, 1)

    return width, height, to_px


def replay_html(frames: Frames, trace: Trace, plant: Plant | None, name: str, fps: float) -> str:
    plan = _background(plant, trace, width_in=11.0, height_in=7.0)
    width, height, to_px = _pixel_mapper(plan, HTML_DPI)
    buffer = io.BytesIO()
    plan.figure.savefig(buffer, format="png", dpi=HTML_DPI, metadata={"Software": None})
    background = base64.b64encode(buffer.getvalue()).decode("ascii")

    states = sorted({m[2] for row in frames.movers for m in row if m is not None})
    loads = sorted(
        {m[3] for row in frames.movers for m in row if m is not None and m[3] is not None}
        | {load for row in frames.stock for load in row if load is not None}
    )
    state_index = {s: i for i, s in enumerate(states)}
    load_index = {s: i for i, s in enumerate(loads)}
    mover_frames = [
        [
            None
            if m is None
            else [*to_px(m[0], m[1]), state_index[m[2]], -1 if m[3] is None else load_index[m[3]]]
            for m in row
        ]
        for row in frames.movers
    ]
    stock0 = [-1 if load is None else load_index[load] for load in frames.stock[0]]
    changes: list[list[list[int]]] = [[]]
    for before, after in zip(frames.stock, frames.stock[1:], strict=False):
        changes.append(
            [
                [i, -1 if b is None else load_index[b]]
                for i, (a, b) in enumerate(zip(before, after, strict=True))
                if a != b
            ]
        )
    data = {
        "times": [round(t, 3) for t in frames.times],
        "labels": [frame_label(t) for t in frames.times],
        "movers": [{"id": i, "kind": k} for i, k in zip(frames.mover_ids, frames.mover_kinds, strict=True)],
        "states": states,
        "loads": loads,
        "frames": mover_frames,
        "stock": [
            {"id": i, "x": to_px(x, y)[0], "y": to_px(x, y)[1]}
            for i, (x, y) in zip(frames.stock_ids, frames.stock_xy, strict=True)
        ],
        "stock0": stock0,
        "stockChanges": changes,
        "fps": fps,
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = f"Replay: {name} {frame_label(frames.times[0])}–{frame_label(frames.times[-1])}"
    return REPLAY_PAGE.format(
        title=escape(title),
        width=f"{width:.0f}",
        height=f"{height:.0f}",
        background=background,
        data=payload,
        frames=len(frames.times),
        vehicle=MOVER_COLOURS["vehicle"],
        crane=MOVER_COLOURS["crane"],
        full=STOCK_FULL,
    )


def frame_label(t: float) -> str:
    whole = round(t)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def write_gif(
    frames: Frames,
    trace: Trace,
    plant: Plant | None,
    output: Path,
    *,
    fps: float,
    progress: Progress | None = None,
) -> None:
    plan = _background(plant, trace, width_in=8.0, height_in=5.5)
    ax = plan.ax
    stock_xy = np.array(frames.stock_xy, dtype=float).reshape(-1, 2)
    stock = ax.scatter(
        stock_xy[:, 0], stock_xy[:, 1], s=18, marker="o", facecolors=STOCK_EMPTY, edgecolors=STOCK_FULL,
        linewidths=0.6, zorder=14,
    )  # fmt: skip
    # One layer per kind: vehicles as discs, cranes as squares; a loaded mover is drawn larger.
    layers = {
        kind: ax.scatter(
            [], [], s=70, marker=marker, zorder=16, color=MOVER_COLOURS[kind], edgecolors="black"
        )
        for kind, marker in (("vehicle", "o"), ("crane", "s"))
    }
    names = [
        ax.annotate(
            i, (0, 0), xytext=(5, 5), textcoords="offset points", fontsize=7, zorder=17, visible=False
        )
        for i in frames.mover_ids
    ]
    clock = plan.figure.text(0.01, 0.985, "", fontsize=11, fontweight="bold", va="top")
    writer = PillowWriter(fps=max(1, round(fps)))  # GIF frame delays are whole milliseconds anyway
    with writer.saving(plan.figure, str(output), dpi=GIF_DPI):
        for index, t in enumerate(frames.times):
            stock.set_facecolor([STOCK_EMPTY if load is None else STOCK_FULL for load in frames.stock[index]])
            for kind, layer in layers.items():
                present = [
                    m
                    for k, m in enumerate(frames.movers[index])
                    if m is not None and frames.mover_kinds[k] == kind
                ]
                layer.set_offsets(np.array([[m[0], m[1]] for m in present], dtype=float).reshape(-1, 2))
                layer.set_sizes([120 if m[3] is not None else 60 for m in present] or [0])
            for k, label in enumerate(names):
                m = frames.movers[index][k]
                label.set_visible(m is not None)
                if m is not None:
                    label.xy = (m[0], m[1])
            clock.set_text(f"t = {frame_label(t)}")
            writer.grab_frame()
            if progress is not None:
                progress(index + 1, len(frames.times))


REPLAY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       background: #f6f7f9; color: #222; }}
main {{ max-width: 1200px; margin: 0 auto; padding: 18px 24px; background: #fff; }}
h1 {{ font-size: 20px; margin: 0 0 10px; }}
.controls {{ display: flex; gap: 12px; align-items: center; margin: 8px 0; flex-wrap: wrap; }}
button {{ font: inherit; padding: 4px 14px; min-width: 80px; }}
input[type=range] {{ flex: 1; min-width: 240px; }}
#clock {{ font-variant-numeric: tabular-nums; font-weight: 600; min-width: 90px; }}
svg {{ width: 100%; height: auto; display: block; border: 1px solid #ddd; }}
.legend span {{ display: inline-block; margin-right: 16px; color: #555; }}
.dot {{ display: inline-block; width: 11px; height: 11px; border-radius: 50%; vertical-align: -1px;
        border: 1px solid #000; margin-right: 4px; }}
text.id {{ font-size: 11px; paint-order: stroke; stroke: #fff; stroke-width: 3px; }}
</style></head>
<body><main>
<h1>{title}</h1>
<div class="controls">
  <button id="play" type="button">▶ Play</button>
  <input id="slider" type="range" min="0" max="{frames}" value="0" step="1" aria-label="frame">
  <span id="clock"></span>
  <label>speed <select id="speed"><option value="0.5">½×</option><option value="1" selected>1×</option>
  <option value="2">2×</option><option value="5">5×</option></select></label>
</div>
<svg id="plan" viewBox="0 0 {width} {height}" role="img" aria-label="plant plan with vehicles, cranes and stock">
  <image x="0" y="0" width="{width}" height="{height}" href="data:image/png;base64,{background}"/>
  <g id="stock"></g><g id="movers"></g>
</svg>
<p class="legend"><span><i class="dot" style="background:{vehicle}"></i>vehicle</span>
<span><i class="dot" style="background:{crane}"></i>crane</span>
<span>thick ring: carrying a load</span>
<span><i class="dot" style="background:{full}"></i>place holding stock</span>
<span><i class="dot" style="background:#fff"></i>empty place</span>
<span>{frames} frames · space: play/pause · ←/→: step</span></p>
<p id="status" class="legend"></p>
</main>
<script type="application/json" id="replay-data">{data}</script>
<script>
(function () {{
  "use strict";
  const D = JSON.parse(document.getElementById("replay-data").textContent);
  const NS = document.getElementById("plan").namespaceURI;
  const n = D.times.length;
  const slider = document.getElementById("slider"), clock = document.getElementById("clock");
  const play = document.getElementById("play"), speed = document.getElementById("speed");
  const status = document.getElementById("status");
  slider.max = String(n - 1);
  const colours = {{ vehicle: "{vehicle}", crane: "{crane}" }};
  const stockDots = D.stock.map(function (p) {{
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", p.x); c.setAttribute("cy", p.y); c.setAttribute("r", 3.2);
    c.setAttribute("stroke", "{full}"); c.setAttribute("stroke-width", 0.8);
    const title = document.createElementNS(NS, "title"); c.appendChild(title);
    document.getElementById("stock").appendChild(c);
    return c;
  }});
  const movers = D.movers.map(function (m) {{
    const g = document.createElementNS(NS, "g");
    const shape = document.createElementNS(NS, m.kind === "crane" ? "rect" : "circle");
    if (m.kind === "crane") {{
      shape.setAttribute("x", -7); shape.setAttribute("y", -7); shape.setAttribute("width", 14); shape.setAttribute("height", 14);
    }} else {{ shape.setAttribute("r", 7); }}
    shape.setAttribute("fill", colours[m.kind] || "#555"); shape.setAttribute("stroke", "#000");
    const label = document.createElementNS(NS, "text");
    label.setAttribute("class", "id"); label.setAttribute("x", 9); label.setAttribute("y", -8);
    label.textContent = m.id;
    const title = document.createElementNS(NS, "title");
    g.appendChild(shape); g.appendChild(label); g.appendChild(title);
    document.getElementById("movers").appendChild(g);
    return {{ g: g, shape: shape, title: title, id: m.id }};
  }});
  let stock = D.stock0.slice(), stockAt = 0, frame = 0, timer = null;
  function stockTo(k) {{
    if (k < stockAt) {{ stock = D.stock0.slice(); stockAt = 0; }}
    for (let f = stockAt + 1; f <= k; f++) {{
      for (const change of D.stockChanges[f]) {{ stock[change[0]] = change[1]; }}
    }}
    stockAt = k;
  }}
  function show(k) {{
    frame = Math.max(0, Math.min(n - 1, k));
    stockTo(frame);
    let held = 0;
    stockDots.forEach(function (c, i) {{
      const load = stock[i];
      if (load >= 0) held++;
      c.setAttribute("fill", load >= 0 ? "{full}" : "#ffffff");
      c.firstChild.textContent = D.stock[i].id + (load >= 0 ? ": " + D.loads[load] : ": empty");
    }});
    D.frames[frame].forEach(function (m, i) {{
      const v = movers[i];
      if (m === null) {{ v.g.setAttribute("visibility", "hidden"); return; }}
      v.g.setAttribute("visibility", "visible");
      v.g.setAttribute("transform", "translate(" + m[0] + "," + m[1] + ")");
      v.shape.setAttribute("stroke-width", m[3] >= 0 ? 3 : 1);
      v.title.textContent = v.id + ": " + D.states[m[2]] + (m[3] >= 0 ? ", carrying " + D.loads[m[3]] : "");
    }});
    slider.value = String(frame);
    clock.textContent = "t = " + D.labels[frame];
    status.textContent = "frame " + (frame + 1) + " of " + n + " · " + held + " of " + stockDots.length + " places hold stock";
  }}
  function stop() {{ if (timer !== null) {{ clearInterval(timer); timer = null; }} play.textContent = "▶ Play"; }}
  function start() {{
    if (frame >= n - 1) show(0);
    play.textContent = "❚❚ Pause";
    timer = setInterval(function () {{ if (frame >= n - 1) {{ stop(); return; }} show(frame + 1); }},
                        1000 / (D.fps * Number(speed.value)));
  }}
  play.addEventListener("click", function () {{ if (timer === null) start(); else stop(); }});
  speed.addEventListener("change", function () {{ if (timer !== null) {{ stop(); start(); }} }});
  slider.addEventListener("input", function () {{ show(Number(slider.value)); }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === " ") {{ e.preventDefault(); play.click(); }}
    else if (e.key === "ArrowRight") {{ stop(); show(frame + 1); }}
    else if (e.key === "ArrowLeft") {{ stop(); show(frame - 1); }}
  }});
  show(0);
}})();
</script>
</body></html>
"""
