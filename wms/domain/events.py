"""Ledger events: past-tense facts. Every change to the yard is one of these, and replaying them rebuilds it.

Each event says who (`actor`), when (`at`, seconds on the yard's clock), what (its type and unit), from
and to where, and why (`reason`), so the ledger answers "where has this coil been, and who moved it".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wms.domain.units import CoilSpec, HoldKind, IngotStackSpec


@dataclass(frozen=True, kw_only=True)
class Event:
    at: float
    actor: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class CoilReceived(Event):
    coil: CoilSpec
    location: str


@dataclass(frozen=True, kw_only=True)
class IngotStackReceived(Event):
    stack: IngotStackSpec
    location: str


@dataclass(frozen=True, kw_only=True)
class MovePlanned(Event):
    move: str
    unit: str
    source: str
    target: str
    purpose: str  # putaway, retrieval, relocation, transfer
    score: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MoveStarted(Event):
    """The unit was lifted from where it was onto a carrier (a vehicle or crane)."""

    move: str
    unit: str
    source: str
    carrier: str


@dataclass(frozen=True, kw_only=True)
class MoveLegCompleted(Event):
    """The carrier set the unit down at an intermediate place (a handover); the move goes on from there."""

    move: str
    unit: str
    carrier: str
    location: str


@dataclass(frozen=True, kw_only=True)
class MoveCompleted(Event):
    move: str
    unit: str
    carrier: str
    target: str


@dataclass(frozen=True, kw_only=True)
class MoveCancelled(Event):
    move: str
    unit: str
    location: str  # where the unit is now (its source, or where a carrier set it down)


@dataclass(frozen=True, kw_only=True)
class HoldPlaced(Event):
    unit: str
    hold: str
    kind: HoldKind
    release_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class HoldReleased(Event):
    unit: str
    hold: str


@dataclass(frozen=True, kw_only=True)
class TemperatureMeasured(Event):
    coil: str
    temperature: float


@dataclass(frozen=True, kw_only=True)
class StockReserved(Event):
    unit: str
    order: str


@dataclass(frozen=True, kw_only=True)
class ReservationReleased(Event):
    unit: str
    order: str


@dataclass(frozen=True, kw_only=True)
class CountRecorded(Event):
    location: str
    expected: tuple[str, ...]
    observed: tuple[str, ...]

    @property
    def discrepancy(self) -> bool:
        return sorted(self.expected) != sorted(self.observed)


@dataclass(frozen=True, kw_only=True)
class LocationLocked(Event):
    location: str
    direction: str  # "in", "out" or "both"


@dataclass(frozen=True, kw_only=True)
class LocationUnlocked(Event):
    location: str
    direction: str


@dataclass(frozen=True, kw_only=True)
class UnitShipped(Event):
    unit: str
    location: str
    shipment: str


@dataclass(frozen=True, kw_only=True)
class ShipmentPlanned(Event):
    """A truckload: its coils in loading order, to leave from `dock` within the time window."""

    shipment: str
    truck: str
    dock: str
    payload: float
    coils: tuple[str, ...]
    window: tuple[float, float] | None = None


@dataclass(frozen=True, kw_only=True)
class StockLevelCrossed(Event):
    """Stock of an alloy in a store went below its low or above its high threshold, or back inside."""

    store: str
    alloy: str
    count: int
    level: str  # "low", "high" or "normal"


@dataclass(frozen=True, kw_only=True)
class CoilConsumed(Event):
    """A coil went into a process (rolling, slitting) at `location`; its children, if any, arrive by receipt."""

    coil: str
    location: str
    station: str


@dataclass(frozen=True, kw_only=True)
class IngotStackConsumed(Event):
    """A slab or ingot stack went into a process (a hot mill's furnace) at a station's handover."""

    stack: str
    location: str
    station: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    seq: int
    event: Event

    @property
    def kind(self) -> str:
        return type(self.event).__name__
