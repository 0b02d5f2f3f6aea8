"""Parameter sweeps: run the twin for every combination of varied values and chart each KPI against them.

`--vary fleet.agv.count=4..16:2` or `--vary dispatch.rule=nearest,fifo` gives each key a list of values;
the sweep runs the cartesian product, one `run_experiment` call per point (replications inside it), on a
local process pool or a Dask cluster. Every point uses the same seed: common random numbers make the
differences between points the effect of the parameter, not of the random streams.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import importlib
import itertools
import json
import math
import multiprocessing
import queue
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulation.report import html
from simulation.report.labels import fmt, kpi_label, kpi_sort_key
from simulation.report.plots import PALETTE, new_figure, save_figure, style

Value = int | float | str
Point = dict[str, Value]
SWEEP_SCHEMA = "coilyard.sweep/1"
# Beyond the plateau point, the KPI moves by less than this share of its value (or its CI half-width,
# whichever is larger): more of the varied resource no longer helps.
PLATEAU_TOLERANCE = 0.02


class SweepInvalid(Exception):
    """A bad --vary or sweep option, or a failed point; the message names it."""


class PointFailed(Exception):
    """A point's error, carried back from a worker as plain text: the runner's own exceptions (e.g.
    LayoutInvalid) need not survive pickling, and one that does not would break the whole pool."""


class KpiLike(Protocol):
    @property
    def mean(self) -> float: ...
    @property
    def ci95_low(self) -> float: ...
    @property
    def ci95_high(self) -> float: ...
    @property
    def unit(self) -> str: ...


class ResultLike(Protocol):
    @property
    def kpis(self) -> Mapping[str, KpiLike]: ...


Runner = Callable[..., ResultLike]


# ---------------------------------------------------------------------------------------------- --vary


@dataclass(frozen=True)
class Vary:
    key: str
    values: tuple[Value, ...]


_KEY = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_0-9][\w-]*)*$")
_RANGE = re.compile(r"^(?P<a>[-+]?[\d.]+)\.\.(?P<b>[-+]?[\d.]+)(?::(?P<step>[-+]?[\d.]+))?$")


def _scalar(text: str) -> Value:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def parse_vary(text: str) -> Vary:
    """`key=a..b[:step]` (both ends included, step 1 by default) or `key=v1,v2,v3`."""
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise SweepInvalid(
            f"--vary '{text}': write KEY=A..B[:STEP] or KEY=V1,V2,... (e.g. fleet.agv.count=4..16)"
        )
    if not _KEY.match(key):
        raise SweepInvalid(f"--vary '{text}': '{key}' is not a dotted parameter path such as fleet.agv.count")
    match = _RANGE.match(spec)
    if match:
        return Vary(key, _range(text, match["a"], match["b"], match["step"]))
    values = tuple(_scalar(v.strip()) for v in spec.split(","))
    if any(v == "" for v in values):
        raise SweepInvalid(f"--vary '{text}': empty value in the list")
    if len(set(values)) != len(values):
        raise SweepInvalid(f"--vary '{text}': a value is listed twice")
    return Vary(key, values)


def _range(text: str, a: str, b: str, step: str | None) -> tuple[Value, ...]:
    try:
        start, stop = _scalar(a), _scalar(b)
        delta = _scalar(step) if step is not None else 1
    except ValueError:
        raise SweepInvalid(f"--vary '{text}': the range ends and step must be numbers") from None
    if not all(isinstance(v, int | float) for v in (start, stop, delta)):
        raise SweepInvalid(f"--vary '{text}': the range ends and step must be numbers")
    assert isinstance(start, int | float) and isinstance(stop, int | float) and isinstance(delta, int | float)
    if delta <= 0:
        raise SweepInvalid(f"--vary '{text}': the step must be positive")
    if stop < start:
        raise SweepInvalid(f"--vary '{text}': the range runs from {start} down to {stop}; write it low..high")
    count = math.floor((stop - start) / delta + 1e-9) + 1
    if count > 1000:
        raise SweepInvalid(f"--vary '{text}': {count} values; a sweep takes at most 1000 per key")
    if all(isinstance(v, int) for v in (start, stop, delta)):
        return tuple(int(start) + k * int(delta) for k in range(count))
    return tuple(round(start + k * delta, 10) for k in range(count))


def grid(varies: Sequence[Vary]) -> list[Point]:
    """Every combination of the varied values, the first key varying slowest."""
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise SweepInvalid(
            f"--vary: a key is varied twice ({', '.join(sorted({k for k in keys if keys.count(k) > 1}))})"
        )
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v.values for v in varies))]


# ---------------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Experiment:
    """What every point shares: the layout, scenario and run lengths (None: the scenario's own)."""

    layout: Path
    scenario: Path | None
    hours: float | None = None
    warmup_hours: float | None = None
    replications: int | None = None
    seed: int | None = None


KpiRow = dict[str, dict[str, float | str]]


def default_runner() -> Runner:
    """The twin's experiment runner (imported when a sweep starts: it pulls in SimPy and the cores)."""
    module = importlib.import_module("simulation.experiment")
    runner: Runner = module.run_experiment
    return runner


_REPLICATION = re.compile(r"replication (\d+)/(\d+)")


def point_share(name: str, fraction: float) -> float:
    """How much of a point is done, from run_experiment's progress ('replication 2/5', 0.4 -> 0.28)."""
    within = min(max(fraction, 0.0), 1.0)
    match = _REPLICATION.match(name)
    if match is None or int(match[2]) < 1:
        return within
    return min((int(match[1]) - 1 + within) / int(match[2]), 1.0)


class ShareReporter:
    """The progress callback a worker hands to run_experiment: sends (point index, share done) to the
    sweep through a queue (a multiprocessing manager's, so it crosses processes). Picklable."""

    def __init__(self, sink: Any, index: int) -> None:
        self.sink = sink
        self.index = index

    def __call__(self, name: str, fraction: float) -> None:
        self.sink.put((self.index, point_share(name, fraction)))


def run_point(
    runner: Runner, experiment: Experiment, overrides: Point, progress: ShareReporter | None = None
) -> KpiRow:
    """One point, in a worker: plain dicts (or a PointFailed with the error's text) come back, so any
    executor can ship them."""
    try:
        result = runner(
            experiment.layout,
            experiment.scenario,
            hours=experiment.hours,
            warmup_hours=experiment.warmup_hours,
            replications=experiment.replications,
            seed=experiment.seed,
            overrides=overrides,
            progress=progress,
        )
    except Exception as exc:
        raise PointFailed(f"{type(exc).__name__}: {exc}") from None
    return {
        name: {"mean": kpi.mean, "ci95_low": kpi.ci95_low, "ci95_high": kpi.ci95_high, "unit": kpi.unit}
        for name, kpi in result.kpis.items()
    }


@contextmanager
def executor_for(dask_address: str | None, workers: int | None) -> Iterator[cf.Executor]:
    """A local process pool, or the executor of a Dask client connected to `dask_address`."""
    if dask_address is None:
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
        return
    from dask.distributed import Client  # noqa: PLC0415 - dask is slow to import; only --dask needs it

    try:
        client = Client(dask_address, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise SweepInvalid(f"--dask {dask_address}: cannot reach the scheduler ({exc})") from None
    try:
        with client.get_executor() as executor:  # type: ignore[no-untyped-call]
            yield executor
    finally:
        client.close()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class SweepResult:
    experiment: Experiment
    varies: tuple[Vary, ...]
    points: list[Point]
    kpis: list[KpiRow]

    def kpi_names(self) -> list[str]:
        return sorted({name for row in self.kpis for name in row}, key=kpi_sort_key)


PointDone = Callable[[int, int, Point], None]
Partial = Callable[[float, int], None]
POLL_S = 0.25


def _drain(sink: Any, shares: dict[int, float], finished: set[int]) -> None:
    while True:
        try:
            index, share = sink.get_nowait()
        except queue.Empty:
            return
        if index not in finished:
            shares[index] = max(shares.get(index, 0.0), float(share))


def run_sweep(
    experiment: Experiment,
    varies: Sequence[Vary],
    *,
    executor: cf.Executor | None = None,
    dask_address: str | None = None,
    workers: int | None = None,
    runner: Runner | None = None,
    on_point_done: PointDone | None = None,
    on_partial: Partial | None = None,
) -> SweepResult:
    """Run every point of the grid; `executor` wins over `dask_address`, which wins over a local pool.

    `on_point_done(done, total, point)` is called as each point finishes; on the local pool,
    `on_partial(points done as a fraction, total)` also follows the replications inside running points."""
    if not varies:
        raise SweepInvalid("a sweep needs at least one --vary KEY=VALUES")
    points = grid(varies)
    chosen = runner if runner is not None else default_runner()
    results: list[KpiRow | None] = [None] * len(points)

    def collect(pool: cf.Executor, sink: Any = None) -> None:
        futures = {
            pool.submit(
                run_point, chosen, experiment, point, None if sink is None else ShareReporter(sink, i)
            ): i
            for i, point in enumerate(points)
        }
        pending = set(futures)
        shares: dict[int, float] = {}
        finished: set[int] = set()
        while pending:
            ready, pending = cf.wait(
                pending, timeout=POLL_S if sink is not None else None, return_when=cf.FIRST_COMPLETED
            )
            for future in sorted(ready, key=futures.__getitem__):
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as exc:
                    for other in pending:
                        other.cancel()
                    described = ", ".join(f"{k}={v}" for k, v in points[index].items())
                    error = str(exc) if isinstance(exc, PointFailed) else f"{type(exc).__name__}: {exc}"
                    raise SweepInvalid(f"point {described} failed: {error}") from None
                finished.add(index)
                shares.pop(index, None)
                if on_point_done is not None:
                    on_point_done(len(finished), len(points), points[index])
            if sink is not None and on_partial is not None:
                _drain(sink, shares, finished)
                on_partial(len(finished) + sum(shares.values()), len(points))

    if executor is not None:
        collect(executor)
    elif dask_address is None and on_partial is not None:
        with multiprocessing.Manager() as manager, executor_for(None, workers) as pool:
            collect(pool, manager.Queue())
    else:
        with executor_for(dask_address, workers) as pool:
            collect(pool)
    return SweepResult(experiment, tuple(varies), points, [r for r in results if r is not None])


# ---------------------------------------------------------------------------------------------- outputs


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def write_outputs(result: SweepResult, out_dir: Path) -> Path:
    """sweep.csv, sweep.json, one PNG+SVG per KPI and sweep.html in `out_dir`; returns sweep.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = result.kpi_names()
    keys = [v.key for v in result.varies]
    with (out_dir / "sweep.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [*keys, *(f"{n}_{part}" for n in names for part in ("mean", "ci95_low", "ci95_high"))]
        )
        for point, row in zip(result.points, result.kpis, strict=True):
            cells: list[Any] = [point[k] for k in keys]
            for name in names:
                kpi = row.get(name)
                cells += (
                    [_round(float(kpi[p])) for p in ("mean", "ci95_low", "ci95_high")]
                    if kpi
                    else ["", "", ""]
                )
            writer.writerow(cells)
    e = result.experiment
    document = {
        "schema": SWEEP_SCHEMA,
        "layout": str(e.layout),
        "scenario": None if e.scenario is None else str(e.scenario),
        "hours": e.hours,
        "warmup_hours": e.warmup_hours,
        "replications": e.replications,
        "seed": e.seed,
        "vary": {v.key: list(v.values) for v in result.varies},
        "points": [
            {
                "overrides": point,
                "kpis": {
                    n: {k: (_round(v) if isinstance(v, float | int) else v) for k, v in kpi.items()}
                    for n, kpi in row.items()
                },
            }
            for point, row in zip(result.points, result.kpis, strict=True)
        ],
    }
    (out_dir / "sweep.json").write_text(
        json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    figures = []
    for name in names:
        figure = kpi_figure(result, name)
        png, svg = save_figure(figure, out_dir, f"sweep_{name}")
        figures.append((name, png, svg))
    page = out_dir / "sweep.html"
    page.write_text(sweep_html(result, figures), encoding="utf-8")
    return page


@dataclass(frozen=True)
class Line:
    """One curve of a KPI plot: the first varied key on x, the other keys fixed at `label`."""

    label: str
    x: list[Value]
    mean: list[float]
    low: list[float]
    high: list[float]


def lines_of(result: SweepResult, name: str) -> list[Line]:
    x_key = result.varies[0].key
    others = [v.key for v in result.varies[1:]]
    grouped: dict[tuple[Value, ...], list[tuple[Value, Mapping[str, float | str]]]] = {}
    for point, row in zip(result.points, result.kpis, strict=True):
        if name in row:
            grouped.setdefault(tuple(point[k] for k in others), []).append((point[x_key], row[name]))
    lines = []
    for fixed, items in grouped.items():
        label = ", ".join(f"{k}={v}" for k, v in zip(others, fixed, strict=True)) or name
        lines.append(
            Line(
                label,
                [x for x, _ in items],
                [float(k["mean"]) for _, k in items],
                [float(k["ci95_low"]) for _, k in items],
                [float(k["ci95_high"]) for _, k in items],
            )
        )
    return lines


def plateau(line: Line) -> int | None:
    """Index of the first point from which every later point stays within the tolerance of it (the CI
    half-width or PLATEAU_TOLERANCE of the value, whichever is larger); None when the KPI still moves at
    the last step or there are fewer than three points."""
    if len(line.mean) < 3:
        return None
    for i in range(len(line.mean) - 1):
        half = max(line.high[i] - line.mean[i], line.mean[i] - line.low[i], 0.0)
        tolerance = max(half, PLATEAU_TOLERANCE * abs(line.mean[i]))
        if all(abs(m - line.mean[i]) <= tolerance for m in line.mean[i + 1 :]):
            return i if i < len(line.mean) - 2 else None
    return None


def _numeric(values: Sequence[Value]) -> bool:
    return all(isinstance(v, int | float) for v in values)


def kpi_figure(result: SweepResult, name: str) -> Figure:
    x_key = result.varies[0].key
    lines = lines_of(result, name)
    unit = next((str(row[name]["unit"]) for row in result.kpis if name in row), "")
    figure = new_figure(8.0, 4.4)
    ax = figure.add_subplot()
    categories = list(result.varies[0].values)
    marked: set[int] = set()
    for index, line in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        xs = (
            np.array(line.x, dtype=float)
            if _numeric(line.x)
            else np.array([categories.index(x) for x in line.x])
        )
        mean = np.array(line.mean)
        errors = np.vstack(
            [np.maximum(mean - np.array(line.low), 0), np.maximum(np.array(line.high) - mean, 0)]
        )
        ax.errorbar(
            xs,
            mean,
            yerr=errors,
            marker="o",
            markersize=4.5,
            capsize=3,
            linewidth=1.6,
            color=colour,
            label=line.label,
        )
        knee = plateau(line)
        if knee:  # a plateau from the first point says nothing about where gains stop
            ax.axvline(float(xs[knee]), color=colour, linestyle=":", linewidth=1.2)
            if knee in marked:
                continue
            marked.add(knee)
            ax.annotate(
                f"no gain beyond {line.x[knee]}",
                (float(xs[knee]), 0.02),
                xycoords=("data", "axes fraction"),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=8,
                color=colour,
            )
    if not _numeric(categories):
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    elif all(isinstance(c, int) for c in categories):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    style(
        ax, f"{kpi_label(name)} vs {x_key}", x_key, f"{kpi_label(name)} [{unit}]" if unit else kpi_label(name)
    )
    if len(lines) > 1:
        ax.legend(fontsize=8, frameon=False, loc="best")
    return figure


def sweep_html(result: SweepResult, figures: list[tuple[str, Path, Path]]) -> str:
    e = result.experiment
    keys = [v.key for v in result.varies]
    names = result.kpi_names()
    header = [*(f"<code>{escape(k)}</code>" for k in keys), *(escape(kpi_label(n)) for n in names)]
    rows = []
    for point, row in zip(result.points, result.kpis, strict=True):
        cells = [escape(str(point[k])) for k in keys]
        for n in names:
            kpi = row.get(n)
            if kpi is None:
                cells.append("")
                continue
            half = max(
                float(kpi["ci95_high"]) - float(kpi["mean"]), float(kpi["mean"]) - float(kpi["ci95_low"])
            )
            cells.append(f"{fmt(float(kpi['mean']))} <small>± {fmt(half, 2)}</small>")
        rows.append(cells)
    notes = []
    for n in names:
        for line in lines_of(result, n):
            knee = plateau(line)
            where = "" if line.label == n else f" (with {escape(line.label)})"
            if knee == 0:
                notes.append(
                    f"<li><b>{escape(kpi_label(n))}</b>{where} does not change beyond its confidence interval "
                    f"over the whole range of <code>{escape(keys[0])}</code>.</li>"
                )
            elif knee is not None:
                notes.append(
                    f"<li><b>{escape(kpi_label(n))}</b>{where} stops changing at <code>{escape(keys[0])}</code> = "
                    f"<b>{escape(str(line.x[knee]))}</b>: beyond it, the mean moves by less than its confidence "
                    "interval.</li>"
                )
    meta = (
        f"Layout <code>{escape(str(e.layout))}</code> · scenario <code>{escape(str(e.scenario or 'default'))}</code> · "
        f"{_given(e.hours, ' h')} runs with {_given(e.warmup_hours, ' h')} warm-up · "
        f"{_given(e.replications, '')} replications per point · seed {_given(e.seed, '')} at every point · "
        f"{len(result.points)} points"
    )
    body = [
        f"<h1>Sweep: {escape(', '.join(keys))}</h1>",
        f'<p class="meta">{meta}</p>',
        "<h2>Where more stops helping</h2>",
        _plateau_callout(notes, result.varies[0]),
        "<h2>Table</h2>",
        html.table(header, rows),
        '<p class="meta">Means over replications ± the 95% confidence half-width. The same values are in '
        "<code>sweep.csv</code> and <code>sweep.json</code>.</p>",
        "<h2>Each KPI against the varied parameter</h2>",
    ]
    for name, png, svg in figures:
        body.append(
            f'<figure id="{escape(name)}">{html.inline_svg(svg, kpi_label(name))}<figcaption>'
            f"Error bars: 95% confidence intervals. A dotted line marks where the KPI stops moving. "
            f"Files: <code>{png.name}</code>, <code>{svg.name}</code>.</figcaption></figure>"
        )
    return html.page(f"Sweep: {', '.join(keys)}", "\n".join(body))


def _given(value: float | None, unit: str) -> str:
    return "the scenario's" if value is None else f"{fmt(value)}{unit}"


def _plateau_callout(notes: list[str], first: Vary) -> str:
    if notes:
        return f'<div class="callout"><ul>{"".join(notes)}</ul></div>'
    if len(first.values) < 3:
        return (
            f'<div class="callout"><p>{len(first.values)} values of <code>{escape(first.key)}</code> are too few '
            "to tell where more stops helping: vary it over at least three.</p></div>"
        )
    return (
        '<div class="callout"><p>Every KPI still changes up to the end of the range: widen it to find where '
        "more stops helping.</p></div>"
    )
