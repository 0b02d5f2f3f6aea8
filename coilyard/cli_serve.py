"""`coilyard serve` (the HTTP service) and `coilyard users ...` (people and service accounts)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from coilyard.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from coilyard.api.events import EventHub
    from coilyard.api.security import UserStore
    from coilyard.live import LiveFleet

log = logging.getLogger("coilyard.serve")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

users_app = typer.Typer(
    help="Users of the HTTP service (against COILYARD_DATABASE_URL).", no_args_is_help=True
)


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: COILYARD_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: COILYARD_API_PORT).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service: REST, OpenAPI at /docs, live events at /api/events, /metrics, /health, /ready.

    Vehicles: COILYARD_VEHICLES=none (default: orders are booked, nothing drives), sim, vda5050 or can.
    """
    import uvicorn
    from pydantic import ValidationError

    from adapters.errors import AdapterError
    from layout import LayoutInvalid

    # The WMS writer thread does short database round trips and needs the GIL back after each one; a
    # switch interval shorter than the default 5 ms keeps the event loop from holding it that long.
    sys.setswitchinterval(0.0005)
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = "COILYARD_" + "_".join(str(part) for part in problem["loc"]).upper()
            err.print(f"[red]✗[/] {name}: {problem['msg']} (got {problem.get('input')!r})")
        raise typer.Exit(code=2) from None
    try:
        app = build_app(settings)
    except (AdapterError, LayoutInvalid) as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(code=2) from None
    uvicorn.run(
        app, host=host or settings.api_host, port=port or settings.api_port, log_level=log_level,
        access_log=False, timeout_graceful_shutdown=5,
    )  # fmt: skip


def build_app(settings: Settings) -> FastAPI:
    """The service of `coilyard serve`: with COILYARD_VEHICLES other than `none`, the live fleet shell drives
    the configured vehicle port for the life of the app (its lifespan runs `LiveFleet.run` and closes the port)
    and what vehicles report and every order change reach the live events (/api/events)."""
    from coilyard import bootstrap
    from coilyard.api import create_app
    from coilyard.api.fleet import LiveFleetControl
    from layout import load_plant

    plant = load_plant(settings.layout)
    port = bootstrap.connect_vehicles(settings, plant)
    if port is None:
        return create_app(settings, plant=plant)
    try:
        live = bootstrap.live_fleet(plant, port)
        control = LiveFleetControl(live)
        app = create_app(settings, plant=plant, fleet_control=control)
    except BaseException:
        port.close()
        raise
    hub = app.state.services.hub
    control.hub = hub
    live.port = bootstrap.LiveEventsPort(port, plant, hub.publish, hub.publish_fleet)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        try:
            async with inner(application) as state:
                runner = asyncio.create_task(live.run(), name="coilyard-live-fleet")
                runner.add_done_callback(_report_crash)
                forwarder = asyncio.create_task(_forward_order_changes(live, hub))
                try:
                    yield state
                finally:
                    live.stop()
                    forwarder.cancel()
                    with contextlib.suppress(BaseException):
                        await asyncio.gather(runner, forwarder)
        finally:
            await asyncio.to_thread(port.close)

    app.router.lifespan_context = lifespan
    return app


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the live fleet stopped: %s", task.exception(), exc_info=task.exception())


async def _forward_order_changes(live: LiveFleet, hub: EventHub) -> None:
    """Every order transition of the live shell: onto the fleet stream when the hub is on the Redis bus, else
    as a `fleet` live event (as the book-only fleet publishes)."""
    changes = live.subscribe()
    while True:
        t = await changes.get()
        if hub.publish_fleet([t]):
            continue
        hub.publish({
            "type": "fleet", "order": t.order, "state": str(t.to_state), "vehicle": t.vehicle, "at": time.time(),
        })  # fmt: skip


def _store(settings: Settings) -> UserStore:
    from adapters.sql import create_engine_for, migrate
    from coilyard.api.security import UserStore

    engine = create_engine_for(settings.database_url)
    migrate(engine)
    return UserStore(
        engine, token_ttl_s=settings.token_ttl_s, service_token_ttl_s=settings.service_token_ttl_s, cache_s=0
    )


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str, typer.Option("--role", help="operator, supervisor, planner, admin, vehicle, integration.")
    ],
    password: Annotated[
        str | None,
        typer.Option(
            help="People only; asked for when omitted (or COILYARD_NEW_PASSWORD).",
            envvar="COILYARD_NEW_PASSWORD",
        ),
    ] = None,
) -> None:
    """Add a person (asks for a password) or a service account (prints its token once)."""
    from coilyard.api.security import SERVICE_ROLES, AuthError, Role

    try:
        chosen = Role(role)
    except ValueError:
        err.print(f"[red]✗[/] unknown role '{role}': use one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(code=2) from None
    store = _store(Settings())
    try:
        if chosen in SERVICE_ROLES:
            store.add_user(name, chosen)
            issued = store.issue_service_token(name, time.time())
            out.print(f"[green]✓[/] service account {name} ({chosen}); its token (shown once):")
            print(issued.token)
            return
        secret = password or getpass.getpass(f"password for {name}: ")
        if len(secret) < 8:
            err.print("[red]✗[/] a password needs at least 8 characters")
            raise typer.Exit(code=2)
        store.add_user(name, chosen, secret)
        out.print(f"[green]✓[/] {name} ({chosen})")
    except AuthError as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(code=1) from None


@users_app.command("list")
def list_users() -> None:
    """List users and service accounts."""
    for user in _store(Settings()).users():
        kind = "service" if user["service"] else "person"
        out.print(f"{user['name']:<24} {user['role']:<12} {kind}{' (disabled)' if user['disabled'] else ''}")


@users_app.command("remove")
def remove(name: str) -> None:
    """Remove a user and revoke its tokens."""
    from coilyard.api.security import AuthError

    try:
        _store(Settings()).remove_user(name)
    except AuthError as error:
        err.print(f"[red]✗[/] {error}")
        raise typer.Exit(code=1) from None
    out.print(f"[green]✓[/] removed {name}")


def register(app: typer.Typer) -> None:
    """Add `serve` and `users` to the main command line (one line in coilyard/cli.py)."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
