"""`coilyard simulate`: run the yard twin on a plant and scenario, write the run directory and its report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from layout import LayoutInvalid

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def simulate(
    layout: Annotated[Path, typer.Argument(help="A plant layout file (YAML).", show_default=False)],
    scenario: Annotated[
        Path | None,
        typer.Option(help="Scenario file (default: LAYOUT's sibling <stem>.scenario.yaml, if there is one)."),
    ] = None,
    hours: Annotated[float | None, typer.Option(help="Simulated hours per replication.")] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up hours, left out of the KPIs.")] = None,
    replications: Annotated[int | None, typer.Option(help="Independent replications.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the random streams.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default: out/sim-<layout stem>).")
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write kpis.json here.")] = None,
    jobs: Annotated[
        int, typer.Option(help="Worker processes for the replications (1: in this process).")
    ] = 1,
    set_values: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a scenario or plant value, PATH=VALUE (repeatable).", show_default=False
        ),
    ] = None,
) -> None:
    """Simulate the plant: KPIs with 95% confidence intervals, Little's law check, run directory and report."""
    from simulation.experiment import (
        OverrideError,
        default_scenario_path,
        parse_overrides,
        run_experiment,
        write_run_dir,
    )
    from simulation.scenario import ScenarioInvalid

    target = out_dir or Path("out") / f"sim-{layout.stem}"
    scenario = scenario or default_scenario_path(layout)
    started = time.perf_counter()
    try:
        overrides = parse_overrides(set_values or [])
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err,
        ) as bars:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def progress(name: str, fraction: float) -> None:
                if name not in tasks:
                    tasks[name] = bars.add_task(name, total=1.0)
                bars.update(tasks[name], completed=fraction)

            result = run_experiment(
                layout, scenario, hours=hours, warmup_hours=warmup, replications=replications, seed=seed,
                overrides=overrides, progress=progress, jobs=jobs,
            )  # fmt: skip
    except LayoutInvalid as exc:
        _problems(exc.source, [p.describe(exc.source) for p in exc.problems])
        raise typer.Exit(code=1) from None
    except ScenarioInvalid as exc:
        _problems(exc.source, [p.describe(exc.source) for p in exc.problems])
        raise typer.Exit(code=1) from None
    except OverrideError as exc:
        err.print(f"[bold red]✗[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    wall = time.perf_counter() - started
    write_run_dir(result, target)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text((target / "kpis.json").read_text(encoding="utf-8"), encoding="utf-8")
    _table(result)
    simulated = result.hours * 3600.0 * result.replications
    out.print(
        f"simulated {result.replications} × {result.hours:g} h in {wall:.1f} s "
        f"({simulated / wall:,.0f}× real time)"
    )
    little = result.littles_law
    out.print(
        f"Little's law on tasks: L = {little['L']:.3f}, λW = {little['lambda_W']:.3f} "
        f"(λ = {little['lambda_per_s'] * 3600:.2f}/h, W = {little['W_s']:.0f} s): "
        f"{100 * little['relative_error']:.2f} % off (worst replication {100 * little['max_relative_error']:.2f} %)"
    )
    if little["max_relative_error"] > 0.05:
        err.print(
            "[yellow]![/] Little's law is more than 5 % off: work piled up (an overloaded plant, or vehicles "
            "locked in traffic: see vehicles_waiting in timeseries.csv and docs/simulation.md, Known limits)"
        )
    out.print(
        f"[bold green]✓[/] wrote {target}/ (kpis.json, tasks.csv, timeseries.csv, occupancy.csv, trace.jsonl)"
    )
    _report(target)


def _report(target: Path) -> None:
    try:
        from simulation.report import write_report
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("simulation.report"):
            raise
        err.print("[yellow]![/] simulation.report is not installed: no plots or report.html were written")
        return
    report = write_report(target)
    out.print(f"[bold green]✓[/] report: {report}")


def _problems(source: str, lines: list[str]) -> None:
    count = len(lines)
    err.print(f"[bold red]✗[/] {source}: {count} problem{'s' if count != 1 else ''}")
    for line in lines:
        err.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _table(result: object) -> None:
    from simulation.experiment import ExperimentResult

    assert isinstance(result, ExperimentResult)
    table = Table(title=f"KPIs over {result.replications} replication(s), 95% confidence intervals")
    for column in ("kpi", "mean", "95% CI", "unit"):
        table.add_column(column, justify="left" if column in ("kpi", "unit") else "right")
    for name, kpi in result.kpis.items():
        table.add_row(name, f"{kpi.mean:,.4g}", f"{kpi.ci95_low:,.4g} … {kpi.ci95_high:,.4g}", kpi.unit)
    out.print(table)
