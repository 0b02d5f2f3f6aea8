"""What a plant holds: places, capacity, network and fleet, in numbers a planner checks first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from layout import schema
from layout.model import Plant, Tier


@dataclass(frozen=True)
class StoreStats:
    id: str
    kind: str
    places: int
    ground: int
    upper: int
    capacity_coils: int
    capacity_tonnes: float
    cranes: int


@dataclass(frozen=True)
class PlantStats:
    plant: str
    stores: list[StoreStats]
    stations: int
    nodes: int
    edges: int
    rail_stops: int
    vehicles: dict[str, int] = field(default_factory=dict)

    @property
    def capacity_coils(self) -> int:
        return sum(s.capacity_coils for s in self.stores)

    @property
    def capacity_tonnes(self) -> float:
        return sum(s.capacity_tonnes for s in self.stores)


def plant_stats(plant: Plant) -> PlantStats:
    stores: list[StoreStats] = []
    for store in plant.stores:
        if isinstance(store, schema.FlatStore):
            positions = [p for p in plant.saddle_positions.values() if p.store == store.id]
            ground = sum(1 for p in positions if p.tier is Tier.GROUND)
            stores.append(
                StoreStats(
                    store.id,
                    "flat",
                    len(positions),
                    ground,
                    len(positions) - ground,
                    len(positions),
                    sum(p.row.max_coil_weight for p in positions),
                    len(store.cranes),
                )
            )
        elif isinstance(store, schema.IngotStore):
            stacks = [p for p in plant.stack_positions.values() if p.store == store.id]
            stores.append(
                StoreStats(
                    store.id,
                    "ingot",
                    len(stacks),
                    len(stacks),
                    0,
                    0,
                    sum(p.row.max_weight for p in stacks),
                    len(store.cranes),
                )
            )
        else:
            cells = sum(1 for c in plant.rack_cells.values() if c.store == store.id)
            stores.append(
                StoreStats(
                    store.id, "high_bay", cells, 0, 0, cells, cells * store.cell_load_limit, store.aisles
                )
            )
    vehicles = Counter(v.vehicle_class.id for v in plant.vehicles.values())
    rail_stops = sum(len(r.stops) for r in plant.file.network.rails)
    return PlantStats(
        plant=plant.name,
        stores=stores,
        stations=len(plant.stations),
        nodes=len(plant.node_points),
        edges=len(plant.edges),
        rail_stops=rail_stops,
        vehicles=dict(vehicles),
    )
