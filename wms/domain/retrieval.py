"""Retrieval: get units out of their stores to a handover, relocating what rests on them.

A ground coil in a flat store is blocked by up to two upper coils resting on it (the two-tier pyramid); a
slab in an ingot store's pile (a stack position, last in first out) by every unit above it; high-bay cells
hold one unit and block nothing. Retrieving a batch of units in a
given order (a truck's loading sequence) with few relocations is the two-tier block relocation problem.

Representation. `plan_retrieval_batch` checks everything first (unknown, held, reserved, busy, locked-out
units, the destination, a legal relocation target for every blocker) on a dry run that writes nothing, and
raises a typed error if anything is wrong. Only then does it record moves in the yard. The yard refuses to
plan a move for a blocked unit, so a `RetrievalPlan` is an ordered list of `Step`s, each PENDING (not in the
yard yet) or PLANNED (a yard move, whose progress is the move's state). The first call plans every step that
can be planned at once: the relocations of the blockers, and the retrievals of units nothing rests on. The
retrieval of a blocked unit stays pending until its blockers have been lifted (their moves started);
`RetrievalPlan.advance(yard, at=...)` plans whatever has become ready. Call it after each move starts or
completes. Retrievals are planned in the plan's sequence, so move ids follow the order in which units reach
the destination. Steps are executed in list order: every step comes after the steps it waits for.

Heuristic (greedy with lookahead over the whole batch):

1. Units are taken in the requested order. For each one, the coils resting on it are cleared first:
   * a blocker that is itself a later unit of the batch is retrieved now, ahead of its turn (it goes to the
     destination anyway: no relocation instead of one). With `strict_order=True` the units must reach the
     destination exactly in the requested order, so such a blocker is relocated and retrieved at its turn;
   * a blocker that is already on its way out (a move of its own) is left alone, and the retrieval waits;
   * any other blocker is relocated.
2. A relocation target is a legal place (no hard rule broken) in the blocker's store. Lookahead: it never
   rests on a unit the plan moves (the unit being retrieved, any unit of the batch, any blocker), so
   nothing relocated is relocated twice. Among those, in order of importance: fewest supports holding coils
   wanted earlier than the relocated coil (due earlier, or reserved for an order), so ground positions and
   upper positions over later coils come first; then the same bay as the blocker; then the shortest crane
   travel (straight-line distance); then the position id. A place the plan empties (the ground position
   of a unit retrieved earlier in the batch) is a candidate too; its relocation is planned once the move
   emptying it has started.

Because relocated coils never go onto units of the plan, every coil is relocated at most once, and only
the coils that must move are moved: the coils resting on batch units that are not in the batch (plus, with
`strict_order`, batch units resting on a batch unit that comes before them). That is the lower bound for
the two-tier case, so the greedy is optimal in relocations whenever the store has room; the soft rules
then keep the relocations from burying coils that leave before them.

A plan lives in memory. Planning the same units again later is safe: a blocker whose relocation is
already planned counts as on its way out, so only the steps still missing are added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from layout import schema as plant_schema
from wms.domain.errors import (
    Blocked,
    InvalidInput,
    LocationLocked,
    NoPlaceFound,
    StackingRuleViolated,
    UnitBusy,
    WmsError,
)
from wms.domain.locations import Location, LocationKind
from wms.domain.stacking import placement_violations
from wms.domain.units import Coil, IngotStack, Unit, UnitStatus
from wms.domain.yard import Move, MoveState, Yard

RELOCATION = "relocation"
RETRIEVAL = "retrieval"
STORE_KINDS = frozenset({LocationKind.SADDLE, LocationKind.CELL, LocationKind.STACK})
_STARTED = frozenset({MoveState.ACTIVE, MoveState.STAGED, MoveState.DONE})
_OCCUPIED = "location occupied"  # the rule of stacking.placement_violations for a full place

Policy = Literal["fifo", "due"]


class NotEnoughStock(WmsError):
    def __init__(self, wanted: int, found: list[str], criteria: str) -> None:
        super().__init__(f"{wanted} coils wanted, {len(found)} available matching {criteria}")
        self.wanted = wanted
        self.found = found


class StepState(StrEnum):
    PENDING = "pending"  # not in the yard yet: waits for the steps in `after`, or for its unit to be free
    PLANNED = "planned"  # a yard move exists (`move`); its progress is the move's state
    SKIPPED = "skipped"  # no longer needed (the blocker left by another move before it was planned)


@dataclass(slots=True)
class Step:
    id: int
    unit: str
    purpose: str  # "relocation" or "retrieval"
    source: str
    target: str  # a relocation's chosen place (checked again, and re-chosen if taken, when planned)
    serves: str  # the unit this step gets out: a relocation's blocked unit, a retrieval's own unit
    after: tuple[int, ...] = ()  # ids of the steps whose moves must have started before this one is planned
    score: dict[str, float] = field(default_factory=dict)
    state: StepState = StepState.PENDING
    move: str | None = None


@dataclass(slots=True)
class RetrievalPlan:
    """The steps that bring `units` to `destination`, in execution order. See the module doc."""

    units: tuple[str, ...]  # as requested
    destination: str
    order: str | None
    actor: str
    strict_order: bool
    steps: list[Step]

    @property
    def sequence(self) -> list[str]:
        """Units in the order they reach the destination."""
        return [s.unit for s in self.steps if s.purpose == RETRIEVAL]

    @property
    def relocations(self) -> int:
        return sum(1 for s in self.steps if s.purpose == RELOCATION and s.state is not StepState.SKIPPED)

    @property
    def pending(self) -> list[Step]:
        return [s for s in self.steps if s.state is StepState.PENDING]

    @property
    def moves(self) -> list[str]:
        """Ids of the yard moves planned so far, in step order."""
        return [s.move for s in self.steps if s.move is not None]

    def step(self, step_id: int) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def is_complete(self, yard: Yard) -> bool:
        return all(
            s.state is StepState.SKIPPED
            or (s.move is not None and yard.moves[s.move].state is MoveState.DONE)
            for s in self.steps
        )

    def advance(self, yard: Yard, *, at: float, actor: str | None = None) -> list[Move]:
        """Plan every pending step that has become ready; returns the moves planned now.

        Ready: the steps it waits for have started, its unit is idle and nothing rests on it, and (for a
        retrieval) every earlier retrieval is planned. A relocation whose chosen place was taken meanwhile
        gets a new one; a coil put onto a pending unit since planning gets a relocation step; a pending
        relocation whose coil was taken away by another move is skipped; a move of the plan that was
        cancelled is planned again. Everything is decided before anything is recorded; a unit of the batch
        that was put on hold or reserved for another order since planning raises OnHold or Reserved.
        Call it after each move of the plan starts or completes.
        """
        who = actor or self.actor
        self._refresh(yard)
        decided: list[tuple[Step, str, dict[str, float]]] = []
        claimed: set[str] = set()
        moving = self._moving_units(yard)
        retrievals_open = True
        for step in self.steps:
            if step.state is not StepState.PENDING:
                continue
            ready = self._ready(yard, step, at)
            if step.purpose == RETRIEVAL:
                if not (ready and retrievals_open):
                    retrievals_open = False
                    continue
                yard.check_available(yard.unit(step.unit), self.order)  # a hold placed since planning
                decided.append((step, self.destination, dict(step.score)))
                continue
            if not ready:
                continue
            unit = yard.unit(step.unit)
            target, score = step.target, dict(step.score)
            # places chosen for this round, and for other pending relocations (waiting for a place to empty)
            taken = claimed | {
                s.target for s in self.pending if s.purpose == RELOCATION and s is not step and s.after
            }
            if not self._still_fine(yard, unit, target, at, moving=moving, claimed=taken):
                target, _, score = _choose_target(
                    yard, unit, unit.location, at, avoid=moving, claimed=taken, freed={}, lifted=set()
                )
            claimed.add(target)
            decided.append((step, target, score))
        planned: list[Move] = []
        for step, target, score in decided:
            unit = yard.unit(step.unit)
            move = yard.plan_move(
                step.unit,
                target,
                at=at,
                actor=who,
                purpose=step.purpose,
                order=self.order if step.purpose == RETRIEVAL else None,
                score=score,
                reason=self._reason(step),
            )
            step.source, step.target, step.score = unit.location, target, score
            step.move, step.state = move.id, StepState.PLANNED
            planned.append(move)
        return planned

    def cancel(self, yard: Yard, *, at: float, reason: str, actor: str | None = None) -> list[str]:
        """Cancel the plan's moves that have not started (latest first); returns their ids.

        Their steps become pending again: drop the plan to abandon it, or `advance` it to plan them anew.
        Moves already started are left to finish (the yard needs a place to set their units down).
        """
        cancelled: list[str] = []
        for step in reversed(self.steps):
            if step.move is not None and yard.moves[step.move].state is MoveState.PLANNED:
                yard.cancel_move(step.move, at=at, actor=actor or self.actor, reason=reason)
                cancelled.append(step.move)
                step.move, step.state = None, StepState.PENDING
        return cancelled

    def describe(self) -> dict[str, Any]:
        """The plan as plain data (for the service layer's JSON results)."""
        return {
            "units": list(self.units),
            "destination": self.destination,
            "order": self.order,
            "strict_order": self.strict_order,
            "sequence": self.sequence,
            "relocations": self.relocations,
            "steps": [
                {
                    "step": s.id,
                    "unit": s.unit,
                    "purpose": s.purpose,
                    "source": s.source,
                    "target": s.target,
                    "serves": s.serves,
                    "after": list(s.after),
                    "state": str(s.state),
                    "move": s.move,
                    "score": dict(s.score),
                }
                for s in self.steps
            ],
        }

    # -------------------------------------------------------------------------------------- internals

    def _reason(self, step: Step) -> str:
        if step.purpose == RELOCATION:
            return f"unblocks {step.serves} for retrieval to {self.destination}"
        k = self.sequence.index(step.unit) + 1
        return f"retrieval {k} of {len(self.units)} to {self.destination}" + (
            f" for order {self.order}" if self.order else ""
        )

    def _started(self, yard: Yard, step_id: int) -> bool:
        step = self.step(step_id)
        if step.state is StepState.SKIPPED:
            return True
        return step.move is not None and yard.moves[step.move].state in _STARTED

    def _moving_units(self, yard: Yard) -> set[str]:
        """Units the plan still has to move: nothing may be put on them."""
        return {
            s.unit
            for s in self.steps
            if s.state is StepState.PENDING
            or (s.move is not None and yard.moves[s.move].state is not MoveState.DONE)
        }

    def _refresh(self, yard: Yard) -> None:
        """Take in what happened in the yard: cancelled moves, blockers that left or arrived."""
        for step in self.steps:
            if step.move is not None and yard.moves[step.move].state is MoveState.CANCELLED:
                step.move, step.state = None, StepState.PENDING
        for step in list(self.steps):
            if step.state is not StepState.PENDING:
                continue
            unit = yard.unit(step.unit)
            if step.purpose == RELOCATION and unit.move is None and not _rests_on(yard, unit, step.serves):
                step.state = StepState.SKIPPED
        for step in list(self.steps):
            if step.state is StepState.PENDING:
                self._relocate_newcomers(yard, step)

    def _relocate_newcomers(self, yard: Yard, step: Step) -> None:
        """Add relocation steps for idle coils that came to rest on a pending step's unit after planning."""
        handled = self._moving_units(yard)
        unit = yard.unit(step.unit)
        for occupant in yard.resting_on(unit):  # a pile's units top first: each waits for the one above
            if occupant in handled or yard.unit(occupant).move is not None:
                continue
            where = yard.unit(occupant).location
            new = Step(
                self._next_id(),
                occupant,
                RELOCATION,
                where,
                where,  # chosen when planned (advance sees the place as not fine and picks one)
                step.unit,
            )
            self.steps.insert(self.steps.index(step), new)
            step.after = (*step.after, new.id)
            handled.add(occupant)

    def _next_id(self) -> int:
        return max((s.id for s in self.steps), default=-1) + 1

    def _ready(self, yard: Yard, step: Step, at: float) -> bool:
        if not all(self._started(yard, a) for a in step.after):
            return False
        unit = yard.unit(step.unit)
        if unit.status is not UnitStatus.IN_STOCK or unit.move is not None:
            return False
        if yard.locations[unit.location].locked_out is not None or yard.blockers(unit):
            return False
        if step.purpose == RETRIEVAL:
            return not placement_violations(yard, unit, yard.locations[self.destination], at)
        return True

    @staticmethod
    def _still_fine(
        yard: Yard, unit: Unit, target: str, at: float, *, moving: set[str], claimed: set[str]
    ) -> bool:
        if target in claimed or target == unit.location:
            return False
        place = yard.locations[target]
        return not _rests_on_any(yard, target, moving) and not placement_violations(yard, unit, place, at)


# ------------------------------------------------------------------------------------------ planning


def plan_retrieval(
    yard: Yard, coil_id: str, destination: str, *, at: float, actor: str, order: str | None = None
) -> RetrievalPlan:
    """Plan getting one unit to `destination` (a handover): relocations of its blockers, then the pick."""
    return plan_retrieval_batch(yard, [coil_id], destination, at=at, actor=actor, order=order)


def plan_retrieval_batch(
    yard: Yard,
    coil_ids: Sequence[str],
    destination: str,
    *,
    at: float,
    actor: str,
    order: str | None = None,
    strict_order: bool = False,
) -> RetrievalPlan:
    """Plan getting `coil_ids` to `destination` in that order with few relocations (see the module doc).

    Raises (and records nothing): UnknownCoil, UnitBusy, OnHold, Reserved, LocationLocked, Blocked (a move
    is planned onto a unit's top), StackingRuleViolated (the destination refuses a unit), NoPlaceFound (no
    legal relocation target), InvalidInput (empty or repeated ids, destination not a handover).
    """
    units = list(coil_ids)
    if not units:
        raise InvalidInput("a retrieval needs at least one coil")
    repeated = sorted({u for u in units if units.count(u) > 1})
    if repeated:
        raise InvalidInput(f"coils named twice in one retrieval: {', '.join(repeated)}")
    place = yard.location(destination)
    if place.kind is not LocationKind.HANDOVER:
        raise InvalidInput(f"a retrieval ends at a handover; '{destination}' is a {place.kind}")
    for unit_id in units:
        _check_retrievable(yard, unit_id, place, order, at)
    steps = _Dry(yard, units, place.id, at, strict_order).run()
    plan = RetrievalPlan(tuple(units), place.id, order, actor, strict_order, steps)
    plan.advance(yard, at=at)
    return plan


def _check_retrievable(yard: Yard, unit_id: str, destination: Location, order: str | None, at: float) -> Unit:
    unit: Unit | None = yard.stacks.get(unit_id)
    if unit is None:
        unit = yard.coil(unit_id)
    if unit.move is not None:
        raise UnitBusy(unit.id, unit.move)
    if unit.status is not UnitStatus.IN_STOCK:
        raise InvalidInput(f"'{unit.id}' is {unit.status}; only units in stock can be retrieved")
    yard.check_available(unit, order)
    if unit.location == destination.id:
        raise InvalidInput(f"'{unit.id}' is already at '{destination.id}'")
    _check_takeable(yard, unit)
    violations = placement_violations(yard, unit, destination, at)
    if violations:
        raise StackingRuleViolated(unit.id, destination.id, violations)
    return unit


def _check_takeable(yard: Yard, unit: Unit) -> None:
    """Refuse a unit whose place is locked for taking out, or onto which a move is planned."""
    place = yard.locations[unit.location]
    if place.locked_out is not None:
        raise LocationLocked(place.id, "taking out", place.locked_out)
    if place.inbound or any(yard.locations[u].reserved_by is not None for u in yard.uppers_above(place.id)):
        raise Blocked(unit.id, yard.blockers(unit))


class _Dry:
    """The dry run: decides every step and target on the yard as it is, recording nothing."""

    def __init__(self, yard: Yard, units: list[str], destination: str, at: float, strict: bool) -> None:
        self.yard, self.destination, self.at, self.strict = yard, destination, at, strict
        self.batch = units
        self.steps: list[Step] = []
        self.retrieved: dict[str, int] = {}  # unit -> its retrieval step
        self.lifted: dict[str, int] = {}  # unit -> the step that takes it from its place in the yard now
        self.relocated_to: dict[str, str] = {}
        self.freed: dict[str, int] = {}  # place the plan empties -> the step emptying it
        self.claimed: set[str] = set()  # places the plan fills
        self.avoid = _pile(yard, units)  # units the plan may move: nothing goes on them

    def run(self) -> list[Step]:
        for unit in self.batch:
            self._retrieve(unit)
        return self.steps

    def _where(self, unit: str) -> str:
        return self.relocated_to.get(unit) or self.yard.unit(unit).location

    def _add(self, step: Step) -> int:
        self.steps.append(step)
        return step.id

    def _clear(self, unit: str) -> list[int]:
        """Decide the steps taking away what rests on `unit`; return their ids."""
        if unit in self.relocated_to:
            return []  # relocated by this plan: nothing of the plan goes on top of it
        waits: list[int] = []
        for blocker in self.yard.resting_on(self.yard.unit(unit)):  # a pile's units top first
            if blocker in self.lifted:
                waits.append(self.lifted[blocker])
            elif self.yard.unit(blocker).move is not None:
                continue  # already on its way out; the retrieval waits for it (checked when planned)
            elif blocker in self.batch and not self.strict:
                waits.append(self._retrieve(blocker))
            else:
                waits.append(self._relocate(blocker, unit))
        return waits

    def _retrieve(self, unit: str) -> int:
        if unit in self.retrieved:
            return self.retrieved[unit]
        waits = self._clear(unit)
        source = self._where(unit)
        step = Step(len(self.steps), unit, RETRIEVAL, source, self.destination, unit, tuple(waits))
        step.score = {"sequence": float(len(self.retrieved) + 1)}
        self.retrieved[unit] = step.id
        if unit not in self.lifted:
            self.lifted[unit] = step.id
            self.freed[source] = step.id
        return self._add(step)

    def _relocate(self, unit: str, serves: str) -> int:
        blocker = self.yard.unit(unit)
        _check_takeable(self.yard, blocker)
        waits = self._clear(unit)
        source = blocker.location
        target, after, score = _choose_target(
            self.yard,
            blocker,
            source,
            self.at,
            avoid=self.avoid,
            claimed=self.claimed,
            freed=self.freed,
            lifted=set(self.lifted),
        )
        step = Step(len(self.steps), unit, RELOCATION, source, target, serves, (*waits, *after), score)
        self.claimed.add(target)
        self.lifted[unit] = step.id
        self.freed[source] = step.id
        self.relocated_to[unit] = target
        return self._add(step)


def _pile(yard: Yard, units: Iterable[str]) -> set[str]:
    """`units` and everything resting on them, directly or not."""
    seen = set(units)
    frontier = list(seen)
    while frontier:
        unit = yard.unit(frontier.pop())
        for occupant in yard.resting_on(unit):
            if occupant not in seen:
                seen.add(occupant)
                frontier.append(occupant)
    return seen


def _rests_on(yard: Yard, unit: Unit, below: str) -> bool:
    """Whether `unit` rests on `below` (an upper position over its place, or higher in its pile)."""
    return unit.id in yard.resting_on(yard.unit(below))


def _supports(yard: Yard, place: str) -> tuple[str, ...]:
    position = yard.plant.saddle_positions.get(place)
    return position.supports if position is not None and position.supports is not None else ()


def _beneath(yard: Yard, place: str) -> list[str]:
    """The units a unit put at `place` would rest on: its supports' coils, or the pile there."""
    location = yard.locations[place]
    if location.kind is LocationKind.STACK:
        return list(location.occupants)
    return [o for s in _supports(yard, place) for o in yard.locations[s].occupants]


def _rests_on_any(yard: Yard, place: str, units: set[str]) -> bool:
    return any(o in units for o in _beneath(yard, place))


# ------------------------------------------------------------------------------------------ relocation targets


def _candidates(yard: Yard, unit: Unit, store: str, at: float) -> list[str]:
    """Every place of `store` where `unit` may go now: no hard rule of `placement_violations` broken.

    Enumerated in Python, one place at a time: fine for test yards and small stores. This is the one
    function to switch to the vectorised putaway index (wms/domain/putaway.py), which answers the same
    question for a whole store at once; the rest of this module only filters and ranks what it returns.
    """
    return [
        place.id
        for place in yard.locations.values()
        if place.store == store
        and place.kind in STORE_KINDS
        and place.id != unit.location
        and not placement_violations(yard, unit, place, at)
    ]


def _choose_target(
    yard: Yard,
    unit: Unit,
    source: str,
    at: float,
    *,
    avoid: set[str],
    claimed: set[str],
    freed: dict[str, int],
    lifted: set[str],
) -> tuple[str, tuple[int, ...], dict[str, float]]:
    """The best legal relocation target for `unit` at `source`: (place, steps it waits for, score).

    `avoid`: units nothing may be put on; `claimed`: places already taken by the plan; `freed`: places the
    plan empties (by step), usable once that step has started, if only units in `lifted` occupy them now.
    """
    store = yard.locations[source].store
    if store is None:
        raise NoPlaceFound(unit.id, "-", f"'{source}' belongs to no store")
    options: dict[str, tuple[int, ...]] = {
        place: () for place in _candidates(yard, unit, store, at) if place not in claimed
    }
    for place, step_id in freed.items():
        location = yard.locations[place]
        if (
            place in options
            or place in claimed
            or place == source
            or location.store != store
            or location.kind not in STORE_KINDS
            or not set(location.occupants) <= lifted
        ):
            continue
        violations = placement_violations(yard, unit, location, at)
        if all(v.rule == _OCCUPIED for v in violations):
            options[place] = (step_id,)
    ranked = sorted(
        (_target_key(yard, unit, source, place), place)
        for place in options
        if not _rests_on_any(yard, place, avoid)
    )
    if not ranked:
        raise NoPlaceFound(
            unit.id, store, "every legal place rests on a coil being retrieved, or none is left"
        )
    (burial, other_bay, travel), place = ranked[0]
    return place, options[place], {"burial": float(burial), "other_bay": float(other_bay), "travel_m": travel}


def _target_key(yard: Yard, unit: Unit, source: str, place: str) -> tuple[int, int, float]:
    burial = sum(1 for occupant in _beneath(yard, place) if _wanted_before(yard.unit(occupant), unit))
    here, there = _xy(yard, source), _xy(yard, place)
    travel = math.dist(here, there) if here is not None and there is not None else math.inf
    other_bay = int(_bay(yard, source) != _bay(yard, place))
    return burial, other_bay, round(travel, 6)


def _wanted_before(below: Unit, unit: Unit) -> bool:
    """Whether `below` is wanted before `unit` leaves: requested (reserved for an order) or due earlier;
    slabs leave first in, first out, so an older slab of another cast is wanted earlier."""
    if below.reserved_for is not None:
        return True
    if isinstance(below, IngotStack) and isinstance(unit, IngotStack):
        return below.received_at < unit.received_at and below.spec.cast_lot != unit.spec.cast_lot
    due_below, due_unit = _due(below), _due(unit)
    if due_below is None:
        return False
    return due_unit is None or due_below < due_unit


def _due(unit: Unit) -> float | None:
    return unit.spec.due if isinstance(unit, Coil) else None


def _xy(yard: Yard, place: str) -> tuple[float, float] | None:
    plant = yard.plant
    found = (
        plant.saddle_positions.get(place) or plant.stack_positions.get(place) or plant.rack_cells.get(place)
    )
    return (found.x, found.y) if found is not None else None


def _bay(yard: Yard, place: str) -> str | None:
    plant = yard.plant
    if place in plant.saddle_positions:
        return plant.saddle_positions[place].bay
    if place in plant.stack_positions:
        return plant.stack_positions[place].bay
    if place in plant.rack_cells:
        return f"aisle {plant.rack_cells[place].aisle}"
    return None


# ------------------------------------------------------------------------------------------ selection


def select_by_criteria(
    yard: Yard,
    *,
    alloy: str | None = None,
    temper: str | None = None,
    customer: str | None = None,
    order: str | None = None,
    store: str | None = None,
    policy: Policy = "fifo",
    count: int = 1,
    at: float,
) -> list[str]:
    """Up to `count` coils in stock that match and can be handed out now, best first.

    In an ingot store (`store` names one) the same is done for its slabs and ingot stacks: they match on
    `alloy` (and `order`); a temper or customer filter matches none. Elsewhere only coils are chosen.
    A coil matches when its alloy, temper and customer equal the ones given, it lies in a store (`store`
    if given; not at a handover or on a carrier) and, with `order`, it belongs to that order (made for it,
    `spec.order`, or reserved for it). It can be handed out when it has no hold, is not reserved for another
    order, is not being moved, has nothing being put on top of it, its place is not locked for taking out,
    and it was received by `at`. Ranked by `policy`: "fifo" by time received, "due" by due time (coils
    without one last); ties go to the coil with fewer blockers, then the earlier received, then the id.
    """
    if count < 1:
        raise InvalidInput(f"count must be at least 1 (got {count})")
    if policy not in ("fifo", "due"):
        raise InvalidInput(f"policy must be 'fifo' or 'due' (got {policy!r})")
    found: list[tuple[tuple[float, float, int, float, str], str]] = []
    for unit, unit_order, due in _matching(yard, alloy, temper, customer, store):
        # Cheapest tests first (most units fail on a hold, a move or a reservation); the order of the tests
        # does not change the answer.
        if (
            unit.holds
            or unit.move is not None
            or unit.status is not UnitStatus.IN_STOCK
            or (unit.reserved_for is not None and unit.reserved_for != order)
            or unit.received_at > at
            or (order is not None and order not in (unit_order, unit.reserved_for))
        ):
            continue
        place = yard.locations[unit.location]
        if (
            place.kind not in STORE_KINDS
            or (store is not None and place.store != store)
            or place.locked_out is not None
            or place.inbound
            or any(yard.locations[u].reserved_by is not None for u in yard.uppers_above(place.id))
        ):
            continue
        if policy == "fifo":
            first = (unit.received_at, 0.0)
        elif due is not None:
            first = (0.0, due)
        else:
            first = (1.0, 0.0)
        found.append(((*first, len(yard.blockers(unit)), unit.received_at, unit.id), unit.id))
    found.sort()
    return [unit_id for _, unit_id in found[:count]]


def _matching(
    yard: Yard, alloy: str | None, temper: str | None, customer: str | None, store: str | None
) -> list[tuple[Unit, str, float | None]]:
    """Units matching the attribute filters, with their order and due time: slabs and ingot stacks when
    `store` is an ingot store, else coils. Consumed and shipped units are never in stock: not looked at."""
    if store is not None and any(
        s.id == store and isinstance(s, plant_schema.IngotStore) for s in yard.plant.stores
    ):
        if temper is not None or customer is not None:
            return []
        return [
            (stack, "", None)
            for stack in yard.present_stacks.values()
            if alloy is None or stack.spec.alloy == alloy
        ]
    return [
        (coil, coil.spec.order, coil.spec.due)
        for coil in yard.present_coils_of(alloy)
        if (alloy is None or coil.spec.alloy == alloy)
        and (temper is None or coil.spec.temper == temper)
        and (customer is None or coil.spec.customer == customer)
    ]


def plan_retrieval_by_criteria(
    yard: Yard,
    destination: str,
    *,
    alloy: str | None = None,
    temper: str | None = None,
    customer: str | None = None,
    order: str | None = None,
    store: str | None = None,
    policy: Policy = "fifo",
    count: int = 1,
    at: float,
    actor: str,
    strict_order: bool = False,
) -> RetrievalPlan:
    """Select `count` coils (`select_by_criteria`) and plan their retrieval in that order.

    Raises NotEnoughStock, recording nothing, when fewer than `count` coils match.
    """
    chosen = select_by_criteria(
        yard,
        alloy=alloy,
        temper=temper,
        customer=customer,
        order=order,
        store=store,
        policy=policy,
        count=count,
        at=at,
    )
    if len(chosen) < count:
        criteria = {
            "alloy": alloy,
            "temper": temper,
            "customer": customer,
            "order": order,
            "store": store,
        }
        named = ", ".join(f"{k}={v}" for k, v in criteria.items() if v is not None) or "any coil"
        raise NotEnoughStock(count, chosen, named)
    return plan_retrieval_batch(
        yard, chosen, destination, at=at, actor=actor, order=order, strict_order=strict_order
    )
