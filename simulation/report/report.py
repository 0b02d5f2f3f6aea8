"""`write_report(run_dir)`: the plots of a run and report.html, from the files the twin wrote there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from simulation.report import html
from simulation.report.labels import fmt, fmt_duration, kpi_label, kpi_sort_key
from simulation.report.plan import try_load_plant
from simulation.report.plots import (
    lead_time_figure,
    occupancy_map_figure,
    occupancy_stores_figure,
    occupancy_time_figure,
    queue_ranking,
    queues_figure,
    save_figure,
    throughput_figure,
    utilisation_figure,
)
from simulation.report.rundir import Run, read_run, resolve_layout

# Little's law holds exactly over a long enough stable run; edge effects (work in progress at the start
# and at the end of the measured window) make a few per cent normal.
LITTLE_OK = 0.05
LITTLE_ROUGH = 0.15
NEAR_SATURATION = 0.85
NO_QUEUE = 0.05


@dataclass(frozen=True)
class Plot:
    stem: str
    title: str
    caption: str
    draw: Callable[[], Figure | None]
    inline: str = "svg"  # "svg" keeps text and lines crisp; "png" for the plan with many places


def plots_of(run: Run) -> list[Plot]:
    layout = resolve_layout(run)
    plant = try_load_plant(layout)
    plan_note = (
        f"drawn on the plan of {escape(str(layout))}"
        if plant is not None
        else "positions only: the layout in kpis.json did not load, so there is no plan under them"
    )
    return [
        Plot(
            "throughput",
            "Throughput over time",
            "Moves finished per hour in consecutive windows, averaged over replications (shaded: the range "
            "between replications). The dashed line is the throughput KPI with its 95% confidence band; grey "
            "at the left is the warm-up, which the KPIs leave out. A curve that keeps climbing or falling means "
            "the run is not yet steady.",
            lambda: throughput_figure(run),
        ),
        Plot(
            "utilisation",
            "Utilisation per vehicle and crane",
            "Share of the measured time each vehicle and crane was busy (travelling, lifting, loaded or "
            "empty); the busiest is red. Right: how many were busy at once over time.",
            lambda: utilisation_figure(run),
        ),
        Plot(
            "queues",
            "Queue lengths over time",
            "Tasks waiting for a vehicle or crane, per store (and the fleet), averaged over replications. "
            "A queue that grows without falling back means that resource cannot keep up.",
            lambda: queues_figure(run),
        ),
        Plot(
            "lead_time",
            "Task lead-time distribution",
            "Time from a task's creation to its completion, all replications pooled, stacked by kind. The "
            "dashed and dotted lines are the p50 and p95 KPIs (means over replications).",
            lambda: lead_time_figure(run),
        ),
        Plot(
            "occupancy_map",
            "Store occupancy heat map",
            f"Time-average share of the time each place held stock in replication 0, {plan_note}. Places "
            "stacked over one another (rack levels, upper tiers) are averaged into one square.",
            lambda: occupancy_map_figure(run, plant),
            inline="png",
        ),
        Plot(
            "occupancy_stores",
            "Store occupancy heat map by store",
            "The same time-average occupancy, each store zoomed to its own places so rows and positions can be "
            "told apart on a large plant.",
            lambda: occupancy_stores_figure(run, plant),
            inline="png",
        ),
        Plot(
            "occupancy_time",
            "Store occupancy over time",
            "Share of each store's places holding stock, averaged over replications.",
            lambda: occupancy_time_figure(run),
        ),
    ]


def write_report(run_dir: Path) -> Path:
    """Read the run in `run_dir`, write its plots (PNG and SVG) and report.html there; return the report.

    Raises RunDirInvalid (naming the file and the problem) when the run directory cannot be read.
    """
    run = read_run(run_dir)
    figures: list[tuple[Plot, Path, Path]] = []
    for plot in plots_of(run):
        figure = plot.draw()
        if figure is not None:
            png, svg = save_figure(figure, run_dir, plot.stem)
            figures.append((plot, png, svg))
    report = run_dir / "report.html"
    text = render_report(run, figures)
    partial = report.with_suffix(".html.part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(report)  # never leave a half-written report behind
    return report


# ---------------------------------------------------------------------------------------------- sections


def render_report(run: Run, figures: list[tuple[Plot, Path, Path]]) -> str:
    k = run.kpis
    name = Path(k.layout).stem
    meta = (
        f"Layout <code>{escape(k.layout)}</code> · scenario <code>{escape(k.scenario or 'default')}</code> · "
        f"{fmt(k.hours)} h simulated, the first {fmt(k.warmup_hours)} h warm-up (not counted) · {k.replications} "
        f"replication{'s' if k.replications != 1 else ''} · seed {k.seed}"
    )
    drawn = {plot.stem for plot, _, _ in figures}
    missing = [plot.title for plot in plots_of(run) if plot.stem not in drawn]
    body = [
        f"<h1>Simulation report: {escape(name)}</h1>",
        f'<p class="meta">{meta}</p>',
        "<h2>What to look at</h2>",
        what_to_look_at(run),
        "<h2>Key figures</h2>",
        kpi_table(run),
        "<h2>Little's law check</h2>",
        littles_law(run),
        breakdown_tables(run),
        "<h2>Plots</h2>",
    ]
    for plot, png, svg in figures:
        element = (
            html.inline_png(png, plot.title) if plot.inline == "png" else html.inline_svg(svg, plot.title)
        )
        body.append(
            f'<figure id="{plot.stem}">{element}<figcaption>{plot.caption} '
            f"Files: <code>{png.name}</code>, <code>{svg.name}</code>.</figcaption></figure>"
        )
    if missing:
        body.append(
            '<p class="meta">Not drawn (the run directory lacks their data): '
            + escape(", ".join(missing))
            + ".</p>"
        )
    body.append(per_replication_table(run))
    return html.page(f"Simulation report: {name}", "\n".join(body))


def kpi_table(run: Run) -> str:
    rows = []
    for name in sorted(run.kpis.kpis, key=kpi_sort_key):
        kpi = run.kpis.kpis[name]
        rows.append(
            [
                f"{escape(kpi_label(name))}<br><code>{escape(name)}</code>",
                f"<b>{fmt(kpi.mean)}</b>",
                f"± {fmt(kpi.half_width, 3)}",
                f"{fmt(kpi.ci95_low)} – {fmt(kpi.ci95_high)}",
                escape(kpi.unit),
            ]
        )
    note = (
        f'<p class="meta">Mean over {run.kpis.replications} replications; the 95% confidence interval is '
        "t-based over the replication means (one replication gives no interval).</p>"
    )
    return (
        html.table(["KPI", "mean", "± half-width", "95% CI", "unit"], rows, ["", "", "ci", "ci", "unit"])
        + note
    )


def littles_law(run: Run) -> str:
    law = run.kpis.littles_law
    error = abs(law.relative_error)
    if law.L == 0 and law.lambda_w == 0:
        kind, verdict = "warn", "has nothing to check: no task entered the system in the measured window."
    elif error <= LITTLE_OK:
        kind, verdict = "ok", "holds: the counts, the arrival rate and the lead times agree."
    elif error <= LITTLE_ROUGH:
        kind, verdict = (
            "",
            "holds roughly; work in progress at the start or end of the measured window is the usual "
            "cause. A longer run or a longer warm-up narrows it.",
        )
    else:
        kind, verdict = (
            "warn",
            "is far off: the run is not steady (queues still growing, see the queue plot), or tasks are "
            "counted differently in L and in W. Treat the KPIs with care.",
        )
    return (
        f'<div class="callout {kind}" id="littles-law">'
        f"<p><b>L = λW</b> over tasks in the system (created, not yet finished).</p>"
        f"<p>L (time-average tasks in system) = <b>{fmt(law.L)}</b>; "
        f"λ (arrival rate) = <b>{fmt(law.lambda_per_s)}</b> /s; "
        f"W (mean time in system) = <b>{fmt(law.W_s)}</b> s; "
        f"λW = <b>{fmt(law.lambda_w)}</b>.</p>"
        f"<p>Relative error |L − λW| / L = <b>{fmt(law.relative_error * 100, 3)}%</b>: Little's law {verdict}</p>"
        "</div>"
    )


def busiest(run: Run) -> tuple[str, str, float] | None:
    """(kind, id, utilisation) of the busiest vehicle or crane."""
    candidates = [("vehicle", i, u) for i, u in run.kpis.breakdown.utilisation_by_vehicle.items()]
    candidates += [("crane", i, u) for i, u in run.kpis.breakdown.utilisation_by_crane.items()]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[2], c[0], c[1]))


def what_to_look_at(run: Run) -> str:
    sentences: list[str] = []
    kpis = run.kpis.kpis
    top = busiest(run)
    if top is not None and top[2] <= 0:
        sentences.append(
            "No vehicle or crane was ever busy: the run moved nothing. Check the scenario's sources."
        )
    elif top is not None:
        kind, ident, value = top
        sentences.append(
            f"The bottleneck is {kind} <b>{escape(ident)}</b>, busy <b>{value * 100:.0f}%</b> of the time, "
            "the highest of all vehicles and cranes"
            + (
                ": it is near saturation, so extra work will queue in front of it."
                if value >= NEAR_SATURATION
                else "; it still has slack."
            )
        )
    else:
        for name in ("crane_utilisation", "vehicle_utilisation"):
            if name in kpis:
                sentences.append(f"{kpi_label(name)} is {fmt(kpis[name].mean * 100, 3)}%.")
    ranking = queue_ranking(run)
    if ranking and ranking[0][1] >= NO_QUEUE:
        resource, average, peak = ranking[0]
        where = "for the fleet" if resource in {"fleet", ""} else f"at <b>{escape(resource)}</b>"
        sentence = f"Queues form {where}: {fmt(average, 3)} tasks waiting on average, {fmt(peak, 3)} at peak"
        others = [r for r in ranking[1:3] if r[1] >= NO_QUEUE]
        if others:
            sentence += "; then " + ", ".join(f"{escape(r[0])} (avg {fmt(r[1], 3)})" for r in others)
        sentences.append(sentence + ".")
    elif ranking:
        sentences.append("No queue forms: tasks rarely wait for a vehicle or crane.")
    blocked = kpis.get("blocked_arrival_time_s")
    if blocked is not None and blocked.mean > 0:
        sentences.append(
            f"Arrivals were blocked for {fmt_duration(blocked.mean)} per replication: a store or buffer was "
            "full when the mill delivered."
        )
    storage = kpis.get("storage_utilisation")
    if storage is not None and storage.mean >= 0.9:
        sentences.append(
            f"Storage is {storage.mean * 100:.0f}% full; relocations and blocked arrivals rise steeply here."
        )
    on_time = kpis.get("shipments_on_time_rate")
    if on_time is not None and on_time.mean < 0.95:
        sentences.append(f"Only {on_time.mean * 100:.0f}% of shipments left on time.")
    p50, p95 = kpis.get("task_lead_time_p50_s"), kpis.get("task_lead_time_p95_s")
    if p50 is not None and p95 is not None and p50.mean > 0 and p95.mean / p50.mean >= 3:
        sentences.append(
            f"Lead times have a long tail: p95 ({fmt_duration(p95.mean)}) is "
            f"{p95.mean / p50.mean:.1f}× the median ({fmt_duration(p50.mean)})."
        )
    if not sentences:
        sentences.append("The run has no utilisation or queue data to point at.")
    return f'<div class="callout" id="what-to-look-at"><p>{" ".join(sentences)}</p></div>'


def breakdown_tables(run: Run) -> str:
    parts = []
    b = run.kpis.breakdown
    charging_h = {vehicle: seconds / 3600.0 for vehicle, seconds in b.charging_s_by_vehicle.items()}
    charger_pct = {charger: share * 100.0 for charger, share in b.utilisation_by_charger.items()}
    for title, values, column, unit in (
        ("Throughput by store", b.throughput_per_hour_by_store, "store", "moves per hour"),
        ("Throughput by class", b.throughput_per_hour_by_class, "class", "moves per hour"),
        ("Chargers", charger_pct, "charger", "% of the time charging a vehicle"),
        ("Charging by vehicle", charging_h, "vehicle", "hours at a charger"),
    ):
        if values:
            rows = [[escape(key), fmt(value)] for key, value in sorted(values.items())]
            parts.append(f"<div><h3>{title}</h3>{html.table([column, unit], rows)}</div>")
    return f'<h2>Breakdown</h2><div class="grid">{"".join(parts)}</div>' if parts else ""


def per_replication_table(run: Run) -> str:
    rows = run.kpis.per_replication
    if not rows:
        return ""
    names = sorted({name for row in rows for name in row}, key=kpi_sort_key)
    body = [[str(i), *(_cell(row.get(n)) for n in names)] for i, row in enumerate(rows)]
    return (
        "<h2>Per replication</h2><details><summary>Show each replication's values</summary>"
        + html.table(["replication", *(escape(n) for n in names)], body)
        + "</details>"
    )


def _cell(value: float | None) -> str:
    return "" if value is None else fmt(value)
