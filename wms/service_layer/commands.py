"""Commands: what a terminal, a vehicle, MES or the simulation asks the WMS to do (imperative, plain data).

Every command names its `actor`. Commands that come from terminals or vehicles carry an `idempotency_key`,
so a retried request is applied once: the second time the stored result is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wms.domain.units import HoldKind, Packaging


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: str
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveCoil(Command):
    coil: str
    location: str
    alloy: str
    temper: str
    width: float
    gauge: float
    outer_diameter: float
    inner_diameter: float
    weight: float
    temperature: float = 25.0
    packaging: Packaging = Packaging.BARE
    lot: str = ""
    heat: str = ""
    customer: str = ""
    order: str = ""
    due: float | None = None
    turnover: str = "C"
    parents: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ReceiveIngotStack(Command):
    stack: str
    location: str
    alloy: str
    count: int
    unit_weight: float
    unit_height: float
    cast_lot: str = ""
    width: float | None = None  # m, optional: the footprint rules of ingot stores use it
    length: float | None = None  # m


@dataclass(frozen=True, kw_only=True)
class ProposePutaway(Command):
    """Find the best legal place for a coil (or, in an ingot store, a slab: `coil` names the unit) in a
    store and reserve it (plans the putaway move)."""

    coil: str
    store: str


@dataclass(frozen=True, kw_only=True)
class PlanMove(Command):
    unit: str
    target: str
    purpose: str = "transfer"
    order: str | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class MoveNow(Command):
    """A move reported after the fact (an operator moved it by hand): plan, lift and set down in one go."""

    unit: str
    target: str
    carrier: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class StartMove(Command):
    move: str
    carrier: str


@dataclass(frozen=True, kw_only=True)
class CompleteLeg(Command):
    move: str
    location: str


@dataclass(frozen=True, kw_only=True)
class CompleteMove(Command):
    move: str


@dataclass(frozen=True, kw_only=True)
class CancelMove(Command):
    move: str
    reason: str
    set_down_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class PlanRetrieval(Command):
    coils: tuple[str, ...]
    destination: str
    order: str | None = None


@dataclass(frozen=True, kw_only=True)
class Hold(Command):
    unit: str
    kind: HoldKind
    reason: str


@dataclass(frozen=True, kw_only=True)
class Release(Command):
    unit: str
    hold: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReleaseCooled(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class MeasureTemperature(Command):
    coil: str
    temperature: float


@dataclass(frozen=True, kw_only=True)
class Reserve(Command):
    unit: str
    order: str


@dataclass(frozen=True, kw_only=True)
class ReleaseReservation(Command):
    unit: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Count(Command):
    location: str
    observed: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class Lock(Command):
    location: str
    direction: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Unlock(Command):
    location: str
    direction: str


@dataclass(frozen=True, kw_only=True)
class Ship(Command):
    unit: str
    shipment: str


@dataclass(frozen=True, kw_only=True)
class PlanShipment(Command):
    """Group coils into truckloads `shipment`-1, -2, ... within `payload` t, to leave from `dock`."""

    shipment: str
    coils: tuple[str, ...]
    payload: float
    dock: str
    window: tuple[float, float] | None = None


@dataclass(frozen=True, kw_only=True)
class ConfirmLoading(Command):
    """A scan at the truck: the coil must be the shipment's next in loading order."""

    shipment: str
    coil: str


@dataclass(frozen=True, kw_only=True)
class Consume(Command):
    """A unit went into the station's process: a coil, or a slab or ingot stack (`coil` names the unit)."""

    coil: str
    station: str
