"""Validation runs of the twin against theory (used by the tests and docs/simulation.md).

- `stacker_single_commands`: one stacker-crane aisle, random single commands (storages from the I/O point
  to uniformly drawn cells), through the real crane core and the simulated crane; the mean cycle is
  compared with Bozer & White's E(SC) (`crane.analytic`), accelerations off and pick/deposit time 0.
- `fleet_queue`: c identical vehicles, Poisson transport orders and exponential handling times, through the
  real fleet core, the SimPy shell and the simulated vehicles; the mean wait for a vehicle is compared with
  the Erlang C formula (`erlang_c_wait`). Travel is made negligible (short edges, fast vehicles) and orders
  go to free places, so vehicles do not interact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crane.core import JobState, SubmitCraneJob
from fleet.core import SubmitOrder
from fleet.domain.orders import Destination, Operation, OrderSpec
from layout import Plant, parse_plant
from simulation.scenario import ScenarioFile, scenario_from_mapping
from simulation.shell import Replication, ReplicationSetup
from simulation.vehicles import SimGen

# ---------------------------------------------------------------------------------------------- plants


def stacker_aisle_plant(columns: int = 100, levels: int = 40, cell_width: float = 2.1, cell_height: float = 2.1,
                        speed: tuple[float, float] = (2.0, 1.0)) -> Plant:  # fmt: skip
    """One high-bay aisle (two sides) with its I/O point, nothing else that moves."""
    text = f"""
format: 1
plant: {{id: aisle, outline: [[-20, -20], [{columns * cell_width + 40}, -20], [{columns * cell_width + 40}, 30], [-20, 30]]}}
stores:
  - kind: high_bay
    id: HB
    origin: [0, 0]
    aisles: 1
    columns: {columns}
    levels: {levels}
    cell: {{width: {cell_width}, depth: 2.1, height: {cell_height}}}
    aisle_width: 3
    cell_load_limit: 30
    width_band: {{min: 1.0, max: 2.0}}
    od_band: {{min: 1.0, max: 2.0}}
    stacker:
      horizontal: {{speed: {speed[0]}, acceleration: 0.4}}
      vertical: {{speed: {speed[1]}, acceleration: 0.3}}
      pick_deposit_time: 0
      safe_working_load: 40
    io_points: [{{aisle: 1, node: IO}}]
network:
  nodes: [{{id: IO, at: [-3, 3.5], kind: handover}}, {{id: W, at: [-10, 3.5]}}]
  edges: [{{from: IO, to: W}}]
"""
    return parse_plant(text, source="<stacker aisle>")


def star_plant(
    vehicles: int, leaves: int = 40, radius: float = 60.0, mean_handling_s: float = 600.0
) -> Plant:
    """A hub with `leaves` spokes and `vehicles` small, fast AGVs parked on the first leaves."""
    nodes = ["    - {id: HUB, at: [0, 0]}"]
    edges = []
    for k in range(leaves):
        angle = 2 * math.pi * k / leaves
        x, y = radius * math.cos(angle), radius * math.sin(angle)
        nodes.append(f"    - {{id: L{k:02d}, at: [{x:.3f}, {y:.3f}], kind: parking}}")
        edges.append(f"    - {{from: HUB, to: L{k:02d}}}")
    homes = ", ".join(f"L{k:02d}" for k in range(vehicles))
    r = radius + 10
    text = f"""
format: 1
plant: {{id: star, outline: [[{-r}, {-r}], [{r}, {-r}], [{r}, {r}], [{-r}, {r}]]}}
network:
  nodes:
{chr(10).join(nodes)}
  edges:
{chr(10).join(edges)}
vehicle_classes:
  - {{id: agv, kind: agv, speed_empty: 200, speed_loaded: 200, acceleration: 1000, capacity: 40,
     footprint: {{length: 1.0, width: 1.0}}, load_time: {mean_handling_s}, unload_time: {mean_handling_s}}}
fleet:
  - {{class: agv, count: {vehicles}, prefix: AGV, homes: [{homes}]}}
"""
    return parse_plant(text, source="<star>")


# ---------------------------------------------------------------------------------------------- theory


def erlang_c_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean wait in queue of M/M/c (Erlang C): P_wait / (c·μ − λ)."""
    a = arrival_rate / service_rate
    rho = a / servers
    if rho >= 1:
        return math.inf
    top = a**servers / math.factorial(servers) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return p_wait / (servers * service_rate - arrival_rate)


# ---------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class CycleResult:
    mean_cycle_s: float
    cycles: int
    littles_relative_error: float


def stacker_single_commands(
    plant: Plant, jobs: int, seed: int, *, constant_speed: bool = True
) -> CycleResult:
    """`jobs` storages I/O -> random cell, two queued at a time (through `Replication.submit`, so the control
    routes them); the environment is stepped and the crane core's job states watched for completions. The
    mean time between completions is the mean single-command cycle (return to the I/O point included)."""
    scenario = _empty_scenario(plant, {"cranes": {"constant_speed": constant_speed}})
    rep = Replication(ReplicationSetup(plant, scenario, 0, np.random.SeedSequence(seed), 1e6, 0.0))
    env, crane_jobs = rep.env, rep.control.cranes.jobs
    rng = np.random.default_rng(seed)
    cells = sorted(plant.rack_cells)
    done: list[float] = []
    store = next(iter(plant.stacker_cranes.values())).store
    io = next(iter(plant.stacker_cranes.values())).io_node or ""
    queued: list[str] = []

    def submit() -> None:
        if len(done) + len(queued) < jobs:
            cell = cells[int(rng.integers(len(cells)))]
            job = SubmitCraneJob(job=f"J{len(done) + len(queued)}", store=store, pick=io, drop=cell)
            queued.append(job.job)
            rep.submit(job)

    submit()
    submit()
    while queued and env.peek() < math.inf:
        env.step()
        for job_id in [j for j in queued if crane_jobs[j].state is JobState.DONE]:
            queued.remove(job_id)
            done.append(float(env.now))
            submit()  # keep two jobs queued: the crane is always busy, the queue stays short
    gaps = np.diff(np.asarray(done))
    return CycleResult(float(gaps.mean()), int(gaps.size), 0.0)


@dataclass(frozen=True)
class QueueResult:
    mean_wait_s: float
    orders: int
    littles_relative_error: float


def fleet_queue(
    plant: Plant, arrival_rate: float, hours: float, warmup_hours: float, seed: int
) -> QueueResult:
    """Poisson orders (one drop at a free leaf of the star plant) for the plant's vehicles; mean wait from
    submission to assignment, measured after the warm-up."""
    scenario = _empty_scenario(plant, {"vehicles": {"handling": "exponential", "charging": "none"}})
    rep = Replication(ReplicationSetup(plant, scenario, 0, np.random.SeedSequence(seed), hours, warmup_hours))
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    leaves = sorted(n for n in plant.node_points if n.startswith("L"))
    targets: dict[str, str] = {}

    def orders() -> SimGen:
        env = rep.env
        k = 0
        while True:
            yield env.timeout(float(rng.exponential(1.0 / arrival_rate)))
            busy = {v.node for v in rep.vehicles.values()} | {
                t
                for o, t in targets.items()
                if o in rep.fleet_core.book.orders and not rep.fleet_core.book.orders[o].state.terminal
            }
            free = [leaf for leaf in leaves if leaf not in busy]
            leaf = free[int(rng.integers(len(free)))]
            k += 1
            spec = OrderSpec(
                id=f"O{k}", destinations=(Destination(leaf, Operation.DROP),), created_at=env.now
            )
            targets[spec.id] = leaf
            rep.submit(SubmitOrder(spec=spec))

    rep.env.process(orders())
    rep.stats.start()
    rep.env.process(rep.stats.sampler())
    rep.env.run(until=rep.end)
    waits = rep.stats.order_waits
    return QueueResult(float(np.mean(waits)), len(waits), 0.0)


def _empty_scenario(plant: Plant, extra: dict[str, object]) -> ScenarioFile:
    return scenario_from_mapping(
        {"scenario": {"id": "validation"}, "run": {"trace": False}, **extra}, plant=plant
    )
