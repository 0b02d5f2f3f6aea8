"""Composition root: build the WMS message bus and the live fleet's vehicle port from settings. The only place
infrastructure is created.

`COILYARD_VEHICLES` picks the vehicle port of `coilyard serve` (docs/api.md, "Vehicles"): `none` (no port:
the fleet books orders on paper), `sim`, `vda5050` or `can`, each built through
`adapters.registry.connect_vehicle` from the matching settings. `LiveEventsPort` wraps the port so that what
the vehicles report also reaches the live-event hub (`/api/events`) as `vehicle` and `crane` events: onto the
Redis fleet stream when the hub is on the bus (COILYARD_EVENTS_REDIS), else straight to the hub.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from adapters.errors import AdapterConfigError, AdapterError
from adapters.registry import ConnectedPort, connect_vehicle
from adapters.sql import SqlUnitOfWork, create_engine_for, migrate
from coilyard.live import LiveFleet
from coilyard.settings import Settings
from fleet.core import FleetCore
from fleet.ports import (
    Arrived,
    CraneAt,
    EnergyReport,
    OperationDone,
    Progress,
    StateChanged,
    VehicleCommand,
    VehicleEvent,
)
from layout import Plant, load_plant
from wms.service_layer.messagebus import MessageBus

Publish = Callable[[dict[str, Any]], None]
# `EventHub.publish_fleet`: False (nothing done) when the hub is not on the bus
PublishFleet = Callable[[Sequence[VehicleEvent]], bool]


class SystemClock:
    def now(self) -> float:
        return time.time()


def wms_bus(settings: Settings, plant: Plant | None = None) -> MessageBus:
    """A bus on the configured database (migrated to the current schema) and the configured plant."""
    plant = plant or load_plant(settings.layout)
    engine = create_engine_for(settings.database_url)
    migrate(engine)
    return MessageBus(SqlUnitOfWork(engine, plant), SystemClock())


# ------------------------------------------------------------------------------------------ vehicles


def vehicle_config(settings: Settings, plant: Plant) -> dict[str, Any]:
    """The keyword configuration of the adapter `settings.vehicles` names (not `none`)."""
    kind = settings.vehicles
    if kind == "sim":
        return {"plant": plant, "speed_up": settings.sim_speed_up, "seed": settings.sim_seed}
    if kind == "vda5050":
        return {
            "plant": plant, "url": settings.mqtt_url, "interface_name": settings.vda5050_interface_name,
            "manufacturer": settings.vda5050_manufacturer,
        }  # fmt: skip
    if kind == "can":
        if not settings.can_vehicles:
            raise AdapterConfigError(
                kind, 'COILYARD_CAN_VEHICLES names no vehicle gateway (JSON, e.g. {"AGV-01": 1})'
            )
        unknown = sorted(set(settings.can_vehicles) - set(plant.vehicles))
        if unknown:
            raise AdapterConfigError(
                kind, f"COILYARD_CAN_VEHICLES: no vehicle {', '.join(unknown)} in plant '{plant.id}'"
            )
        return {
            "plant": plant, "channel": settings.can_channel, "interface": settings.can_interface,
            "vehicles": dict(settings.can_vehicles),
        }  # fmt: skip
    raise AdapterConfigError(kind, "COILYARD_VEHICLES=none has no vehicle port")


def connect_vehicles(settings: Settings, plant: Plant) -> ConnectedPort | None:
    """Build and open the configured vehicle port; None for `none`. Raises `AdapterError` naming the problem."""
    if settings.vehicles == "none":
        return None
    kind = settings.vehicles
    try:
        return connect_vehicle(kind, **vehicle_config(settings, plant))
    except AdapterError:
        raise
    except ValueError as error:  # an adapter outside `adapters` (the twin's) checks its own config
        detail = getattr(error, "detail", None) or str(error)
        raise AdapterConfigError(kind, detail) from None


def live_fleet(plant: Plant, port: ConnectedPort) -> LiveFleet:
    """The asyncio fleet shell over `port` (build it where its loop will run it)."""
    return LiveFleet(FleetCore(plant), port)


def live_event(event: VehicleEvent, plant: Plant) -> dict[str, Any] | None:
    """What a vehicle event says to the live views, as a hub event (`coilyard.api.events`), or None."""
    if isinstance(event, CraneAt):
        return {"type": "crane", "crane": event.vehicle, "along": event.along}
    crane = event.vehicle not in plant.vehicles
    out: dict[str, Any] = (
        {"type": "crane", "crane": event.vehicle} if crane else {"type": "vehicle", "vehicle": event.vehicle}
    )
    if isinstance(event, Progress | Arrived):
        if crane:
            return None
        out["node"] = event.node
        point = plant.node_points.get(event.node)
        if point is not None:
            out.update(x=point[0], y=point[1])
    elif isinstance(event, StateChanged):
        out["state"] = str(event.state)
        if event.error is not None:
            out["error"] = event.error
    elif isinstance(event, EnergyReport):
        if crane:
            return None
        out["energy_kwh"] = round(event.energy, 6)
    elif isinstance(event, OperationDone):
        out["operation"] = str(event.operation)
        if not crane and event.node:
            out["node"] = event.node
    else:  # pragma: no cover - a new event type: nothing to show yet
        return None
    return out


class LiveEventsPort:
    """A vehicle port that passes everything through and publishes what vehicles report: as typed events
    through `publish_fleet` when it takes them (the bus), else rendered (`live_event`) through `publish`."""

    def __init__(
        self, port: ConnectedPort, plant: Plant, publish: Publish, publish_fleet: PublishFleet | None = None
    ) -> None:
        self.port = port
        self.plant = plant
        self.publish = publish
        self.publish_fleet = publish_fleet

    def send(self, command: VehicleCommand) -> None:
        self.port.send(command)

    def drain(self) -> list[VehicleEvent]:
        events = self.port.drain()
        if events and self.publish_fleet is not None and self.publish_fleet(events):
            return events  # queued for the bus: this call does not wait on Redis
        for event in events:
            shown = live_event(event, self.plant)
            if shown is not None:
                self.publish({**shown, "source": self.port.kind, "at": time.time()})
        return events

    def close(self) -> None:
        self.port.close()
