"""Putaway into ingot (slab) stores: the best pile for a slab or ingot stack.

A stack position holds a pile, last in first out (`stacking._stack_violations` has the hard rules: the
pile's height and weight with the units bound for it, one alloy and one slab format per pile, nothing put
on a pile being emptied). A unit heavier than the weakest crane of a bay can go to no pile of that bay.

Among the legal piles the lowest soft score wins (points of about one metre of crane travel with a 20 t
slab, `IngotPutawayWeights`):

* ``travel``: metres the crane carries the unit from where it enters the bay (the given `origin`, else the
  bay handover nearest to the unit) to the pile, times its weight over the reference weight;
* ``bury``: per unit of the pile (or bound for it) that is wanted before this one: reserved for an order,
  or of another cast and received earlier (slabs leave first in, first out, so they would have to be dug
  out);
* ``campaign``: minus `same_cast` per unit of the same cast lot on the pile or bound for it (a drop of a
  casting pit fills its own piles, which then leave together without relocations);
* ``open``: `open_pile` for an empty pile, so partly filled piles of the same cast come first.

The order of the defaults: opening a pile (20) costs less than burying one older slab (60), so a new cast
opens new piles while there are empty ones; joining its own cast's pile (-10 per slab) beats opening a
new one up to 30 m of extra travel. Ties go to the first position in layout order. The evaluation is a
Python loop over the store's positions (a slab store has tens to a few hundred), not an index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from layout import schema as plant_schema
from wms.domain.errors import InvalidInput, NoPlaceFound
from wms.domain.locations import LocationKind
from wms.domain.stacking import TOLERANCE, pile_units, placement_violations
from wms.domain.units import IngotStack, UnitStatus
from wms.domain.yard import Yard

SCORE_RULES = ("travel", "bury", "campaign", "open")


@dataclass(frozen=True, slots=True)
class IngotPutawayWeights:
    travel_per_m: float = 1.0  # per metre of crane travel, for a unit of `reference_weight_t`
    reference_weight_t: float = 20.0
    bury: float = 60.0  # per unit below that is wanted earlier
    same_cast: float = 10.0  # bonus per unit of the same cast lot on the pile
    open_pile: float = 20.0  # an empty pile


DEFAULT_INGOT_WEIGHTS = IngotPutawayWeights()


@dataclass(frozen=True, slots=True)
class PileChoice:
    location: str
    total: float
    breakdown: dict[str, float]


def rank_piles(
    yard: Yard,
    stack_id: str,
    store: plant_schema.IngotStore,
    *,
    at: float,
    origin: tuple[float, float] | str | None = None,
    exclude: Iterable[str] = (),
    weights: IngotPutawayWeights = DEFAULT_INGOT_WEIGHTS,
) -> list[PileChoice]:
    """Every legal pile of `store` for the unit, best first (ties in layout order).

    Raises InvalidInput (not an ingot stack, or one that left) and NoPlaceFound (no legal pile, with why).
    """
    unit = yard.unit(stack_id)
    if not isinstance(unit, IngotStack):
        raise InvalidInput(f"'{stack_id}' is a coil; ingot stores take slabs and ingot stacks")
    if unit.status not in (UnitStatus.IN_STOCK, UnitStatus.IN_TRANSIT):
        raise InvalidInput(f"'{stack_id}' is {unit.status}; only units in the yard are put away")
    swl = _crane_swl_by_bay(store)
    skip = set(exclude)
    here = _where(yard, unit.location)
    entries = _bay_entries(yard, store)
    choices: list[PileChoice] = []
    refusals: dict[str, int] = {}
    for position in (p for p in yard.plant.stack_positions.values() if p.store == store.id):
        if position.id in skip or position.id == unit.location:
            continue
        limit = swl.get(position.bay)
        if limit is None or unit.weight > limit + TOLERANCE:
            refusals["crane safe working load"] = refusals.get("crane safe working load", 0) + 1
            continue
        place = yard.locations[position.id]
        violations = placement_violations(yard, unit, place, at)
        if violations:
            for v in violations:
                refusals[v.rule] = refusals.get(v.rule, 0) + 1
            continue
        start = _entry(yard, origin, here, entries.get(position.bay, []), (position.x, position.y))
        travel = math.dist(start, (position.x, position.y)) if start is not None else 0.0
        pile = pile_units(yard, place, but=unit.id)
        breakdown = {
            "travel": round(travel * weights.travel_per_m * unit.weight / weights.reference_weight_t, 6),
            "bury": weights.bury * sum(1 for below in pile if _wanted_before(below, unit)),
            "campaign": -weights.same_cast
            * sum(1 for u in pile if unit.spec.cast_lot and u.spec.cast_lot == unit.spec.cast_lot),
            "open": weights.open_pile if not pile else 0.0,
        }
        choices.append(PileChoice(position.id, round(sum(breakdown.values()), 6), breakdown))
    if not choices:
        why = ", ".join(f"{rule} ({n})" for rule, n in sorted(refusals.items())) or "the store has no piles"
        raise NoPlaceFound(stack_id, store.id, f"no legal pile: {why}")
    order = {pid: i for i, pid in enumerate(yard.plant.stack_positions)}
    choices.sort(key=lambda c: (c.total, order[c.location]))
    return choices


def _wanted_before(below: IngotStack, unit: IngotStack) -> bool:
    if below.reserved_for is not None:
        return True
    return below.received_at < unit.received_at and below.spec.cast_lot != unit.spec.cast_lot


def _crane_swl_by_bay(store: plant_schema.IngotStore) -> dict[str, float]:
    swl: dict[str, float] = {}
    for crane in store.cranes:
        for bay in crane.bays:
            swl[bay] = min(swl.get(bay, crane.safe_working_load), crane.safe_working_load)
    return swl


def _bay_entries(yard: Yard, store: plant_schema.IngotStore) -> dict[str, list[tuple[float, float]]]:
    points = yard.plant.node_points
    return {
        bay.id: [
            (float(points[h.node][0]), float(points[h.node][1])) for h in bay.handovers if h.node in points
        ]
        for bay in store.bays
    }


def _where(yard: Yard, location: str) -> tuple[float, float] | None:
    """Coordinates of a unit's place: a network node (handover) or a stack position; None for a carrier."""
    place = yard.locations.get(location)
    if place is not None and place.kind is LocationKind.STACK:
        position = yard.plant.stack_positions[location]
        return (position.x, position.y)
    point = yard.plant.node_points.get(location)
    return (float(point[0]), float(point[1])) if point is not None else None


def _entry(
    yard: Yard,
    origin: tuple[float, float] | str | None,
    here: tuple[float, float] | None,
    handovers: list[tuple[float, float]],
    position: tuple[float, float],
) -> tuple[float, float] | None:
    """Where the crane picks the unit up: the origin given, else the bay handover nearest to the unit."""
    if isinstance(origin, str):
        return _where(yard, origin)
    if origin is not None:
        return origin
    if not handovers:
        return here
    reference = here if here is not None else position
    return min(handovers, key=lambda h: (math.dist(h, reference), h))
