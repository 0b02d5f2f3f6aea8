"""`coilyard wms ...`: try the WMS by hand against the configured database (SQLite by default)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from coilyard.settings import Settings
from layout import LayoutInvalid
from wms.domain.errors import WmsError
from wms.domain.units import Packaging
from wms.service_layer import commands as cmd
from wms.service_layer.messagebus import MessageBus
from wms.service_layer.views import history, where

app = typer.Typer(
    help="Receive, put away, move and find coils (against COILYARD_DATABASE_URL).", no_args_is_help=True
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Database = Annotated[str | None, typer.Option("--database", help="SQLAlchemy URL (default: settings).")]
LayoutOption = Annotated[Path | None, typer.Option("--layout", help="Plant layout file (default: settings).")]
Actor = Annotated[str, typer.Option("--actor", help="Who does this (recorded in the ledger).")]
T = TypeVar("T")


def _settings(database: str | None, layout: Path | None) -> Settings:
    overrides: dict[str, Any] = {}
    if database:
        overrides["database_url"] = database
    if layout:
        overrides["layout"] = layout
    return Settings(**overrides)


def _run(database: str | None, layout: Path | None, work: Callable[[MessageBus], T]) -> T:
    """Build the bus and run `work`; domain and layout errors become one red line and exit code 1."""
    from coilyard.bootstrap import wms_bus

    try:
        return work(wms_bus(_settings(database, layout)))
    except LayoutInvalid as exc:
        err.print(f"[red]✗[/] {exc}", markup=True, highlight=False)
    except WmsError as exc:
        err.print(f"[red]✗[/] {exc}", highlight=False)
    raise typer.Exit(code=1)


@app.command("init")
def init(database: Database = None, layout: LayoutOption = None) -> None:
    """Create or upgrade the database schema and check the plant."""

    def work(bus: MessageBus) -> None:
        with bus.uow:
            yard = bus.uow.yard
            out.print(
                f"[green]✓[/] {yard.plant.name}: {len(yard.locations)} locations, {len(yard.coils)} coils, "
                f"ledger at {len(yard.ledger)}"
            )

    _run(database, layout, work)


@app.command("receive")
def receive(
    coil: Annotated[str, typer.Argument(help="Coil id (from MES).")],
    at: Annotated[str, typer.Option("--at", help="Where it is received (a handover node).")],
    weight: Annotated[float, typer.Option(help="t")],
    width: Annotated[float, typer.Option(help="m")],
    od: Annotated[float, typer.Option("--od", help="outer diameter, m")],
    inner: Annotated[float, typer.Option("--id", help="inner diameter, m")] = 0.6,
    gauge: Annotated[float, typer.Option(help="mm")] = 2.0,
    alloy: str = "5182",
    temper: str = "H19",
    temperature: Annotated[float, typer.Option(help="°C now")] = 25.0,
    packaging: Packaging = Packaging.BARE,
    customer: str = "",
    actor: Actor = "cli",
    database: Database = None,
    layout: LayoutOption = None,
) -> None:
    """Record a coil arriving at a handover."""
    command = cmd.ReceiveCoil(
        actor=actor, coil=coil, location=at, alloy=alloy, temper=temper, width=width, gauge=gauge,
        outer_diameter=od, inner_diameter=inner, weight=weight, temperature=temperature,
        packaging=packaging, customer=customer,
    )  # fmt: skip
    result = _run(database, layout, lambda bus: bus.handle(command))
    holds = f" (holds: {', '.join(result['holds'])})" if result["holds"] else ""
    out.print(f"[green]✓[/] {coil} received at {result['location']}{holds}")


@app.command("putaway")
def putaway(
    coil: str,
    store: Annotated[str, typer.Option("--store", help="Store id, e.g. FS1.")],
    actor: Actor = "cli",
    database: Database = None,
    layout: LayoutOption = None,
) -> None:
    """Propose the best legal place in a store, show why, and reserve it."""
    result = _run(
        database, layout, lambda bus: bus.handle(cmd.ProposePutaway(actor=actor, coil=coil, store=store))
    )
    out.print(f"[green]✓[/] {coil} → [bold]{result['target']}[/] (move {result['move']})")
    table = Table("rule", "score", title="score breakdown (lower is better)")
    for rule, value in result["score"].items():
        table.add_row(rule, f"{value:.3f}")
    out.print(table)


@app.command("move")
def move(
    coil: str,
    target: str,
    carrier: Annotated[str, typer.Option("--carrier", help="Vehicle or crane doing it.")],
    actor: Actor = "cli",
    database: Database = None,
    layout: LayoutOption = None,
) -> None:
    """Move a coil to a place in one go (plan, lift, set down), as an operator reports it."""

    command = cmd.MoveNow(actor=actor, unit=coil, target=target, carrier=carrier)
    result = _run(database, layout, lambda bus: bus.handle(command))
    out.print(f"[green]✓[/] {coil}: {result['source']} → {result['target']} (move {result['move']})")


@app.command("complete")
def complete(
    move_id: Annotated[str, typer.Argument(help="A planned move, e.g. from `putaway`.")],
    carrier: Annotated[str, typer.Option("--carrier")],
    actor: Actor = "cli",
    database: Database = None,
    layout: LayoutOption = None,
) -> None:
    """Carry out a planned move: lift it with the carrier and set it down at its target."""

    def work(bus: MessageBus) -> dict[str, Any]:
        bus.handle(cmd.StartMove(actor=actor, move=move_id, carrier=carrier))
        return bus.handle(cmd.CompleteMove(actor=actor, move=move_id))

    result = _run(database, layout, work)
    out.print(f"[green]✓[/] {result['unit']}: {result['source']} → {result['target']}")


@app.command("where")
def where_is(coil: str, database: Database = None, layout: LayoutOption = None) -> None:
    """Where a coil is now, and what holds or blocks it."""

    def work(bus: MessageBus) -> dict[str, Any]:
        with bus.uow:
            return where(bus.uow.yard, coil, time.time())

    answer = _run(database, layout, work)
    for key, value in answer.items():
        out.print(f"{key:>14}: {value}")


@app.command("history")
def history_of(coil: str, database: Database = None, layout: LayoutOption = None) -> None:
    """Everything the ledger says about a coil: who, when, what, from, to, why."""

    def work(bus: MessageBus) -> list[dict[str, Any]]:
        with bus.uow:
            return history(bus.uow.yard, coil)

    table = Table(title=f"history of {coil}")
    for column in ("seq", "when (UTC)", "who", "what", "from", "to", "why"):
        table.add_column(column, overflow="fold")  # ids are never cut short with "…"
    for row in _run(database, layout, work):
        when = datetime.fromtimestamp(row["at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(row["seq"]), when, row["actor"], row["what"], row["from"], row["to"], row["why"])
    out.print(table)
