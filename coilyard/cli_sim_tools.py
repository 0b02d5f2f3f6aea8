"""`coilyard sweep` and `coilyard replay`: parameter sweeps over the twin, and replays of a run's trace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]✗[/] {message}", highlight=False)
    return typer.Exit(code=code)


def sweep(
    layout: Annotated[Path, typer.Argument(help="A plant layout file (YAML).", show_default=False)],
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary",
            help="KEY=A..B[:STEP] or KEY=V1,V2,... (repeatable; every combination runs), e.g. fleet.agv.count=4..16.",
            show_default=False,
        ),
    ],
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Scenario file (default: the layout's).")
    ] = None,
    hours: Annotated[
        float | None, typer.Option(help="Hours per replication (default: the scenario's).")
    ] = None,
    warmup: Annotated[float | None, typer.Option(help="Warm-up hours (default: the scenario's).")] = None,
    replications: Annotated[
        int | None, typer.Option(help="Replications per point (default: the scenario's).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed, the same at every point (default: the scenario's).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default: out/sweep-<layout stem>).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local worker processes (default: one per core).")
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Run on a Dask cluster: scheduler address, e.g. tcp://HOST:8786."),
    ] = None,
) -> None:
    """Run the twin for every combination of --vary values; chart each KPI against them.

    Writes sweep.csv, sweep.json, one plot per KPI (PNG and SVG) and sweep.html to --out."""
    from simulation.sweep import Experiment, SweepInvalid, parse_vary, run_sweep, write_outputs

    if not layout.is_file():
        raise _fail(f"{layout}: no such layout file", code=2)
    if scenario is not None and not scenario.is_file():
        raise _fail(f"{scenario}: no such scenario file", code=2)
    if (hours is not None and hours <= 0) or (warmup is not None and warmup < 0):
        raise _fail("--hours must be positive and --warmup not negative", code=2)
    if replications is not None and replications < 1:
        raise _fail("--replications must be at least 1", code=2)
    if workers is not None and workers < 1:
        raise _fail("--workers must be at least 1", code=2)
    try:
        varies = [parse_vary(text) for text in vary]
    except SweepInvalid as exc:
        raise _fail(str(exc), code=2) from None
    out_dir = output or Path("out") / f"sweep-{layout.stem}"
    experiment = Experiment(layout, scenario, hours, warmup, replications, seed)
    points = 1
    for v in varies:
        points *= len(v.values)
    where = f"Dask cluster {dask}" if dask else f"{workers or 'all'} local worker processes"
    each = f"{replications} replications" if replications else "the scenario's replications"
    err.print(f"{points} points × {each} on {where}", highlight=False)
    try:
        with _progress() as progress:
            task = progress.add_task("sweep", total=points)
            result = run_sweep(
                experiment,
                varies,
                dask_address=dask,
                workers=workers,
                on_point_done=lambda done, total, point: progress.update(task, completed=done),
                # On the local pool the bar also follows the replications inside running points.
                on_partial=None
                if dask
                else lambda completed, total: progress.update(task, completed=completed),
            )
    except SweepInvalid as exc:
        raise _fail(str(exc)) from None
    except ModuleNotFoundError as exc:
        raise _fail(f"the twin's experiment runner is not available ({exc})") from None
    page = write_outputs(result, out_dir)
    out.print(
        f"[bold green]✓[/] wrote {out_dir}/sweep.csv, sweep.json, {len(result.kpi_names())} plots and {page}"
    )


def replay(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory written by `coilyard simulate`.", show_default=False)
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="replay.html (animated page) or replay.gif.")
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="Start: seconds or H:MM[:SS] (default: trace start).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End: seconds or H:MM[:SS] (default: trace end).")
    ] = None,
    step: Annotated[
        float | None, typer.Option("--step", help="Simulated seconds between frames (default: ≤240 frames).")
    ] = None,
    layout: Annotated[
        Path | None, typer.Option("--layout", help="Layout for the plan (default: the one in kpis.json).")
    ] = None,
    fps: Annotated[float, typer.Option(help="Frames per second when played.")] = 8.0,
) -> None:
    """Animate vehicles, cranes and stock over the plan between --from and --to."""
    from simulation.replay import ReplayInvalid, parse_time, write_replay

    if fps <= 0:
        raise _fail("--fps must be positive", code=2)
    try:
        t0 = None if start is None else parse_time(start)
        t1 = None if end is None else parse_time(end)
        with _progress() as progress:
            task = progress.add_task("frames", total=None)
            frames = write_replay(
                run_dir,
                output,
                start=t0,
                end=t1,
                step=step,
                layout=layout,
                fps=fps,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
            progress.update(task, completed=frames, total=frames)
    except ReplayInvalid as exc:
        raise _fail(str(exc)) from None
    out.print(f"[bold green]✓[/] wrote {output} ({frames} frames)")


def register(app: typer.Typer) -> None:
    """Add `coilyard sweep` and `coilyard replay` to the root command."""
    app.command("sweep")(sweep)
    app.command("replay")(replay)
