"""The yard: every unit, every place, every move, and the ledger that explains them.

Commands (methods) check everything first and then record one or more events; `_apply` is the only code
that changes state, and it is what replay runs. A command that raises changed nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from layout import Plant
from layout import schema as plant_schema
from layout.model import Tier
from wms.domain import events as ev
from wms.domain.errors import (
    Blocked,
    DuplicateUnit,
    InvalidInput,
    InvalidMoveState,
    LocationLocked,
    OnHold,
    Reserved,
    StackingRuleViolated,
    UnitBusy,
    UnknownCoil,
    UnknownLocation,
    UnknownMove,
    UnknownUnit,
)
from wms.domain.locations import Location, LocationKind, locations_of
from wms.domain.stacking import FlatStorePolicy, flat_store_policy, placement_violations
from wms.domain.units import (
    Coil,
    CoilSpec,
    CoolingModel,
    Hold,
    HoldKind,
    IngotStack,
    IngotStackSpec,
    Unit,
    UnitStatus,
)


class MoveState(StrEnum):
    PLANNED = "planned"  # target reserved, unit not yet lifted
    ACTIVE = "active"  # on a carrier
    STAGED = "staged"  # set down at an intermediate handover, to be picked up again
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Move:
    id: str
    unit: str
    source: str
    target: str
    purpose: str
    state: MoveState = MoveState.PLANNED
    carrier: str | None = None
    score: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Shipment:
    """A truckload (see wms.domain.shipments): coils in loading order, and those loaded so far."""

    id: str
    truck: str
    dock: str
    payload: float
    coils: tuple[str, ...]
    window: tuple[float, float] | None = None
    loaded: list[str] = field(default_factory=list)

    @property
    def next_coil(self) -> str | None:
        remaining = [c for c in self.coils if c not in self.loaded]
        return remaining[0] if remaining else None

    @property
    def complete(self) -> bool:
        return self.next_coil is None


Watcher = Callable[[str], None]


class Yard:
    """State of all stock in one plant. Build one with `Yard(plant)`, or `Yard.replay(plant, ledger)`."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.locations: dict[str, Location] = locations_of(plant)
        self.coils: dict[str, Coil] = {}
        self.stacks: dict[str, IngotStack] = {}
        # Units still in the yard (not consumed, not shipped), in order of receipt: what selection scans.
        self.present_coils: dict[str, Coil] = {}
        self.present_stacks: dict[str, IngotStack] = {}
        self._present_coils_by_alloy: dict[str, dict[str, Coil]] = {}
        self._cooling_due: dict[str, float] = {}  # cooling hold id -> its release time (if it has one)
        self.moves: dict[str, Move] = {}
        self.ledger: list[ev.LedgerEntry] = []
        self.discrepancies: list[ev.CountRecorded] = []
        self.shipments: dict[str, Shipment] = {}
        self.stock: Counter[tuple[str, str]] = Counter()  # (store, alloy) -> units stored there
        self.stock_levels: dict[tuple[str, str], str] = {}  # last level reported per (store, alloy)
        self.stock_thresholds: dict[tuple[str, str], tuple[int, int]] = {}  # configuration, not state
        self._policies = {
            s.id: flat_store_policy(s) for s in plant.stores if isinstance(s, plant_schema.FlatStore)
        }
        self._high_bays = {s.id: s for s in plant.stores if isinstance(s, plant_schema.HighBayStore)}
        self.cooling, self.hot_threshold_c = _yard_cooling(list(self._policies.values()))
        self._above = _uppers_above(plant)
        self._carrier_capacity = _carrier_capacities(plant)
        self._watchers: list[Watcher] = []
        self._move_seq = 0
        self._hold_seq = 0

    # ------------------------------------------------------------------------------------------ lookups

    def unit(self, unit_id: str) -> Unit:
        found: Unit | None = self.coils.get(unit_id) or self.stacks.get(unit_id)
        if found is None:
            raise UnknownUnit(unit_id)
        return found

    def present_coils_of(self, alloy: str | None) -> Iterable[Coil]:
        """The coils still in the yard (not consumed, not shipped), of `alloy` if given."""
        if alloy is None:
            return self.present_coils.values()
        return self._present_coils_by_alloy.get(alloy, {}).values()

    def coil(self, coil_id: str) -> Coil:
        try:
            return self.coils[coil_id]
        except KeyError:
            raise UnknownCoil(coil_id) from None

    def location(self, location_id: str) -> Location:
        try:
            return self.locations[location_id]
        except KeyError:
            raise UnknownLocation(location_id) from None

    def move(self, move_id: str) -> Move:
        try:
            return self.moves[move_id]
        except KeyError:
            raise UnknownMove(move_id) from None

    def flat_policy(self, store: str) -> FlatStorePolicy:
        return self._policies[store]

    def high_bay(self, store: str) -> plant_schema.HighBayStore:
        return self._high_bays[store]

    def carrier_capacity_t(self, carrier: str) -> float:
        return self._carrier_capacity.get(carrier, math.inf)

    def uppers_above(self, ground: str) -> list[str]:
        """The upper positions resting on a ground position (none, one or two)."""
        return self._above.get(ground, [])

    def is_hot(self, coil: Coil, now: float) -> bool:
        return self.cooling.is_above(coil.temperature, coil.temperature_at, now, self.hot_threshold_c)

    def temperature(self, coil_id: str, now: float) -> float:
        coil = self.coil(coil_id)
        return self.cooling.temperature(coil.temperature, coil.temperature_at, now)

    def active_holds(self, unit: Unit) -> list[Hold]:
        return list(unit.holds.values())

    def resting_on(self, unit: Unit) -> list[str]:
        """Units that must be lifted before `unit`: the coils on the upper positions resting on it, or, in a
        pile (a stack position, last in first out), every unit above it, top first."""
        place = self.locations[unit.location]
        if place.kind is LocationKind.STACK:
            if unit.id not in place.occupants:
                return []
            return place.occupants[place.occupants.index(unit.id) + 1 :][::-1]
        return [o for upper in self.uppers_above(unit.location) for o in self.locations[upper].occupants]

    def blockers(self, unit: Unit) -> list[str]:
        """Units resting on `unit`, and moves planned onto its top: what must go before it can be lifted."""
        found: list[str] = []
        place = self.locations[unit.location]
        if place.kind is LocationKind.STACK:
            found.extend(self.resting_on(unit))
            found.extend(f"move {m} onto {place.id}" for m in place.inbound)
            return found
        for upper in self.uppers_above(unit.location):
            place = self.locations[upper]
            found.extend(place.occupants)
            if place.reserved_by is not None:
                found.append(f"move {place.reserved_by} onto {upper}")
        return found

    def watch(self, watcher: Watcher) -> None:
        """Call `watcher(location_id)` after anything at that location changes (for indexes)."""
        self._watchers.append(watcher)

    # ------------------------------------------------------------------------------------------ receiving

    def receive_coil(self, spec: CoilSpec, location: str, *, at: float, actor: str, reason: str = "") -> Coil:
        if spec.id in self.coils or spec.id in self.stacks:
            raise DuplicateUnit(spec.id)
        place = self._receivable(location)
        probe = Coil(
            spec, place.id, received_at=at, temperature=spec.temperature, temperature_at=spec.temperature_at
        )
        self._check_place(probe, place, at)
        self._record(ev.CoilReceived(at=at, actor=actor, reason=reason, coil=spec, location=place.id))
        coil = self.coils[spec.id]
        if self.is_hot(coil, at):
            release = self.cooling.time_to_reach(coil.temperature, coil.temperature_at, self.hot_threshold_c)
            self._record(
                ev.HoldPlaced(
                    at=at,
                    actor=actor,
                    reason=f"received at {spec.temperature:g} °C",
                    unit=spec.id,
                    hold=self._next_hold_id(),
                    kind=HoldKind.COOLING,
                    release_at=release,
                )
            )
        return coil

    def receive_ingot_stack(
        self, spec: IngotStackSpec, location: str, *, at: float, actor: str, reason: str = ""
    ) -> IngotStack:
        if spec.id in self.coils or spec.id in self.stacks:
            raise DuplicateUnit(spec.id)
        place = self._receivable(location)
        self._check_place(IngotStack(spec, place.id), place, at)
        self._record(ev.IngotStackReceived(at=at, actor=actor, reason=reason, stack=spec, location=place.id))
        return self.stacks[spec.id]

    def _receivable(self, location: str) -> Location:
        place = self.location(location)
        if place.kind is LocationKind.CARRIER:
            raise InvalidInput(f"a unit is received at a place, not on carrier '{location}'")
        return place

    # ------------------------------------------------------------------------------------------ moves

    def plan_move(
        self,
        unit_id: str,
        target: str,
        *,
        at: float,
        actor: str,
        purpose: str = "transfer",
        order: str | None = None,
        score: dict[str, float] | None = None,
        reason: str = "",
    ) -> Move:
        """Reserve `target` for `unit_id`; the unit must be liftable and the target legal for it now."""
        unit = self._movable(unit_id, purpose, order)
        place = self.location(target)
        if place.kind is LocationKind.CARRIER:
            raise InvalidInput(f"a move ends at a place, not on carrier '{target}'")
        if place.id == unit.location:
            raise InvalidInput(f"'{unit_id}' is already at '{target}'")
        self._check_liftable(unit)
        self._check_place(unit, place, at)
        move = self._next_move_id()
        self._record(
            ev.MovePlanned(
                at=at,
                actor=actor,
                reason=reason,
                move=move,
                unit=unit.id,
                source=unit.location,
                target=place.id,
                purpose=purpose,
                score=dict(score or {}),
            )
        )
        return self.moves[move]

    def start_move(self, move_id: str, carrier: str, *, at: float, actor: str) -> Move:
        """The carrier lifted the unit from where it is (its source, or the handover it was staged at)."""
        move = self.move(move_id)
        if move.state not in (MoveState.PLANNED, MoveState.STAGED):
            raise InvalidMoveState(move_id, move.state, "planned or staged")
        unit = self.unit(move.unit)
        holder = self.location(carrier)
        if holder.kind is not LocationKind.CARRIER:
            raise InvalidInput(f"'{carrier}' is not a vehicle or crane")
        self._check_liftable(unit)
        self._check_place(unit, holder, at)
        self._record(
            ev.MoveStarted(
                at=at, actor=actor, move=move_id, unit=unit.id, source=unit.location, carrier=carrier
            )
        )
        return move

    def complete_leg(self, move_id: str, location: str, *, at: float, actor: str) -> Move:
        """The carrier set the unit down at an intermediate handover; another carrier takes it on from there."""
        move = self._active(move_id)
        place = self.location(location)
        if place.kind is not LocationKind.HANDOVER:
            raise InvalidInput(f"a leg ends at a handover; '{location}' is a {place.kind}")
        unit = self.unit(move.unit)
        self._check_place(unit, place, at)
        self._record(
            ev.MoveLegCompleted(
                at=at, actor=actor, move=move_id, unit=unit.id, carrier=unit.location, location=place.id
            )
        )
        return move

    def complete_move(self, move_id: str, *, at: float, actor: str) -> Move:
        """The carrier set the unit down at the move's target."""
        move = self._active(move_id)
        unit = self.unit(move.unit)
        self._check_place(unit, self.locations[move.target], at, move=move_id)
        self._record(
            ev.MoveCompleted(
                at=at, actor=actor, move=move_id, unit=unit.id, carrier=unit.location, target=move.target
            )
        )
        return move

    def cancel_move(
        self, move_id: str, *, at: float, actor: str, reason: str, set_down_at: str | None = None
    ) -> Move:
        """Drop a move. A unit on a carrier must be set down somewhere legal: `set_down_at`."""
        move = self.move(move_id)
        if move.state in (MoveState.DONE, MoveState.CANCELLED):
            raise InvalidMoveState(move_id, move.state, "planned, active or staged")
        unit = self.unit(move.unit)
        where = unit.location
        if move.state is MoveState.ACTIVE:
            if set_down_at is None:
                raise InvalidInput(f"'{unit.id}' is on {unit.location}: say where it was set down")
            place = self.location(set_down_at)
            if place.kind is LocationKind.CARRIER:
                raise InvalidInput(f"'{set_down_at}' is a carrier, not a place to set a unit down")
            self._check_place(unit, place, at, move=move_id)
            where = place.id
        self._record(
            ev.MoveCancelled(at=at, actor=actor, reason=reason, move=move_id, unit=unit.id, location=where)
        )
        return move

    def _movable(self, unit_id: str, purpose: str, order: str | None) -> Unit:
        unit = self.unit(unit_id)
        if unit.status not in (UnitStatus.IN_STOCK,):
            raise InvalidInput(f"'{unit_id}' is {unit.status}; only units in stock can be moved")
        if unit.move is not None:
            raise UnitBusy(unit_id, unit.move)
        if purpose == "retrieval":
            self.check_available(unit, order)
        return unit

    def check_available(self, unit: Unit, order: str | None) -> None:
        """Held stock is never handed out; reserved stock only to its own order."""
        if unit.holds:
            raise OnHold(unit.id, [f"{h.kind}: {h.reason}" for h in unit.holds.values()])
        if unit.reserved_for is not None and unit.reserved_for != order:
            raise Reserved(unit.id, unit.reserved_for)

    def _check_liftable(self, unit: Unit) -> None:
        place = self.locations[unit.location]
        if place.locked_out is not None:
            raise LocationLocked(place.id, "taking out", place.locked_out)
        blockers = self.blockers(unit)
        if blockers:
            raise Blocked(unit.id, blockers)

    def _check_place(self, unit: Unit, place: Location, at: float, move: str | None = None) -> None:
        violations = placement_violations(self, unit, place, at, move)
        if violations:
            raise StackingRuleViolated(unit.id, place.id, violations)

    def _active(self, move_id: str) -> Move:
        move = self.move(move_id)
        if move.state is not MoveState.ACTIVE:
            raise InvalidMoveState(move_id, move.state, "active (on a carrier)")
        return move

    # ------------------------------------------------------------------------------------------ holds, reservations

    def place_hold(self, unit_id: str, kind: HoldKind, reason: str, *, at: float, actor: str) -> Hold:
        unit = self.unit(unit_id)
        if not reason.strip():
            raise InvalidInput("a hold needs a reason")
        hold = self._next_hold_id()
        self._record(ev.HoldPlaced(at=at, actor=actor, reason=reason, unit=unit.id, hold=hold, kind=kind))
        return unit.holds[hold]

    def release_hold(self, unit_id: str, hold_id: str, *, at: float, actor: str, reason: str = "") -> None:
        unit = self.unit(unit_id)
        if hold_id not in unit.holds:
            raise InvalidInput(f"'{unit_id}' has no hold '{hold_id}'")
        self._record(ev.HoldReleased(at=at, actor=actor, reason=reason, unit=unit.id, hold=hold_id))

    def release_cooled(self, *, at: float, actor: str = "cooling-model") -> list[str]:
        """Release every cooling hold whose coil has cooled below the threshold by `at`."""
        released: list[str] = []
        for coil in self.coils.values():
            for hold in list(coil.holds.values()):
                if hold.kind is HoldKind.COOLING and hold.release_at is not None and hold.release_at <= at:
                    self._record(
                        ev.HoldReleased(
                            at=at, actor=actor, reason="cooled below threshold", unit=coil.id, hold=hold.id
                        )
                    )
                    released.append(coil.id)
        return released

    def next_cooling_release(self) -> float | None:
        """When `release_cooled` next has something to do (for the shell's clock)."""
        return min(self._cooling_due.values(), default=None)

    def measure_temperature(self, coil_id: str, temperature: float, *, at: float, actor: str) -> None:
        coil = self.coil(coil_id)
        if not math.isfinite(temperature) or not -50 <= temperature <= 700:
            raise InvalidInput(f"temperature {temperature} °C is outside -50..700 °C")
        self._record(ev.TemperatureMeasured(at=at, actor=actor, coil=coil.id, temperature=temperature))
        cooling = [h for h in coil.holds.values() if h.kind is HoldKind.COOLING]
        release = self.cooling.time_to_reach(temperature, at, self.hot_threshold_c)
        for hold in cooling:
            self._record(
                ev.HoldReleased(at=at, actor=actor, reason="re-measured", unit=coil.id, hold=hold.id)
            )
        if release > at:
            self._record(
                ev.HoldPlaced(
                    at=at,
                    actor=actor,
                    reason=f"measured {temperature:g} °C",
                    unit=coil.id,
                    hold=self._next_hold_id(),
                    kind=HoldKind.COOLING,
                    release_at=release,
                )
            )

    def reserve(self, unit_id: str, order: str, *, at: float, actor: str) -> None:
        unit = self.unit(unit_id)
        if not order.strip():
            raise InvalidInput("a reservation needs an order")
        if unit.status not in (UnitStatus.IN_STOCK, UnitStatus.IN_TRANSIT):
            raise InvalidInput(f"'{unit_id}' is {unit.status} and cannot be reserved")
        self.check_available(unit, order)
        if unit.reserved_for == order:
            return
        self._record(ev.StockReserved(at=at, actor=actor, unit=unit.id, order=order))

    def release_reservation(self, unit_id: str, *, at: float, actor: str, reason: str = "") -> None:
        unit = self.unit(unit_id)
        if unit.reserved_for is None:
            raise InvalidInput(f"'{unit_id}' is not reserved")
        self._record(
            ev.ReservationReleased(at=at, actor=actor, reason=reason, unit=unit.id, order=unit.reserved_for)
        )

    # ------------------------------------------------------------------------------------------ counts, locks, leaving

    def record_count(
        self, location: str, observed: Iterable[str], *, at: float, actor: str
    ) -> ev.CountRecorded:
        place = self.location(location)
        event = ev.CountRecorded(
            at=at, actor=actor, location=place.id, expected=tuple(place.occupants), observed=tuple(observed)
        )
        self._record(event)
        return event

    def lock(self, location: str, direction: str, reason: str, *, at: float, actor: str) -> None:
        place = self.location(location)
        if direction not in ("in", "out", "both"):
            raise InvalidInput(f"lock direction must be in, out or both (got {direction!r})")
        if not reason.strip():
            raise InvalidInput("a lock needs a reason")
        self._record(
            ev.LocationLocked(at=at, actor=actor, reason=reason, location=place.id, direction=direction)
        )

    def unlock(self, location: str, direction: str, *, at: float, actor: str) -> None:
        place = self.location(location)
        if direction not in ("in", "out", "both"):
            raise InvalidInput(f"lock direction must be in, out or both (got {direction!r})")
        self._record(ev.LocationUnlocked(at=at, actor=actor, location=place.id, direction=direction))

    def ship(self, unit_id: str, shipment: str, *, at: float, actor: str) -> None:
        unit = self.unit(unit_id)
        self._leaving(unit, shipment)
        self._record(
            ev.UnitShipped(at=at, actor=actor, unit=unit.id, location=unit.location, shipment=shipment)
        )

    def consume(self, unit_id: str, station: str, *, at: float, actor: str) -> None:
        """A coil or an ingot stack (a slab) went into the process of `station`, from a handover."""
        unit = self.unit(unit_id)
        if station not in {s.id for s in self.plant.stations}:
            raise InvalidInput(f"unknown station '{station}'")
        self._leaving(unit, None)
        if isinstance(unit, IngotStack):
            self._record(
                ev.IngotStackConsumed(
                    at=at, actor=actor, stack=unit.id, location=unit.location, station=station
                )
            )
            return
        self._record(
            ev.CoilConsumed(at=at, actor=actor, coil=unit.id, location=unit.location, station=station)
        )

    def _leaving(self, unit: Unit, order: str | None) -> None:
        if unit.status is not UnitStatus.IN_STOCK or unit.move is not None:
            raise InvalidInput(f"'{unit.id}' is {unit.status if unit.move is None else 'being moved'}")
        place = self.locations[unit.location]
        if place.kind is not LocationKind.HANDOVER:
            raise InvalidInput(f"'{unit.id}' leaves from a handover, not from '{unit.location}'")
        if place.locked_out is not None:
            raise LocationLocked(place.id, "taking out", place.locked_out)
        if unit.holds:
            raise OnHold(unit.id, [f"{h.kind}: {h.reason}" for h in unit.holds.values()])
        if unit.reserved_for is not None and order is not None and unit.reserved_for != order:
            raise Reserved(unit.id, unit.reserved_for)

    # ------------------------------------------------------------------------------------------ events

    def record(self, event: ev.Event) -> None:
        """Apply an event and append it to the ledger (for domain services beside the yard's own commands)."""
        if not math.isfinite(event.at):
            raise InvalidInput(f"time must be a finite number of seconds (got {event.at})")
        self._apply(event)
        self.ledger.append(ev.LedgerEntry(len(self.ledger) + 1, event))
        if self.stock_thresholds and not isinstance(event, ev.StockLevelCrossed):
            self._report_stock_levels(event.at)

    _record = record

    def set_stock_thresholds(self, thresholds: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Low and high unit counts per (store, alloy); crossing one records StockLevelCrossed."""
        for key, (low, high) in thresholds.items():
            if not 0 <= low <= high:
                raise InvalidInput(f"stock thresholds for {key}: need 0 <= low <= high (got {low}, {high})")
        self.stock_thresholds = dict(thresholds)

    def _report_stock_levels(self, at: float) -> None:
        for (store, alloy), (low, high) in self.stock_thresholds.items():
            count = self.stock[(store, alloy)]
            level = "low" if count < low else "high" if count > high else "normal"
            if level != self.stock_levels.get((store, alloy), "normal"):
                self.record(
                    ev.StockLevelCrossed(
                        at=at, actor="wms", store=store, alloy=alloy, count=count, level=level
                    )
                )

    @classmethod
    def replay(cls, plant: Plant, entries: Iterable[ev.LedgerEntry]) -> Yard:
        yard = cls(plant)
        yard.catch_up(entries)
        return yard

    def catch_up(self, entries: Iterable[ev.LedgerEntry]) -> None:
        """Apply entries committed elsewhere; they must continue this yard's ledger without a gap."""
        for entry in entries:
            if entry.seq != len(self.ledger) + 1:
                raise ValueError(f"ledger entry {entry.seq} does not follow {len(self.ledger)}")
            self._apply(entry.event)
            self.ledger.append(entry)

    def _apply(self, event: ev.Event) -> None:
        touched: list[str] = []
        match event:
            case ev.CoilReceived(coil=spec, location=loc):
                coil = Coil(
                    spec,
                    loc,
                    received_at=event.at,
                    temperature=spec.temperature,
                    temperature_at=spec.temperature_at,
                )
                self.coils[spec.id] = coil
                self.present_coils[spec.id] = coil
                self._present_coils_by_alloy.setdefault(spec.alloy, {})[spec.id] = coil
                self._put(coil, loc)
                touched.append(loc)
            case ev.IngotStackReceived(stack=spec, location=loc):
                stack = IngotStack(spec, loc, received_at=event.at)
                self.stacks[spec.id] = stack
                self.present_stacks[spec.id] = stack
                self._put(stack, loc)
                touched.append(loc)
            case ev.MovePlanned(move=mid, unit=uid, source=src, target=dst, purpose=purpose, score=score):
                self.moves[mid] = Move(mid, uid, src, dst, purpose, score=dict(score))
                self._move_seq = max(self._move_seq, int(mid[1:]))
                self._unit(uid).move = mid
                self._reserve_place(dst, mid)
                touched += [src, dst]
            case ev.MoveStarted(move=mid, unit=uid, source=src, carrier=carrier):
                unit = self._unit(uid)
                self._take(unit, src)
                self._put(unit, carrier)
                unit.status = UnitStatus.IN_TRANSIT
                move = self.moves[mid]
                move.state, move.carrier = MoveState.ACTIVE, carrier
                touched += [src, carrier]
            case ev.MoveLegCompleted(move=mid, unit=uid, carrier=carrier, location=loc):
                unit = self._unit(uid)
                self._take(unit, carrier)
                self._put(unit, loc)
                unit.status = UnitStatus.IN_STOCK
                move = self.moves[mid]
                move.state, move.carrier = MoveState.STAGED, None
                touched += [carrier, loc]
            case ev.MoveCompleted(move=mid, unit=uid, carrier=carrier, target=dst):
                unit = self._unit(uid)
                self._take(unit, carrier)
                self._put(unit, dst)
                unit.status, unit.move = UnitStatus.IN_STOCK, None
                self.locations[dst].reserved_by = None
                self._unreserve_pile(dst, mid)
                move = self.moves[mid]
                move.state, move.carrier = MoveState.DONE, None
                touched += [carrier, dst]
            case ev.MoveCancelled(move=mid, unit=uid, location=loc):
                unit = self._unit(uid)
                move = self.moves[mid]
                if unit.location != loc:
                    touched.append(unit.location)
                    self._take(unit, unit.location)
                    self._put(unit, loc)
                unit.status, unit.move = UnitStatus.IN_STOCK, None
                if self.locations[move.target].reserved_by == mid:
                    self.locations[move.target].reserved_by = None
                self._unreserve_pile(move.target, mid)
                move.state, move.carrier = MoveState.CANCELLED, None
                touched += [loc, move.target, move.source]
            case ev.HoldPlaced(unit=uid, hold=hid, kind=kind, release_at=release):
                self._unit(uid).holds[hid] = Hold(hid, kind, event.reason, event.at, release)
                if kind is HoldKind.COOLING and release is not None:
                    self._cooling_due[hid] = release
                self._hold_seq = max(self._hold_seq, int(hid[1:]))
            case ev.HoldReleased(unit=uid, hold=hid):
                del self._unit(uid).holds[hid]
                self._cooling_due.pop(hid, None)
            case ev.TemperatureMeasured(coil=cid, temperature=temperature):
                coil = self.coils[cid]
                coil.temperature, coil.temperature_at = temperature, event.at
                touched.append(coil.location)
            case ev.StockReserved(unit=uid, order=order):
                self._unit(uid).reserved_for = order
            case ev.ReservationReleased(unit=uid):
                self._unit(uid).reserved_for = None
            case ev.CountRecorded():
                if event.discrepancy:
                    self.discrepancies.append(event)
            case ev.LocationLocked(location=loc, direction=direction):
                place = self.locations[loc]
                if direction in ("in", "both"):
                    place.locked_in = event.reason
                if direction in ("out", "both"):
                    place.locked_out = event.reason
                touched.append(loc)
            case ev.LocationUnlocked(location=loc, direction=direction):
                place = self.locations[loc]
                if direction in ("in", "both"):
                    place.locked_in = None
                if direction in ("out", "both"):
                    place.locked_out = None
                touched.append(loc)
            case ev.UnitShipped(unit=uid, location=loc, shipment=sid):
                unit = self._unit(uid)
                self._take(unit, loc)
                unit.status = UnitStatus.SHIPPED
                self._gone(uid)
                if sid in self.shipments:
                    self.shipments[sid].loaded.append(uid)
                touched.append(loc)
            case ev.ShipmentPlanned(
                shipment=sid, truck=truck, dock=dock, payload=payload, coils=coils, window=window
            ):
                self.shipments[sid] = Shipment(sid, truck, dock, payload, coils, window)
            case ev.StockLevelCrossed(store=store, alloy=alloy, level=level):
                self.stock_levels[(store, alloy)] = level
            case ev.CoilConsumed(coil=cid, location=loc):
                coil = self.coils[cid]
                self._take(coil, loc)
                coil.status = UnitStatus.CONSUMED
                self._gone(cid)
                touched.append(loc)
            case ev.IngotStackConsumed(stack=sid, location=loc):
                stack = self.stacks[sid]
                self._take(stack, loc)
                stack.status = UnitStatus.CONSUMED
                self._gone(sid)
                touched.append(loc)
            case _:
                raise TypeError(f"no rule to apply {type(event).__name__}")
        for loc in dict.fromkeys(touched):
            for watcher in self._watchers:
                watcher(loc)

    def _gone(self, unit_id: str) -> None:
        """The unit left the yard (consumed or shipped): out of the indexes of present units."""
        coil = self.present_coils.pop(unit_id, None)
        if coil is not None:
            del self._present_coils_by_alloy[coil.spec.alloy][unit_id]
        self.present_stacks.pop(unit_id, None)

    def _unit(self, unit_id: str) -> Unit:
        return self.coils.get(unit_id) or self.stacks[unit_id]

    def _take(self, unit: Unit, location: str) -> None:
        place = self.locations[location]
        place.occupants.remove(unit.id)
        if place.store is not None and place.kind is not LocationKind.CARRIER:
            self.stock[(place.store, _alloy(unit))] -= 1

    def _put(self, unit: Unit, location: str) -> None:
        place = self.locations[location]
        place.occupants.append(unit.id)
        unit.location = location
        if place.store is not None and place.kind is not LocationKind.CARRIER:
            self.stock[(place.store, _alloy(unit))] += 1

    def _reserve_place(self, location: str, move: str) -> None:
        place = self.locations[location]
        if place.kind is LocationKind.STACK:
            place.inbound.append(move)  # a pile takes several moves at once, within its limits
        elif place.capacity is not None:
            place.reserved_by = move

    def _unreserve_pile(self, location: str, move: str) -> None:
        place = self.locations[location]
        if move in place.inbound:
            place.inbound.remove(move)

    def _next_move_id(self) -> str:
        return f"M{self._move_seq + 1:06d}"

    def _next_hold_id(self) -> str:
        self._hold_seq += 1
        return f"H{self._hold_seq:06d}"

    # ------------------------------------------------------------------------------------------ views

    def snapshot(self) -> dict[str, object]:
        """Everything that defines the state, as plain data (for replay checks and debugging)."""
        return {
            "coils": {
                c.id: (
                    c.location,
                    c.status,
                    c.temperature,
                    c.temperature_at,
                    sorted(c.holds),
                    c.reserved_for,
                    c.move,
                )
                for c in self.coils.values()
            },
            "stacks": {
                s.id: (s.location, s.status, sorted(s.holds), s.reserved_for, s.move)
                for s in self.stacks.values()
            },
            "locations": {
                p.id: (tuple(p.occupants), p.reserved_by, p.locked_in, p.locked_out, tuple(p.inbound))
                for p in self.locations.values()
                if p.occupants or p.reserved_by or p.locked_in or p.locked_out or p.inbound
            },
            "moves": {
                m.id: (m.unit, m.source, m.target, m.purpose, m.state, m.carrier) for m in self.moves.values()
            },
            "discrepancies": [(d.location, d.expected, d.observed) for d in self.discrepancies],
            "shipments": {s.id: (s.coils, s.dock, tuple(s.loaded)) for s in self.shipments.values()},
            "stock": {k: v for k, v in self.stock.items() if v},
            "stock_levels": dict(self.stock_levels),
        }


def _alloy(unit: Unit) -> str:
    return unit.spec.alloy


def _yard_cooling(policies: list[FlatStorePolicy]) -> tuple[CoolingModel, float]:
    """One cooling model for holds: the strictest threshold of the flat stores (cool enough for all)."""
    if not policies:
        defaults = plant_schema.StackingRules()
        return CoolingModel(
            defaults.ambient_c, defaults.cooling_time_constant_h * 3600.0
        ), defaults.hot_threshold_c
    strictest = min(policies, key=lambda p: p.rules.hot_threshold_c)
    return strictest.cooling, strictest.rules.hot_threshold_c


def _uppers_above(plant: Plant) -> dict[str, list[str]]:
    above: dict[str, list[str]] = {}
    for position in plant.saddle_positions.values():
        if position.tier is Tier.UPPER and position.supports is not None:
            for support in position.supports:
                above.setdefault(support, []).append(position.id)
    return above


def _carrier_capacities(plant: Plant) -> dict[str, float]:
    capacity = {v.id: v.vehicle_class.capacity for v in plant.vehicles.values()}
    capacity.update({crane.id: crane.safe_working_load for _, crane in plant.overhead_cranes()})
    capacity.update({s.id: s.spec.safe_working_load for s in plant.stacker_cranes.values()})
    return capacity
