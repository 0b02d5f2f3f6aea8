"""Placement rules: may this unit go to that place now? Hard rules only; soft preferences live in putaway.

Each rule yields a `Violation` naming itself, so a refusal tells the operator exactly which rule and why.
The putaway index evaluates the same rules over whole stores at once (vectorised); a property test keeps
the two readings in agreement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layout import schema as plant_schema
from layout.model import SaddlePosition, Tier
from wms.domain.errors import Violation
from wms.domain.locations import Location, LocationKind
from wms.domain.units import Coil, CoolingModel, IngotStack, IngotStackSpec, Packaging, Unit

if TYPE_CHECKING:
    from wms.domain.yard import Yard

TOLERANCE = 1e-9
FORMAT_TOLERANCE_M = 0.1  # slabs on one pile differ at most this much in width and in length


@dataclass(frozen=True, slots=True)
class FlatStorePolicy:
    """The stacking rules of one flat store, with what the layout says about its cranes."""

    rules: plant_schema.StackingRules
    cooling: CoolingModel
    crane_swl_by_bay: dict[str, float]  # the weakest crane serving each bay; a bay without cranes is absent

    def is_hot(self, coil: Coil, now: float) -> bool:
        return self.cooling.is_above(coil.temperature, coil.temperature_at, now, self.rules.hot_threshold_c)

    def carries_nothing(self, coil: Coil, now: float) -> str | None:
        """Why nothing may rest on this coil, or None."""
        if coil.spec.packaging is Packaging.SKID:
            return "skid-packed"
        if coil.spec.gauge < self.rules.thin_gauge_mm:
            return f"thin gauge {coil.spec.gauge:g} mm < {self.rules.thin_gauge_mm:g} mm"
        if self.is_hot(coil, now):
            return "hot"
        return None


def flat_store_policy(store: plant_schema.FlatStore) -> FlatStorePolicy:
    swl: dict[str, float] = {}
    for crane in store.cranes:
        for bay in crane.bays:
            swl[bay] = min(swl.get(bay, crane.safe_working_load), crane.safe_working_load)
    rules = store.stacking
    return FlatStorePolicy(rules, CoolingModel(rules.ambient_c, rules.cooling_time_constant_h * 3600.0), swl)


def placement_violations(
    yard: Yard, unit: Unit, location: Location, now: float, move: str | None = None
) -> list[Violation]:
    """Every hard rule `unit` would break at `location` at time `now` (empty when it may go there).

    `move` is the move bringing it, whose own reservation of the place does not count against it.
    """
    return list(_violations(yard, unit, location, now, move))


def _violations(
    yard: Yard, unit: Unit, location: Location, now: float, move: str | None
) -> Iterator[Violation]:
    if location.locked_in is not None:
        yield Violation("location locked", f"'{location.id}' is locked for putting in: {location.locked_in}")
    if location.reserved_by is not None and location.reserved_by != move:
        yield Violation("location reserved", f"'{location.id}' is reserved for move {location.reserved_by}")
    if location.is_full and unit.id not in location.occupants:
        yield Violation("location occupied", f"'{location.id}' holds {', '.join(location.occupants)}")
    if location.kind is LocationKind.SADDLE:
        yield from _saddle_violations(yard, unit, yard.plant.saddle_positions[location.id], now)
    elif location.kind is LocationKind.CELL:
        yield from _cell_violations(yard, unit, location, now)
    elif location.kind is LocationKind.STACK:
        yield from _stack_violations(yard, unit, location, move)
    elif location.kind is LocationKind.CARRIER:
        capacity = yard.carrier_capacity_t(location.id)
        if unit.weight > capacity + TOLERANCE:
            yield Violation(
                "carrier capacity",
                f"{unit.weight:g} t is more than '{location.id}' can carry ({capacity:g} t)",
            )


def _saddle_violations(yard: Yard, unit: Unit, position: SaddlePosition, now: float) -> Iterator[Violation]:
    if not isinstance(unit, Coil):
        yield Violation("unit kind", "only coils go on saddles")
        return
    spec, row = unit.spec, position.row
    policy = yard.flat_policy(position.store)
    if not row.width_band.min - TOLERANCE <= spec.width <= row.width_band.max + TOLERANCE:
        yield Violation(
            "width band",
            f"width {spec.width:g} m is outside row {row.id}'s band {row.width_band.min:g}–{row.width_band.max:g} m",
        )
    if not row.od_band.min - TOLERANCE <= spec.outer_diameter <= row.od_band.max + TOLERANCE:
        yield Violation(
            "diameter band",
            f"outer diameter {spec.outer_diameter:g} m is outside row {row.id}'s band {row.od_band.min:g}–{row.od_band.max:g} m",
        )
    if spec.weight > row.max_coil_weight + TOLERANCE:
        yield Violation(
            "floor load",
            f"{spec.weight:g} t is above row {row.id}'s limit of {row.max_coil_weight:g} t per coil",
        )
    swl = policy.crane_swl_by_bay.get(position.bay)
    if swl is None:
        yield Violation("crane", f"no crane serves bay {position.bay}")
    elif spec.weight > swl + TOLERANCE:
        yield Violation(
            "crane safe working load",
            f"{spec.weight:g} t is above the {swl:g} t a crane of bay {position.bay} may lift",
        )
    hot = policy.is_hot(unit, now)
    if hot and not (position.tier is Tier.GROUND and position.cooling):
        yield Violation(
            "hot coil",
            f"a coil above {policy.rules.hot_threshold_c:g} °C goes only to a ground cooling position",
        )
    if position.tier is Tier.UPPER:
        if spec.packaging is Packaging.SKID:
            yield Violation("skid", "a skid-packed coil is stored in one layer only")
        yield from _support_violations(yard, unit, position, policy, now)


def _support_violations(
    yard: Yard, coil: Coil, position: SaddlePosition, policy: FlatStorePolicy, now: float
) -> Iterator[Violation]:
    assert position.supports is not None
    supports: list[Coil] = []
    for support_id in position.supports:
        occupants = yard.locations[support_id].occupants
        if not occupants:
            yield Violation("support", f"support {support_id} is empty: an upper coil rests on two coils")
            continue
        support = yard.coils.get(occupants[0])
        if support is None:
            yield Violation("support", f"support {support_id} holds no coil")
            continue
        if support.id == coil.id:
            yield Violation("support", f"{coil.id} would rest on itself ({support_id})")
            continue
        if support.move is not None:
            yield Violation("support", f"support coil {support.id} is about to be moved ({support.move})")
        why = policy.carries_nothing(support, now)
        if why is not None:
            yield Violation("nothing on top", f"support coil {support.id} is {why}")
        supports.append(support)
    if len(supports) == 2:
        lighter = min(s.weight for s in supports)
        limit = lighter * policy.rules.upper_weight_factor
        if coil.weight > limit + TOLERANCE:
            yield Violation(
                "upper weight", f"{coil.weight:g} t is heavier than the lighter support allows ({limit:g} t)"
            )
        gap = abs(supports[0].spec.outer_diameter - supports[1].spec.outer_diameter)
        if gap > policy.rules.support_od_tolerance + TOLERANCE:
            yield Violation(
                "support diameters",
                f"supports differ by {gap:.3f} m in outer diameter (tolerance {policy.rules.support_od_tolerance:g} m)",
            )


def _cell_violations(yard: Yard, unit: Unit, location: Location, now: float) -> Iterator[Violation]:
    if not isinstance(unit, Coil):
        yield Violation("unit kind", "only coils go into high-bay cells")
        return
    store = yard.high_bay(location.store or "")
    spec = unit.spec
    if not store.width_band.min - TOLERANCE <= spec.width <= store.width_band.max + TOLERANCE:
        yield Violation(
            "width band",
            f"width {spec.width:g} m is outside the cells' band {store.width_band.min:g}–{store.width_band.max:g} m",
        )
    if not store.od_band.min - TOLERANCE <= spec.outer_diameter <= store.od_band.max + TOLERANCE:
        yield Violation(
            "diameter band",
            f"outer diameter {spec.outer_diameter:g} m is outside the cells' band {store.od_band.min:g}–{store.od_band.max:g} m",
        )
    limit = min(store.cell_load_limit, store.stacker.safe_working_load)
    if spec.weight > limit + TOLERANCE:
        yield Violation(
            "cell load", f"{spec.weight:g} t is above the {limit:g} t a cell and its stacker crane take"
        )
    if yard.is_hot(unit, now):
        yield Violation("hot coil", "hot coils cool in flat-store cooling positions, not in the rack")


def pile_units(
    yard: Yard, location: Location, *, but: str | None = None, move: str | None = None
) -> list[IngotStack]:
    """The units on a pile and those bound for it (planned moves), except unit `but` and move `move`."""
    units = [yard.stacks[o] for o in location.occupants if o != but and o in yard.stacks]
    for m in location.inbound:
        if m != move:
            bound = yard.stacks.get(yard.moves[m].unit)
            if bound is not None and bound.id != but:
                units.append(bound)
    return units


def _stack_violations(yard: Yard, unit: Unit, location: Location, move: str | None) -> Iterator[Violation]:
    """A stack position holds a pile (last in, first out). The rules do not depend on the order the units
    arrive in, so several moves may be planned onto one pile at once: the pile's height and weight with the
    units bound for it, one alloy per pile, one slab format per pile, nothing put on a pile being emptied."""
    if not isinstance(unit, IngotStack):
        yield Violation("unit kind", "only ingot or slab stacks go to stack positions")
        return
    row = yard.plant.stack_positions[location.id].row
    spec = unit.spec
    if spec.width is not None and spec.width > row.stack_length + TOLERANCE:
        yield Violation(
            "footprint", f"width {spec.width:g} m is more than the position's {row.stack_length:g} m"
        )
    if spec.length is not None and spec.length > row.stack_width + TOLERANCE:
        yield Violation(
            "footprint", f"length {spec.length:g} m is more than the position's {row.stack_width:g} m"
        )
    pile = pile_units(yard, location, but=unit.id, move=move)
    weight = spec.weight + sum(u.spec.weight for u in pile)
    if weight > row.max_weight + TOLERANCE:
        yield Violation("stack weight", f"{weight:g} t on the position is above its {row.max_weight:g} t")
    height = spec.height + sum(u.spec.height for u in pile)
    if height > row.max_height + TOLERANCE:
        yield Violation("stack height", f"{height:g} m on the position is above its {row.max_height:g} m")
    alloys = sorted({u.spec.alloy for u in pile} - {spec.alloy})
    if alloys:
        yield Violation("one alloy per pile", f"{spec.alloy} would go on a pile of {', '.join(alloys)}")
    for other in pile:
        if _format_differs(spec.width, other.spec.width) or _format_differs(spec.length, other.spec.length):
            yield Violation(
                "slab format",
                f"{_format(spec)} would share a pile with {other.id} ({_format(other.spec)}); "
                f"a pile holds one format within {FORMAT_TOLERANCE_M:g} m",
            )
            break
    moving = [u.id for u in pile if u.move is not None and u.location == location.id]
    if moving and unit.location != location.id:  # what already lies on the pile may be dug out
        yield Violation("pile being emptied", f"{', '.join(moving)} on '{location.id}' is about to be moved")


def _format_differs(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) > FORMAT_TOLERANCE_M + TOLERANCE


def _format(spec: IngotStackSpec) -> str:
    if spec.width is None or spec.length is None:
        return "format unknown"
    return f"{spec.width:g} x {spec.length:g} m"
