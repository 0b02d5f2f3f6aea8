"""Places a unit can be: derived from the layout, plus vehicles and cranes as in-transit places."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from layout import Plant
from layout import schema as plant_schema


class LocationKind(StrEnum):
    SADDLE = "saddle"  # flat-store floor position, ground or upper tier
    CELL = "cell"  # high-bay rack cell
    STACK = "stack"  # ingot/slab stack position
    HANDOVER = "handover"  # a network node where loads change hands (stations, bays, I/O points)
    CARRIER = "carrier"  # a vehicle or crane: the unit is in transit


@dataclass(slots=True)
class Location:
    id: str
    kind: LocationKind
    store: str | None
    capacity: int | None  # None: no limit (a station's handover queue)
    occupants: list[str] = field(default_factory=list)
    reserved_by: str | None = None  # the move bringing a unit here (single places; piles use `inbound`)
    locked_in: str | None = None  # reason, when nothing may be put here
    locked_out: str | None = None  # reason, when nothing may be taken from here
    inbound: list[str] = field(default_factory=list)  # a pile's planned moves onto it (stack positions)

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and len(self.occupants) >= self.capacity


def locations_of(plant: Plant) -> dict[str, Location]:
    """Every place of the plant, keyed by id; ids are unique across kinds (checked here)."""
    found: dict[str, Location] = {}

    def add(location: Location) -> None:
        if location.id in found:
            raise ValueError(
                f"location id '{location.id}' names two places ({found[location.id].kind}, {location.kind})"
            )
        found[location.id] = location

    for position in plant.saddle_positions.values():
        add(Location(position.id, LocationKind.SADDLE, position.store, 1))
    for cell in plant.rack_cells.values():
        add(Location(cell.id, LocationKind.CELL, cell.store, 1))
    for stack in plant.stack_positions.values():
        # a pile: no unit count; its height and weight limits decide (stacking rules)
        add(Location(stack.id, LocationKind.STACK, stack.store, None))
    for node in sorted(handover_nodes(plant)):
        add(Location(node, LocationKind.HANDOVER, None, None))
    for vehicle in plant.vehicles.values():
        add(Location(vehicle.id, LocationKind.CARRIER, None, vehicle.vehicle_class.capacity_units))
    for _, crane in plant.overhead_cranes():
        add(Location(crane.id, LocationKind.CARRIER, None, 1))
    for stacker in plant.stacker_cranes.values():
        add(Location(stacker.id, LocationKind.CARRIER, stacker.store, 1))
    return found


def handover_nodes(plant: Plant) -> set[str]:
    """Nodes of kind handover, and every node a station, bay or aisle names as its handover."""
    nodes = {n for n, kind in plant.node_kinds.items() if kind == "handover"}
    for station in plant.stations:
        nodes.update(station.handovers)
    for store in plant.stores:
        if isinstance(store, plant_schema.HighBayStore):
            nodes.update(io.node for io in store.io_points)
        else:
            nodes.update(h.node for bay in store.bays for h in bay.handovers)
    return nodes
