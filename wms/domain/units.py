"""Handling units: coils and ingot/slab stacks, their attributes and the cooling model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from wms.domain.errors import InvalidInput


class Packaging(StrEnum):
    BARE = "bare"
    STRAPPED = "strapped"
    SKID = "skid"  # on a skid: single layer only, nothing on top (pressure marks)


class UnitStatus(StrEnum):
    IN_STOCK = "in_stock"  # at a place in the yard (store, handover, buffer)
    IN_TRANSIT = "in_transit"  # on a vehicle or crane
    SHIPPED = "shipped"
    CONSUMED = "consumed"  # went into a process (slitting, rolling) and no longer exists as such


class HoldKind(StrEnum):
    QA = "qa"
    DAMAGE = "damage"
    COOLING = "cooling"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class CoilSpec:
    """What is known about a coil when it is received; immutable (measurements come as events)."""

    id: str
    alloy: str
    temper: str
    width: float  # m
    gauge: float  # mm
    outer_diameter: float  # m
    inner_diameter: float  # m
    weight: float  # t
    temperature: float = 25.0  # °C at `temperature_at`
    temperature_at: float = 0.0  # s
    packaging: Packaging = Packaging.BARE
    lot: str = ""
    heat: str = ""
    customer: str = ""
    order: str = ""
    due: float | None = None  # s; when it is expected to leave, for "do not bury what leaves first"
    turnover: str = "C"  # A, B or C: how often coils like it move (high-bay slotting)
    parents: tuple[str, ...] = ()  # genealogy: parent coils or ingot lots

    def __post_init__(self) -> None:
        problems = []
        for name in ("width", "gauge", "outer_diameter", "inner_diameter", "weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name} must be a positive number (got {value})")
        if self.inner_diameter >= self.outer_diameter:
            problems.append(
                f"inner diameter {self.inner_diameter} m must be below the outer diameter {self.outer_diameter} m"
            )
        if not math.isfinite(self.temperature) or self.temperature < -50 or self.temperature > 700:
            problems.append(f"temperature {self.temperature} °C is outside -50..700 °C")
        if not math.isfinite(self.temperature_at):
            problems.append(f"temperature_at must be a finite time (got {self.temperature_at})")
        if self.due is not None and not math.isfinite(self.due):
            problems.append(f"due must be a finite time (got {self.due})")
        if self.turnover not in {"A", "B", "C"}:
            problems.append(f"turnover class must be A, B or C (got {self.turnover!r})")
        if not self.id or not self.id.strip():
            problems.append("coil id is empty")
        if problems:
            raise InvalidInput(f"coil '{self.id}': " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class IngotStackSpec:
    """A slab (count 1) or a bundle of ingots handled as one unit; units of a stack position form a pile.

    `width` (across the slab, along the store row) and `length` are optional: without them the footprint
    rules of `stacking` do not apply. `cast_lot` names the cast (a casting pit's drop): genealogy.
    """

    id: str
    alloy: str
    count: int
    unit_weight: float  # t
    unit_height: float  # m
    cast_lot: str = ""
    width: float | None = None  # m
    length: float | None = None  # m

    @property
    def weight(self) -> float:
        return self.count * self.unit_weight

    @property
    def height(self) -> float:
        return self.count * self.unit_height

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise InvalidInput("ingot stack id is empty")
        if self.count < 1:
            raise InvalidInput(f"ingot stack '{self.id}': count must be at least 1 (got {self.count})")
        for name in ("unit_weight", "unit_height", "width", "length"):
            value = getattr(self, name)
            if value is None and name in ("width", "length"):
                continue
            if not (math.isfinite(value) and value > 0):
                raise InvalidInput(f"ingot stack '{self.id}': {name} must be a positive number (got {value})")


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    kind: HoldKind
    reason: str
    placed_at: float
    release_at: float | None = None  # cooling holds release themselves at this time


@dataclass(slots=True)
class Coil:
    spec: CoilSpec
    location: str
    status: UnitStatus = UnitStatus.IN_STOCK
    received_at: float = 0.0
    temperature: float = 25.0
    temperature_at: float = 0.0
    holds: dict[str, Hold] = field(default_factory=dict)
    reserved_for: str | None = None
    move: str | None = None  # the active move carrying it, if any

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def weight(self) -> float:
        return self.spec.weight


@dataclass(slots=True)
class IngotStack:
    spec: IngotStackSpec
    location: str
    status: UnitStatus = UnitStatus.IN_STOCK
    received_at: float = 0.0
    holds: dict[str, Hold] = field(default_factory=dict)
    reserved_for: str | None = None
    move: str | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def weight(self) -> float:
        return self.spec.weight


Unit = Coil | IngotStack


# Rounding in exp/log puts the modelled temperature at the release time a hair above the threshold;
# "hot" means above the threshold by more than this, so a released coil is never still hot.
HOT_MARGIN_C = 1e-6


@dataclass(frozen=True, slots=True)
class CoolingModel:
    """Newton cooling: T(t) = T_amb + (T0 - T_amb)·exp(-(t - t0)/τ)."""

    ambient_c: float
    time_constant_s: float

    def temperature(self, measured: float, measured_at: float, now: float) -> float:
        elapsed = max(0.0, now - measured_at)
        return self.ambient_c + (measured - self.ambient_c) * math.exp(-elapsed / self.time_constant_s)

    def is_above(self, measured: float, measured_at: float, now: float, threshold: float) -> bool:
        return self.temperature(measured, measured_at, now) > threshold + HOT_MARGIN_C

    def time_to_reach(self, measured: float, measured_at: float, threshold: float) -> float:
        """When the coil's modelled temperature falls to `threshold` (at once if it already has)."""
        if measured <= threshold:
            return measured_at
        if threshold <= self.ambient_c:
            return math.inf
        return measured_at + self.time_constant_s * math.log(
            (measured - self.ambient_c) / (threshold - self.ambient_c)
        )
