"""Vehicles as the fleet core sees them: where each one is, what it carries, how much energy it has left.

A `Vehicle` here is state, not a driver: it changes only when the core applies an event from the vehicle
port (progress, state, energy). It is built from a layout `Vehicle` (id, class spec, home node).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from layout import Plant, schema
from layout import model as layout_model


class FleetError(Exception):
    """Base of every fleet domain error; a command that raises one changed nothing."""


class VehicleState(StrEnum):
    IDLE = "idle"
    MOVING = "moving"
    LOADING = "loading"  # picking up or setting down a unit
    CHARGING = "charging"
    ERROR = "error"  # a fault the vehicle reported; it stays where it stopped
    UNAVAILABLE = "unavailable"  # manual mode, switched off, out of communication


@dataclass(frozen=True, slots=True)
class AtNode:
    node: str


@dataclass(frozen=True, slots=True)
class OnEdge:
    """Between two nodes of the class graph, `offset` metres after `source`."""

    source: str
    target: str
    offset: float

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise ValueError(f"offset on edge {self.source}->{self.target} must be >= 0, got {self.offset}")


Position = AtNode | OnEdge


@dataclass(frozen=True, slots=True)
class Load:
    """What a vehicle carries: a unit id (None for an anonymous load) and its weight in tonnes."""

    unit: str | None
    weight: float


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a vehicle can do: `max_load` in tonnes, and the id of the routing graph it drives on."""

    max_load: float
    graph: str
    kind: str  # "agv" or "rgv"


@dataclass(slots=True, kw_only=True)
class Vehicle:
    id: str
    spec: schema.VehicleClass
    home: str
    state: VehicleState = VehicleState.IDLE
    position: Position
    load: Load | None = None
    energy: float | None = None  # kWh left; None for a vehicle without a battery (an RGV on a busbar)
    order: str | None = None  # the transport order it is working on
    leg: int | None = None  # index of the destination of `order` it is heading for

    @classmethod
    def from_layout(cls, vehicle: layout_model.Vehicle) -> Vehicle:
        """A vehicle at its home node, idle, empty, with a full battery (if it has one)."""
        battery = vehicle.vehicle_class.battery
        return cls(
            id=vehicle.id,
            spec=vehicle.vehicle_class,
            home=vehicle.home,
            position=AtNode(vehicle.home),
            energy=battery.capacity_kwh if battery is not None else None,
        )

    @property
    def vehicle_class(self) -> str:
        return self.spec.id

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_load=self.spec.capacity, graph=self.spec.id, kind=self.spec.kind)

    @property
    def node(self) -> str | None:
        """The node the vehicle stands on, or None while it is on an edge."""
        return self.position.node if isinstance(self.position, AtNode) else None

    @property
    def energy_fraction(self) -> float | None:
        """Energy left as a fraction of the battery capacity; None without a battery."""
        battery = self.spec.battery
        if battery is None or self.energy is None:
            return None
        return self.energy / battery.capacity_kwh

    @property
    def energy_low(self) -> bool:
        """True when the battery is below its class's `low_fraction` (never for a vehicle without one)."""
        fraction = self.energy_fraction
        battery = self.spec.battery
        return fraction is not None and battery is not None and fraction < battery.low_fraction

    @property
    def loaded(self) -> bool:
        return self.load is not None

    @property
    def available(self) -> bool:
        """Idle and able to take an order (not failed, not unavailable, not busy)."""
        return self.state is VehicleState.IDLE and self.order is None


def vehicles_of(plant: Plant) -> dict[str, Vehicle]:
    """Every vehicle of the plant at its home node, idle, empty and fully charged."""
    return {v.id: Vehicle.from_layout(v) for v in plant.vehicles.values()}


def can_carry(vehicle: Vehicle, weight: float) -> bool:
    """Whether the vehicle's class may carry `weight` tonnes (its capacity; what it carries now is not counted)."""
    return 0 <= weight <= vehicle.capabilities.max_load
