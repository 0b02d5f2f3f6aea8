"""The plots of one run: each function draws one figure (or None when the run lacks its data).

Figures are built on matplotlib's object API with the Agg canvas (no pyplot, no display), and saved as
PNG and SVG with text kept as text, so the SVG is small, searchable and deterministic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from scipy.spatial import cKDTree  # type: ignore[import-untyped, unused-ignore]

from layout import Plant
from simulation.report.labels import fmt
from simulation.report.plan import draw_plant_layers, plan_figure
from simulation.report.rundir import Floats, Occupancy, Run, Series

PNG_DPI = 130
INK = "#222222"
MUTED = "#666666"
GRID = "#e3e3e3"
ACCENT = "#1f5f99"
HIGHLIGHT = "#c0392b"
WARMUP_FILL = "#eeeeee"
PALETTE = ("#1f5f99", "#e07b00", "#2a9d55", "#c0392b", "#7b4fa0", "#8c6d31", "#d6609b", "#5a5a5a")
KIND_COLOURS = {
    "putaway": "#1f5f99",
    "retrieval": "#e07b00",
    "relocation": "#c0392b",
    "shipment": "#2a9d55",
    "transfer": "#7b4fa0",
}
HEAT_MAP = "YlOrRd"
MAX_QUEUE_LINES = 8
SVG_RC: Any = {"svg.fonttype": "none", "svg.hashsalt": "coilyard", "font.family": "DejaVu Sans"}


def save_figure(figure: Figure, directory: Path, stem: str) -> tuple[Path, Path]:
    """Write `stem`.png and `stem`.svg; the SVG has no date and no metadata, so equal runs give equal bytes."""
    png, svg = directory / f"{stem}.png", directory / f"{stem}.svg"
    with mpl.rc_context(SVG_RC):
        figure.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
        figure.savefig(
            svg,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return png, svg


def new_figure(width: float = 9.0, height: float = 4.2) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold", color=INK)
    ax.set_xlabel(xlabel, fontsize=9, color=MUTED)
    ax.set_ylabel(ylabel, fontsize=9, color=MUTED)
    ax.tick_params(labelsize=8, colors=MUTED)
    ax.grid(True, color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#aaaaaa")


def hours_axis(t_s: Floats) -> tuple[Floats, str]:
    """Plot time in hours when the run is longer than two hours, else in minutes."""
    span = float(t_s.max() - t_s.min()) if len(t_s) else 0.0
    return (t_s / 3600.0, "simulated time [h]") if span > 7200 else (t_s / 60.0, "simulated time [min]")


def shade_warmup(ax: Axes, run: Run, t_max_s: float) -> None:
    if run.warmup_s > 0 and t_max_s > 0:
        scale = 3600.0 if t_max_s > 7200 else 60.0
        ax.axvspan(0, run.warmup_s / scale, color=WARMUP_FILL, zorder=0, label="warm-up (not counted)")


# ---------------------------------------------------------------------------------------------- throughput


def throughput_window_s(duration_s: float) -> float:
    """A round window giving 20 to 60 bars over the run."""
    for window in (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400):
        if duration_s / window <= 60:
            return float(window)
    return 86400.0 * math.ceil(duration_s / 86400 / 60)


def throughput_figure(run: Run) -> Figure | None:
    series = run.timeseries.first("moves_completed") if run.timeseries else None
    if series is None:
        return None
    t_end = max(float(t[-1]) for t, _ in series.by_replication.values())
    window = throughput_window_s(t_end)
    edges = np.arange(0.0, t_end + window * 0.5, window)
    if len(edges) < 2:
        edges = np.array([0.0, max(t_end, 1.0)])
    rates = []
    for t, cumulative in series.by_replication.values():
        at_edges = np.interp(edges, t, cumulative, left=0.0)
        rates.append(np.diff(at_edges) / np.diff(edges) * 3600.0)
    stacked = np.vstack(rates)
    mean, low, high = stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)

    figure = new_figure()
    ax = figure.add_subplot()
    x, xlabel = hours_axis(edges)
    shade_warmup(ax, run, t_end)
    ax.stairs(mean, x, baseline=None, color=ACCENT, linewidth=1.8, label="mean over replications")
    if len(rates) > 1:
        ax.stairs(high, x, baseline=low, fill=True, color=ACCENT, alpha=0.15, label="replication range")
    kpi = run.kpis.kpis.get("throughput_per_hour")
    if kpi is not None:
        ax.axhline(kpi.mean, color=HIGHLIGHT, linewidth=1.2, linestyle="--", label=f"KPI {fmt(kpi.mean)} /h")
        ax.axhspan(kpi.ci95_low, kpi.ci95_high, color=HIGHLIGHT, alpha=0.08, label="KPI 95% CI")
    style(ax, "Throughput over time", xlabel, f"moves per hour (per {fmt(window / 60, 3)} min window)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return figure


# ---------------------------------------------------------------------------------------------- utilisation


def utilisation_figure(run: Run) -> Figure | None:
    breakdown = run.kpis.breakdown
    bars = [(f"{name}", value, "vehicle") for name, value in breakdown.utilisation_by_vehicle.items()]
    bars += [(f"{name}", value, "crane") for name, value in breakdown.utilisation_by_crane.items()]
    busy = [
        (label, series)
        for label, series in (
            ("vehicles busy", run.timeseries.first("vehicles_busy") if run.timeseries else None),
            ("cranes busy", run.timeseries.first("cranes_busy") if run.timeseries else None),
        )
        if series is not None
    ]
    if not bars and not busy:
        return None
    bars.sort(key=lambda bar: (bar[2], bar[0]))
    height = max(4.2, 0.28 * len(bars) + 1.4)
    figure = new_figure(11.0, height)
    if bars and busy:
        left, right = figure.subplots(1, 2, width_ratios=(1, 1.4))
    else:
        left = right = figure.add_subplot()
    if bars:
        names = [b[0] for b in bars]
        values = np.array([b[1] for b in bars]) * 100.0
        top = int(np.argmax(values))
        colours = [
            HIGHLIGHT if i == top else (ACCENT if kind == "vehicle" else PALETTE[1])
            for i, (_, _, kind) in enumerate(bars)
        ]
        y = np.arange(len(bars))
        left.barh(y, values, color=colours, height=0.7)
        left.set_yticks(y, names)
        left.invert_yaxis()
        left.set_xlim(0, 100)
        for yi, value in zip(y, values, strict=True):
            left.annotate(
                f"{value:.0f}%",
                (value, yi),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color=INK,
            )
        style(left, "Utilisation per vehicle and crane", "busy time [%]", "")
        left.grid(axis="y", visible=False)
        left.annotate(
            "blue: vehicles · amber: cranes · red: busiest",
            (0, 1),
            xycoords="axes fraction",
            xytext=(0, -2),
            textcoords="offset points",
            va="top",
            fontsize=7,
            color=MUTED,
        )
    if busy:
        t_end = 0.0
        for (label, series), colour in zip(busy, (ACCENT, PALETTE[1]), strict=False):
            t, mean, low, high = series.mean()
            x, xlabel = hours_axis(t)
            right.step(x, mean, where="post", color=colour, linewidth=1.4, label=label)
            if len(series.by_replication) > 1:
                right.fill_between(x, low, high, step="post", color=colour, alpha=0.12)
            t_end = max(t_end, float(t[-1]))
        shade_warmup(right, run, t_end)
        style(right, "Busy resources over time" if bars else "Utilisation", xlabel, "busy (count)")
        right.set_ylim(bottom=0)
        right.legend(fontsize=8, frameon=False, loc="upper right")
    return figure


# ---------------------------------------------------------------------------------------------- queues


def queue_ranking(run: Run) -> list[tuple[str, float, float]]:
    """(resource, time-average, peak) of every queue_length series, longest average first."""
    if run.timeseries is None:
        return []
    ranking = []
    for resource in run.timeseries.resources("queue_length"):
        series = run.timeseries.get("queue_length", resource)
        assert series is not None
        ranking.append((resource, series.time_average(), series.peak()))
    return sorted(ranking, key=lambda r: (-r[1], -r[2], r[0]))


def _lines(ax: Axes, run: Run, items: Iterable[tuple[str, Series]], scale: float = 1.0) -> float:
    t_end = 0.0
    xlabel = ""
    for index, (label, series) in enumerate(items):
        t, mean, _, _ = series.mean()
        x, xlabel = hours_axis(t)
        ax.step(
            x, mean * scale, where="post", linewidth=1.4, color=PALETTE[index % len(PALETTE)], label=label
        )
        t_end = max(t_end, float(t[-1]))
    shade_warmup(ax, run, t_end)
    ax.set_xlabel(xlabel)
    return t_end


def queues_figure(run: Run) -> Figure | None:
    ranking = queue_ranking(run)
    if not ranking or run.timeseries is None:
        return None
    shown = ranking[:MAX_QUEUE_LINES]
    figure = new_figure()
    ax = figure.add_subplot()
    items = []
    for resource, average, _ in shown:
        series = run.timeseries.get("queue_length", resource)
        assert series is not None
        items.append((f"{resource or 'all'} (avg {fmt(average, 3)})", series))
    _lines(ax, run, items)
    hidden = len(ranking) - len(shown)
    title = "Queue lengths over time"
    style(ax, title, ax.get_xlabel(), "waiting tasks (mean over replications)")
    ax.set_ylim(bottom=0)
    ax.legend(
        fontsize=8,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        title=f"+{hidden} shorter queues not shown" if hidden else None,
        title_fontsize=7,
    )
    return figure


def occupancy_time_figure(run: Run) -> Figure | None:
    stores = run.timeseries.resources("store_occupancy") if run.timeseries else []
    if not stores or run.timeseries is None:
        return None
    figure = new_figure()
    ax = figure.add_subplot()
    items = []
    for store in stores:
        series = run.timeseries.get("store_occupancy", store)
        assert series is not None
        items.append((store, series))
    _lines(ax, run, items, scale=100.0)
    style(ax, "Store occupancy over time", ax.get_xlabel(), "occupied places [%]")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


# ---------------------------------------------------------------------------------------------- lead time


def lead_time_figure(run: Run) -> Figure | None:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for task in run.tasks or ():
        if task.lead_time_s is not None and task.finished_s is not None:
            by_kind[task.kind].append(task.lead_time_s)
    if not by_kind:
        return None
    everything = np.concatenate([np.asarray(v) for v in by_kind.values()])
    p50 = run.kpis.kpis.get("task_lead_time_p50_s")
    p95 = run.kpis.kpis.get("task_lead_time_p95_s")
    reference = p95.mean if p95 else float(np.percentile(everything, 95))
    scale, unit = (60.0, "min") if reference > 900 else (1.0, "s")
    kinds = sorted(by_kind)
    top = float(np.percentile(everything, 99.5)) if len(everything) > 50 else float(everything.max())
    bins = np.linspace(0.0, max(top, reference * 1.1, 1.0) / scale, 41)
    figure = new_figure()
    ax = figure.add_subplot()
    ax.hist(
        [np.clip(np.asarray(by_kind[k]) / scale, None, bins[-1]) for k in kinds],
        bins=bins.tolist(),
        stacked=True,
        color=[KIND_COLOURS.get(k, PALETTE[-1]) for k in kinds],
        label=[f"{k} ({len(by_kind[k]):,})" for k in kinds],
    )
    for kpi, name, line in ((p50, "p50", "--"), (p95, "p95", ":")):
        if kpi is not None:
            ax.axvline(kpi.mean / scale, color=INK, linestyle=line, linewidth=1.4)
            ax.annotate(
                f"{name} {fmt(kpi.mean / scale, 3)} {unit}",
                (kpi.mean / scale, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=8,
                color=INK,
            )
    style(ax, "Task lead-time distribution", f"lead time, created to finished [{unit}]", "tasks")
    ax.legend(fontsize=8, frameon=False, loc="center right", title="kind (count)", title_fontsize=8)
    return figure


# ---------------------------------------------------------------------------------------------- heat map


def occupancy_cells(rows: list[Occupancy]) -> tuple[Floats, Floats, Floats]:
    """Positions sharing a plan point (rack levels over one another) merge into one cell whose value is
    their mean: the heat map shows how full each spot of the floor is."""
    cells: dict[tuple[float, float], list[float]] = defaultdict(list)
    for row in rows:
        cells[(round(row.x, 2), round(row.y, 2))].append(row.occupied_fraction)
    keys = sorted(cells)
    xs = np.array([k[0] for k in keys])
    ys = np.array([k[1] for k in keys])
    values = np.array([float(np.mean(cells[k])) for k in keys])
    return xs, ys, values


def marker_size_pt2(xs: Floats, ys: Floats, points_per_m: float) -> float:
    """Square markers about as wide as the spacing between neighbouring places."""
    if len(xs) < 2:
        return 60.0
    distances, _ = cKDTree(np.column_stack([xs, ys])).query(np.column_stack([xs, ys]), k=2)
    spacing = float(np.median(distances[:, 1]))
    side = 0.85 * spacing * points_per_m
    return float(np.clip(side, 2.0, 24.0) ** 2)


def occupancy_map_figure(run: Run, plant: Plant | None) -> Figure | None:
    if not run.occupancy:
        return None
    xs, ys, values = occupancy_cells(run.occupancy)
    pad = 2.0
    plan = plan_figure(plant, (xs.min() - pad, ys.min() - pad, xs.max() + pad, ys.max() + pad), labels=True)
    ax = plan.ax
    norm = Normalize(0.0, 1.0)
    points = ax.scatter(
        xs,
        ys,
        c=values,
        cmap=HEAT_MAP,
        norm=norm,
        s=marker_size_pt2(xs, ys, plan.points_per_m),
        marker="s",
        edgecolors="#555555",
        linewidths=0.3,
        zorder=15,
    )
    if plant is None:
        # No plan to read the stores from: name each store at the middle of its places.
        stores: dict[str, list[Occupancy]] = defaultdict(list)
        for row in run.occupancy:
            stores[row.store].append(row)
        for store, rows in sorted(stores.items()):
            ax.annotate(
                store,
                (float(np.mean([r.x for r in rows])), max(r.y for r in rows)),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                fontsize=9,
                fontweight="bold",
                color=INK,
            )
    figure = plan.figure
    width, height = figure.get_size_inches()
    box = ax.get_position()
    bar_ax = figure.add_axes((box.x1 + 0.25 / width, box.y0, 0.18 / width, box.height))
    bar = figure.colorbar(points, cax=bar_ax)
    bar.set_label("time-average occupied fraction", fontsize=8, color=MUTED)
    bar.ax.tick_params(labelsize=7, colors=MUTED)
    where = "over the plan" if plant is not None else "(plan not available: positions only)"
    figure.text(
        box.x0,
        1 - 0.12 / height,
        f"Store occupancy heat map {where}",
        fontsize=12,
        fontweight="bold",
        va="top",
        color=INK,
    )
    figure.text(
        box.x0,
        1 - 0.36 / height,
        f"{len(run.occupancy):,} places, replication 0; stacked places (rack levels, tiers) averaged per spot",
        fontsize=8,
        va="top",
        color=MUTED,
    )
    return figure


STORE_PANEL_WIDTH_IN = 9.0
STORE_PANEL_MAX_HEIGHT_IN = 4.5


def occupancy_stores_figure(run: Run, plant: Plant | None) -> Figure | None:
    """The heat map again, one panel per store zoomed to its places, so a large plant's stores are
    readable; the plan under each panel when the layout loads. Panels are placed by hand at true scale
    (equal aspect), one under the other, with one colour bar beside them."""
    if not run.occupancy:
        return None
    by_store: dict[str, list[Occupancy]] = defaultdict(list)
    for row in run.occupancy:
        by_store[row.store].append(row)
    stores = sorted(by_store)
    panels = []  # (store, data box, width in, height in)
    for store in stores:
        along = [r.x for r in by_store[store]]
        up = [r.y for r in by_store[store]]
        pad = max(3.0, 0.06 * max(max(along) - min(along), max(up) - min(up)))
        box = (min(along) - pad, min(up) - pad, max(along) + pad, max(up) + pad)
        inch_per_m = min(
            STORE_PANEL_WIDTH_IN / (box[2] - box[0]), STORE_PANEL_MAX_HEIGHT_IN / (box[3] - box[1])
        )
        panels.append((store, box, (box[2] - box[0]) * inch_per_m, (box[3] - box[1]) * inch_per_m))
    left, title_h, below_h, top_h = 0.7, 0.35, 0.4, 0.55
    width = left + STORE_PANEL_WIDTH_IN + 1.5
    height = top_h + sum(h + title_h + below_h for *_, h in panels)
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    norm = Normalize(0.0, 1.0)
    points = None
    y = height - top_h
    for store, box, panel_w, panel_h in panels:
        y -= title_h + panel_h
        ax = figure.add_axes((left / width, y / height, panel_w / width, panel_h / height))
        y -= below_h
        ax.set_xlim(box[0], box[2])
        ax.set_ylim(box[1], box[3])
        ax.set_aspect("equal")
        points_per_m = 72.0 * panel_w / (box[2] - box[0])
        if plant is not None:
            draw_plant_layers(ax, plant, points_per_m, labels=True, scale_bar_at=None)
            for text in ax.texts:  # labels of neighbouring stores would spill into the other panels
                text.set_clip_on(True)
                text.set_clip_box(ax.bbox)
        xs, ys, values = occupancy_cells(by_store[store])
        points = ax.scatter(
            xs,
            ys,
            c=values,
            cmap=HEAT_MAP,
            norm=norm,
            s=marker_size_pt2(xs, ys, points_per_m),
            marker="s",
            edgecolors="#555555",
            linewidths=0.3,
            zorder=15,
        )
        mean = float(np.mean([r.occupied_fraction for r in by_store[store]]))
        ax.set_title(
            f"{store}: {len(by_store[store]):,} places, {mean * 100:.0f}% occupied on average",
            loc="left",
            fontsize=10,
            fontweight="bold",
            color=INK,
        )
        ax.tick_params(labelsize=7, colors=MUTED)
        for spine in ax.spines.values():
            spine.set_color("#aaaaaa")
    assert points is not None
    bar_h = min(height - top_h - 0.4, 5.0)
    bar_ax = figure.add_axes(
        (
            (left + STORE_PANEL_WIDTH_IN + 0.3) / width,
            (height - top_h - title_h - bar_h) / height,
            0.18 / width,
            bar_h / height,
        )
    )
    bar = figure.colorbar(points, cax=bar_ax)
    bar.set_label("time-average occupied fraction", fontsize=8, color=MUTED)
    bar.ax.tick_params(labelsize=7, colors=MUTED)
    figure.text(
        left / width, 1 - 0.12 / height, "Store occupancy heat map by store", fontsize=12, fontweight="bold",
        va="top", color=INK,
    )  # fmt: skip
    return figure
