"""The simulated vehicles and cranes of a plant behind one `SimFleet` port: built once, here, for the twin's
shell (`simulation.shell.Replication`) and the live simulated port (`simulation.live_port.SimVehiclePort`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from crane.places import crane_home, crane_ids, crane_kind
from layout import Plant
from layout import schema as plant_schema
from simulation.cranes import CraneEnergy, SimCrane
from simulation.scenario import CraneModel, VehicleModel
from simulation.vehicles import SimFleet, SimVehicle


def crane_energy(model: CraneModel, *, overhead: bool) -> CraneEnergy:
    """The energy parameters of one crane from the scenario's `cranes` section."""
    return CraneEnergy(
        efficiency=model.efficiency,
        rolling_resistance=model.rolling_resistance,
        bridge_t=model.bridge_t,
        trolley_t=model.trolley_t,
        hook_t=model.hook_t,
        mast_t=model.mast_t,
        lift_t=model.lift_t,
        aux_kw=model.overhead_kw if overhead else model.stacker_kw,
        idle_kw=model.idle_kw,
    )


def build_units(
    env: simpy.Environment,
    plant: Plant,
    port: SimFleet,
    rng: np.random.Generator,
    *,
    vehicles: VehicleModel,
    cranes: CraneModel | None,
    weight_at: Callable[[str], float] | None = None,
) -> tuple[dict[str, SimVehicle], dict[str, SimCrane]]:
    """One `SimVehicle` per vehicle (each with its own handling stream drawn from `rng`, in id order) and,
    unless `cranes` is None, one `SimCrane` per crane (in id order), all added to `port`. `weight_at(place)`
    gives the tonnes a crane lifts at a place (crane energy)."""
    sim_vehicles: dict[str, SimVehicle] = {}
    for vid, vehicle in sorted(plant.vehicles.items()):
        sim = SimVehicle(
            env, vid, spec=vehicle.vehicle_class, home=vehicle.home, plant=plant, emit=port.emit,
            rng=np.random.default_rng(rng.integers(2**63)), charging=vehicles.charging,
            exponential_handling=vehicles.handling == "exponential", handling_kw=vehicles.handling_kw,
        )  # fmt: skip
        sim_vehicles[vid] = sim
        port.add(vid, sim)
    sim_cranes: dict[str, SimCrane] = {}
    if cranes is None:
        return sim_vehicles, sim_cranes
    specs: dict[str, plant_schema.OverheadCrane | plant_schema.StackerCrane] = {
        c.id: c for _, c in plant.overhead_cranes()
    }
    specs.update({sid: s.spec for sid, s in plant.stacker_cranes.items()})
    for cid in sorted(crane_ids(plant)):
        overhead = crane_kind(plant, cid) == "overhead"
        crane = SimCrane(
            env, cid, specs[cid], crane_home(plant, cid), port.emit, constant_speed=cranes.constant_speed,
            energy=crane_energy(cranes, overhead=overhead), weight_at=weight_at,
        )  # fmt: skip
        sim_cranes[cid] = crane
        port.add(cid, crane)
    return sim_vehicles, sim_cranes
