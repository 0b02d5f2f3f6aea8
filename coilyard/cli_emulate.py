"""`coilyard emulate`: stand-ins for real equipment, so the live chain runs without hardware."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from adapters.errors import AdapterError
from adapters.vda5050.emulator import Emulator
from adapters.vda5050.port import broker_address
from layout import LayoutInvalid, load_plant

app = typer.Typer(help="Emulate equipment (VDA 5050 vehicles) against a real broker.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


@app.command("vda5050")
def emulate_vda5050(
    layout: Annotated[Path, typer.Argument(help="A plant layout file (YAML).", show_default=False)],
    count: Annotated[
        int | None, typer.Option("--count", "-n", min=1, help="Emulate the first N vehicles of the plant.")
    ] = None,
    vehicles: Annotated[
        str | None, typer.Option(help="Comma-separated vehicle ids to emulate (instead of --count).")
    ] = None,
    broker: Annotated[str, typer.Option(help="MQTT broker host:port.")] = "127.0.0.1:1883",
    speed_up: Annotated[
        float, typer.Option("--speed-up", min=0.01, help="Drive and work this much faster.")
    ] = 1.0,
    interface_name: Annotated[str, typer.Option(help="First topic level.")] = "uagv",
    manufacturer: Annotated[str, typer.Option(help="Manufacturer topic level.")] = "coilyard",
    state_interval: Annotated[float, typer.Option(help="Seconds between periodic state messages.")] = 1.0,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until stopped).")
    ] = None,
) -> None:
    """Run emulated AGVs/RGVs of LAYOUT that take VDA 5050 2.1 orders; Ctrl-C says OFFLINE and stops."""
    try:
        plant = load_plant(layout)
    except LayoutInvalid as exc:
        err.print(f"✗ {exc.source}: {len(exc.problems)} problem(s)", markup=False)
        for problem in exc.problems:
            err.print(f"  {problem.describe(exc.source)}", markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    names = sorted(plant.vehicles)
    if vehicles is not None:
        names = [v.strip() for v in vehicles.split(",") if v.strip()]
        unknown = [v for v in names if v not in plant.vehicles]
        if unknown:
            err.print(
                f"✗ no vehicle {', '.join(unknown)} in {layout} (known: {', '.join(sorted(plant.vehicles))})"
            )
            raise typer.Exit(code=2)
    elif count is not None:
        if count > len(names):
            err.print(f"✗ --count {count}: {layout} has only {len(names)} vehicles ({', '.join(names)})")
            raise typer.Exit(code=2)
        names = names[:count]
    try:
        host, port = broker_address(broker)
        emulator = Emulator(
            plant,
            names,
            host=host,
            port=port,
            interface_name=interface_name,
            manufacturer=manufacturer,
            speed_up=speed_up,
            state_interval=state_interval,
        )
        emulator.connect()
    except (ValueError, AdapterError) as error:
        err.print(f"✗ {error}")
        raise typer.Exit(code=1) from None

    def stop(signum: int, frame: FrameType | None) -> None:
        emulator.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    err.print(f"emulating {', '.join(names)} on {host}:{port} ({interface_name}/v2/{manufacturer}/...)")
    try:
        emulator.run(seconds)
    finally:
        emulator.close()
