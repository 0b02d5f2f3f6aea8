"""The `coilyard` command line: one typer app, a sub-app per area."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from coilyard import __version__
from coilyard.cli_emulate import app as emulate_app
from coilyard.cli_serve import register as register_serve
from coilyard.cli_sim import simulate
from coilyard.cli_sim_tools import register as register_sim_tools
from coilyard.cli_wms import app as wms_app
from layout import LayoutInvalid, Plant, load_plant

app = typer.Typer(
    name="coilyard",
    help="Warehouse and intralogistics orchestration for nonferrous metal plants.",
    no_args_is_help=True,
    add_completion=False,
)
layout_app = typer.Typer(help="Check, render and describe plant layout files.", no_args_is_help=True)
app.add_typer(layout_app, name="layout")
app.add_typer(wms_app, name="wms")
app.add_typer(emulate_app, name="emulate")
register_serve(app)  # `coilyard serve`, `coilyard users ...`
app.command("simulate")(simulate)
register_sim_tools(app)  # `coilyard sweep`, `coilyard replay`

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

LayoutFile = Annotated[Path, typer.Argument(help="A plant layout file (YAML).", show_default=False)]


def _load_or_exit(path: Path) -> Plant:
    try:
        return load_plant(path)
    except LayoutInvalid as exc:
        _print_problems(exc)
        raise typer.Exit(code=1) from None


def _print_problems(exc: LayoutInvalid) -> None:
    count = len(exc.problems)
    err.print(f"[bold red]✗[/] {exc.source}: {count} problem{'s' if count != 1 else ''}")
    for p in exc.problems:
        err.print(f"  {p.describe(exc.source)}", markup=False, highlight=False, soft_wrap=True)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"coilyard {__version__}")
        raise typer.Exit


@layout_app.command("check")
def layout_check(files: Annotated[list[Path], typer.Argument(help="Plant layout files (YAML).")]) -> None:
    """Check plant files; exit 0 when all are valid, 1 with every problem listed otherwise."""
    failed = 0
    for path in files:
        try:
            plant = load_plant(path)
        except LayoutInvalid as exc:
            _print_problems(exc)
            failed += 1
            continue
        places = len(plant.saddle_positions) + len(plant.rack_cells) + len(plant.stack_positions)
        out.print(
            f"[bold green]✓[/] {path}: {plant.name}: {places} places, {len(plant.node_points)} nodes, "
            f"{len(plant.vehicles)} vehicles"
        )
    if failed:
        raise typer.Exit(code=1)


@layout_app.command("render")
def layout_render(
    file: LayoutFile,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the plan: .svg, .png or .pdf.")
    ],
    labels: Annotated[bool, typer.Option(help="Label stores, stations and nodes.")] = True,
) -> None:
    """Draw the plant plan: stores, positions, rails, network, stations, zones, legend and scale bar."""
    if output.suffix.lower() not in {".svg", ".png", ".pdf"}:
        err.print(f"[red]✗[/] {output}: the plan is written as .svg, .png or .pdf, not '{output.suffix}'")
        raise typer.Exit(code=2)
    plant = _load_or_exit(file)
    from layout.render import save_plan  # matplotlib is slow to import; only this command needs it

    save_plan(plant, output, labels=labels)
    out.print(f"[bold green]✓[/] wrote {output}")


@layout_app.command("schema")
def layout_schema() -> None:
    """Print the JSON Schema of the plant layout format."""
    from layout.schema import PlantFile

    print(json.dumps(PlantFile.model_json_schema(by_alias=True), indent=2))


@layout_app.command("stats")
def layout_stats(file: LayoutFile) -> None:
    """Count positions, cells, nodes, edges and vehicles; sum capacity in coils and tonnes."""
    from layout.stats import plant_stats

    stats = plant_stats(_load_or_exit(file))
    table = Table(title=f"{stats.plant}: stores")
    for column in (
        "store",
        "kind",
        "places",
        "ground",
        "upper",
        "cranes",
        "capacity (coils)",
        "capacity (t)",
    ):
        table.add_column(column, justify="left" if column in {"store", "kind"} else "right")
    for s in stats.stores:
        table.add_row(
            s.id,
            s.kind,
            str(s.places),
            str(s.ground),
            str(s.upper),
            str(s.cranes),
            str(s.capacity_coils),
            f"{s.capacity_tonnes:,.0f}",
        )
    table.add_row(
        "total", "", "", "", "", "", str(stats.capacity_coils), f"{stats.capacity_tonnes:,.0f}", style="bold"
    )
    out.print(table)
    out.print(
        f"stations {stats.stations} · network nodes {stats.nodes} (rail stops {stats.rail_stops}) · "
        f"directed edges {stats.edges}"
    )
    out.print("vehicles " + ", ".join(f"{cls}: {n}" for cls, n in sorted(stats.vehicles.items())))


def main() -> None:
    app()
