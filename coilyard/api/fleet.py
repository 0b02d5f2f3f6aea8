"""Fleet routes: transport orders, vehicles, pause/resume, integration level.

The routes talk to a `FleetControl`: `LiveFleetControl` over the asyncio shell (`coilyard.live.LiveFleet`,
FleetCore on the event loop with a vehicle port), passed to `create_app(settings, fleet_control=...)`; by
default `BookOnlyFleet`, the FleetCore in-process with no vehicle port: orders are checked, booked and
dispatched on paper, no vehicle moves. Every call happens on the event loop, so neither needs a lock.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from coilyard.api.deps import ID_PATTERN, Caller, allow
from coilyard.api.errors import ERROR_RESPONSES, UnknownVehicle
from coilyard.api.events import EventHub
from coilyard.api.security import Role
from coilyard.live import LiveFleet
from fleet.core import CancelOrder, FleetCore, OrderChanged, SubmitOrder
from fleet.domain.orders import Destination, Operation, OrderSpec
from fleet.domain.vehicles import AtNode
from fleet.ports import Pause, Resume
from layout import Plant

router = APIRouter(prefix="/api/fleet", tags=["fleet"], responses=ERROR_RESPONSES)
PathId = Annotated[str, Path(pattern=ID_PATTERN)]
ORDERING = (Role.PLANNER, Role.SUPERVISOR, Role.INTEGRATION)


class IntegrationLevel(StrEnum):
    """How far coilyard drives a vehicle: not at all, watch its state only, or give it orders."""

    OFF = "off"
    MONITOR = "monitor"
    DISPATCH = "dispatch"


class FleetControl(Protocol):
    """What the routes need from a fleet shell (coilyard/live.py implements the same calls)."""

    def vehicles(self) -> list[dict[str, Any]]: ...

    def orders(self) -> list[dict[str, Any]]: ...

    def order(self, order: str) -> dict[str, Any]: ...

    async def submit(self, spec: OrderSpec) -> dict[str, Any]: ...

    async def cancel(self, order: str, reason: str) -> dict[str, Any]: ...

    async def pause(self, vehicle: str) -> dict[str, Any]: ...

    async def resume(self, vehicle: str) -> dict[str, Any]: ...

    async def set_integration(self, vehicle: str, level: IntegrationLevel) -> dict[str, Any]: ...


class BookOnlyFleet:
    """FleetCore without vehicles attached: the order book, dispatch decisions and the pause flags."""

    def __init__(self, plant: Plant, hub: EventHub | None = None) -> None:
        self.core = FleetCore(plant)
        self.hub = hub
        self.paused: set[str] = set()
        self.levels: dict[str, IntegrationLevel] = dict.fromkeys(
            self.core.vehicles, IntegrationLevel.DISPATCH
        )

    def _vehicle(self, vid: str) -> Any:
        try:
            return self.core.vehicles[vid]
        except KeyError:
            raise UnknownVehicle(vid) from None

    def _describe(self, vid: str) -> dict[str, Any]:
        v = self._vehicle(vid)
        position = v.position
        where = position.node if isinstance(position, AtNode) else f"{position.source}->{position.target}"
        return {
            "vehicle": vid, "vehicle_class": v.spec.id, "state": str(v.state),
            "position": where, "order": v.order, "energy_kwh": v.energy, "paused": vid in self.paused,
            "integration": str(self.levels[vid]), "load": v.load.unit if v.load else None,
        }  # fmt: skip

    def vehicles(self) -> list[dict[str, Any]]:
        return [self._describe(vid) for vid in sorted(self.core.vehicles)]

    def _order(self, order: str) -> dict[str, Any]:
        o = self.core.book[order]
        return {
            "order": o.spec.id, "state": str(o.state), "vehicle": o.vehicle, "priority": o.spec.priority,
            "destinations": [{"node": d.node, "operation": str(d.operation)} for d in o.spec.destinations],
            "unit": o.spec.unit,
        }  # fmt: skip

    def orders(self) -> list[dict[str, Any]]:
        return [self._order(oid) for oid in self.core.book.orders]

    def order(self, order: str) -> dict[str, Any]:
        return self._order(order)

    def _handle(self, message: Any) -> None:
        for effect in self.core.handle(message, time.time()):
            if isinstance(effect, OrderChanged) and self.hub is not None:
                t = effect.transition
                self.hub.publish(
                    {
                        "type": "fleet",
                        "order": t.order,
                        "state": str(t.to_state),
                        "vehicle": t.vehicle,
                        "at": t.at,
                    }
                )

    async def submit(self, spec: OrderSpec) -> dict[str, Any]:
        self._handle(SubmitOrder(spec=spec))
        return self._order(spec.id)

    async def cancel(self, order: str, reason: str) -> dict[str, Any]:
        self.core.book[order]  # unknown -> UnknownOrder
        self._handle(CancelOrder(order=order, reason=reason))
        return self._order(order)

    async def pause(self, vehicle: str) -> dict[str, Any]:
        self._vehicle(vehicle)
        self.paused.add(vehicle)
        self._publish_vehicle(vehicle, Pause(vehicle=vehicle))
        return self._describe(vehicle)

    async def resume(self, vehicle: str) -> dict[str, Any]:
        self._vehicle(vehicle)
        self.paused.discard(vehicle)
        self._publish_vehicle(vehicle, Resume(vehicle=vehicle))
        return self._describe(vehicle)

    async def set_integration(self, vehicle: str, level: IntegrationLevel) -> dict[str, Any]:
        self._vehicle(vehicle)
        self.levels[vehicle] = level
        return self._describe(vehicle)

    def _publish_vehicle(self, vehicle: str, command: Pause | Resume) -> None:
        if self.hub is not None:
            self.hub.publish({"type": "fleet", "vehicle": vehicle, "command": type(command).__name__.lower()})


class LiveFleetControl(BookOnlyFleet):
    """The routes' view of a running `coilyard.live.LiveFleet`: orders go through its command queue (so the
    core is only ever touched by its loop), pause and resume go to its vehicle port."""

    def __init__(self, live: LiveFleet, hub: EventHub | None = None) -> None:
        self.live = live
        self.core = live.core
        self.hub = hub
        self.paused = set()
        self.levels = dict.fromkeys(self.core.vehicles, IntegrationLevel.DISPATCH)

    async def submit(self, spec: OrderSpec) -> dict[str, Any]:
        await self.live.submit(SubmitOrder(spec=spec))
        return self._order(spec.id)

    async def cancel(self, order: str, reason: str) -> dict[str, Any]:
        self.core.book[order]  # unknown -> UnknownOrder
        await self.live.submit(CancelOrder(order=order, reason=reason))
        return self._order(order)

    async def pause(self, vehicle: str) -> dict[str, Any]:
        self._vehicle(vehicle)
        self.live.port.send(Pause(vehicle=vehicle))
        return await super().pause(vehicle)

    async def resume(self, vehicle: str) -> dict[str, Any]:
        self._vehicle(vehicle)
        self.live.port.send(Resume(vehicle=vehicle))
        return await super().resume(vehicle)


# ------------------------------------------------------------------------------------------- models


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: str = Field(pattern=ID_PATTERN)
    operation: Operation = Operation.MOVE


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: str = Field(pattern=ID_PATTERN)
    destinations: list[DestinationIn] = Field(min_length=1, max_length=20)
    priority: int = Field(0, ge=-1000, le=1000)
    deadline: float | None = Field(None, ge=0, le=1e12)
    vehicle_class: str | None = Field(None, pattern=ID_PATTERN)
    unit: str | None = Field(None, pattern=ID_PATTERN)
    weight: float = Field(0.0, ge=0, le=500, description="t")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]*$")


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: IntegrationLevel


class DestinationOut(BaseModel):
    node: str
    operation: str


class OrderOut(BaseModel):
    order: str
    state: str
    vehicle: str | None
    priority: int
    destinations: list[DestinationOut]
    unit: str | None


class VehicleOut(BaseModel):
    vehicle: str
    vehicle_class: str
    state: str
    position: str
    order: str | None
    energy_kwh: float | None
    paused: bool
    integration: str
    load: str | None


# ------------------------------------------------------------------------------------------- routes


def _fleet(request: Request) -> FleetControl:
    control: FleetControl = request.app.state.services.fleet
    return control


@router.get("/vehicles", summary="Every vehicle: state, position, order, pause, integration level")
async def list_vehicles(request: Request, _: Caller) -> list[VehicleOut]:
    return [VehicleOut(**v) for v in _fleet(request).vehicles()]


@router.get("/orders", summary="Transport orders")
async def list_orders(
    request: Request, _: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[OrderOut]:
    return [OrderOut(**o) for o in _fleet(request).orders()[:limit]]


@router.get("/orders/{order}", summary="One transport order")
async def get_order(order: PathId, request: Request, _: Caller) -> OrderOut:
    return OrderOut(**_fleet(request).order(order))


@router.post("/orders", status_code=201, summary="Submit a transport order", **allow(*ORDERING))
async def submit_order(body: OrderIn, request: Request, _: Caller) -> OrderOut:
    spec = OrderSpec(
        id=body.order,
        destinations=tuple(Destination(d.node, d.operation) for d in body.destinations),
        priority=body.priority, deadline=body.deadline, vehicle_class=body.vehicle_class, unit=body.unit,
        weight=body.weight, created_at=time.time(),
    )  # fmt: skip
    return OrderOut(**await _fleet(request).submit(spec))


@router.post("/orders/{order}/cancel", summary="Cancel a transport order", **allow(*ORDERING))
async def cancel_order(order: PathId, body: CancelIn, request: Request, _: Caller) -> OrderOut:
    return OrderOut(**await _fleet(request).cancel(order, body.reason))


@router.post("/vehicles/{vehicle}/pause", summary="Pause a vehicle", **allow(Role.OPERATOR, Role.SUPERVISOR))
async def pause(vehicle: PathId, request: Request, _: Caller) -> VehicleOut:
    return VehicleOut(**await _fleet(request).pause(vehicle))


@router.post("/vehicles/{vehicle}/resume", summary="Resume a paused vehicle", **allow(Role.SUPERVISOR))
async def resume(vehicle: PathId, request: Request, _: Caller) -> VehicleOut:
    return VehicleOut(**await _fleet(request).resume(vehicle))


@router.put(
    "/vehicles/{vehicle}/integration",
    summary="Set how far coilyard drives a vehicle",
    **allow(Role.SUPERVISOR),
)
async def set_integration(vehicle: PathId, body: IntegrationIn, request: Request, _: Caller) -> VehicleOut:
    return VehicleOut(**await _fleet(request).set_integration(vehicle, body.level))
