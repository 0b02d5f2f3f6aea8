"""Benchmark: the crane core's sequencing decision for a bay of 500 coils with 50 queued jobs.

Plant: `examples/aluminium-rolling.yaml`, flat coil store FS1 (bays B1 and B2 under one runway, 567 saddle
positions, cranes CC1 and CC2). 500 positions hold coils. Each decision:

1. a fresh `crane.core.CraneCore`; both cranes get one job each and start it (so they are busy);
2. 50 jobs are queued (putaways from the four bay handovers to free positions, retrievals of stored coils to
   them, relocations that must come before a retrieval (`after`), some other `after` links, 40 % with a
   deadline);
3. timed: the `OperationDone` that frees CC1, i.e. `handle` doing the min-cost partition over both cranes,
   `crane.sequencing.sequence` of CC1's share, and the runway rule (`crane.interlock`). This is the
   decision a crane waits for in operation.

For comparison, the same queues are sequenced directly for one crane (`sequence`, all 50 jobs), which also
gives the objective before and after the local search.

    .venv/bin/python bench/crane_bench.py [--decisions 50] [--jobs 50] [--coils 500]
                                          [--evaluations 20000] [--budget SECONDS] [--seed 1]

`--evaluations` bounds the local search by candidate orders per decision (the core's default,
`crane.core.SEARCH_EVALUATIONS`); `--budget` adds a wall-clock limit (default none: reproducible decisions).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from crane.core import SEARCH_EVALUATIONS, CraneCore, JobState, SubmitCraneJob
from crane.places import crane_coordinates, overhead_cranes
from crane.sequencing import CraneJob, Plan, sequence
from fleet.domain.orders import Operation
from fleet.ports import OperationDone, SendCraneMove
from layout import Plant, load_plant

ROOT = Path(__file__).resolve().parents[1]
STORE = "FS1"
HANDOVERS = ("FS1-R1", "FS1-R2", "FS1-A1", "FS1-A2")


def random_jobs(rng: random.Random, plant: Plant, coils: int, count: int) -> list[SubmitCraneJob]:
    positions = sorted(p for p, s in plant.saddle_positions.items() if s.store == STORE)
    occupied = rng.sample(positions, min(coils, len(positions)))
    taken = set(occupied)
    free = [p for p in positions if p not in taken]
    rng.shuffle(free)

    def deadline() -> float | None:
        return rng.uniform(600, 9000) if rng.random() < 0.4 else None

    jobs: list[SubmitCraneJob] = []
    while len(jobs) < count:
        roll, k = rng.random(), len(jobs)
        if (roll < 0.35 or not occupied) and free:
            jobs.append(
                SubmitCraneJob(
                    job=f"P{k}", store=STORE, pick=rng.choice(HANDOVERS), drop=free.pop(), deadline=deadline()
                )
            )
        elif roll < 0.7 or len(jobs) > count - 2 or not free:
            jobs.append(
                SubmitCraneJob(job=f"R{k}", store=STORE, pick=occupied.pop(), drop=rng.choice(HANDOVERS))
            )
        else:
            move = SubmitCraneJob(job=f"M{k}", store=STORE, pick=occupied.pop(), drop=free.pop())
            pick = SubmitCraneJob(
                job=f"R{k}",
                store=STORE,
                pick=occupied.pop(),
                drop=rng.choice(HANDOVERS),
                deadline=deadline(),
                after=(move.job,),
            )
            jobs += [move, pick]
    for k in rng.sample(range(1, len(jobs)), 3):  # a few plain dependencies on earlier jobs
        job = jobs[k]
        earlier = jobs[rng.randrange(k)].job
        jobs[k] = SubmitCraneJob(
            job=job.job,
            store=job.store,
            pick=job.pick,
            drop=job.drop,
            deadline=job.deadline,
            after=(*job.after, earlier),
        )
    return jobs


def core_decision(
    plant: Plant, jobs: list[SubmitCraneJob], evaluations: int, budget: float
) -> tuple[float, float]:
    """(wall, CPU) seconds `handle` takes for the event that frees CC1 with `jobs` queued (see the module docstring)."""
    core = CraneCore(plant, search_evaluations=evaluations, search_budget=budget)
    sent: list[SendCraneMove] = []
    for crane, pick, drop in (("CC1", "FS1-R1", jobs[0].drop), ("CC2", "FS1-A2", "FS1-A1")):
        busy = SubmitCraneJob(job=f"busy-{crane}", store=STORE, pick=pick, drop=drop, crane=crane)
        sent += [e for e in core.handle(busy, 0.0) if isinstance(e, SendCraneMove)]
    for job in jobs:
        core.handle(job, 1.0)
    first = next(e for e in sent if e.vehicle == "CC1")
    core.handle(
        OperationDone(
            vehicle="CC1", node=first.place or "", operation=Operation.PICK, at=50.0, order=first.order
        ),
        50.0,
    )
    done = OperationDone(
        vehicle="CC1", node=jobs[0].drop, operation=Operation.DROP, at=100.0, order=first.order
    )
    t0, c0 = time.perf_counter(), time.process_time()
    core.handle(done, 100.0)
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    started = [j for j in core.open if core.job_state(j) is JobState.STARTED]
    if not started:
        raise SystemExit("the freed crane started no job: the benchmark measured nothing")
    return elapsed


def direct_plan(
    plant: Plant, jobs: list[SubmitCraneJob], evaluations: int, budget: float
) -> tuple[tuple[float, float], Plan]:
    crane = overhead_cranes(plant)["CC1"].spec

    def at(place: str) -> tuple[float, float]:
        return crane_coordinates(plant, "CC1", place)

    queue = [
        CraneJob(
            j.job,
            "relocation" if j.job.startswith("M") else "putaway" if j.job.startswith("P") else "retrieval",
            at(j.pick),
            at(j.drop),
            deadline=j.deadline,
            after=j.after,
        )
        for j in jobs
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    plan = sequence(queue, crane, (crane.home, 0.0), 0.0, time_budget=budget, max_evaluations=evaluations)
    return (time.perf_counter() - t0, time.process_time() - c0), plan


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--coils", type=int, default=500)
    parser.add_argument("--evaluations", type=int, default=SEARCH_EVALUATIONS, help="candidate orders")
    parser.add_argument("--budget", type=float, default=math.inf, help="wall-clock search budget, seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    plant = load_plant(ROOT / "examples" / "aluminium-rolling.yaml")
    rng = random.Random(args.seed)
    positions = sum(1 for s in plant.saddle_positions.values() if s.store == STORE)
    console.print(
        f"store {STORE}: {positions} positions, {args.coils} coils, cranes CC1 and CC2 on one runway; "
        f"{args.jobs} queued jobs, {args.decisions} decisions, evaluations {args.evaluations}, budget {args.budget} s"
    )
    core_ms: list[tuple[float, float]] = []
    direct_ms: list[tuple[float, float]] = []
    plans: list[Plan] = []
    for _ in range(args.decisions):
        jobs = random_jobs(rng, plant, args.coils, args.jobs)
        wall, cpu = core_decision(plant, jobs, args.evaluations, args.budget)
        core_ms.append((wall * 1000, cpu * 1000))
        (wall, cpu), plan = direct_plan(plant, jobs, args.evaluations, args.budget)
        direct_ms.append((wall * 1000, cpu * 1000))
        plans.append(plan)

    table = Table(title="crane sequencing decision latency (ms; CPU = this process's CPU time)")
    for column in ("path", "p50", "p99", "max", "CPU p50", "CPU p99"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, values in (
        ("CraneCore.handle (2 cranes)", core_ms),
        ("sequence, all jobs, 1 crane", direct_ms),
    ):
        walls = [w for w, _ in values]
        cpus = [c for _, c in values]
        table.add_row(
            name,
            f"{statistics.median(walls):.1f}",
            f"{percentile(walls, 0.99):.1f}",
            f"{max(walls):.1f}",
            f"{statistics.median(cpus):.1f}",
            f"{percentile(cpus, 0.99):.1f}",
        )
    console.print(table)
    quality = Table(title="direct sequence, objective (mean over decisions)")
    quality.add_column("measure")
    quality.add_column("constructive start", justify="right")
    quality.add_column("after local search", justify="right")
    starts = [p.constructive_objective for p in plans if p.constructive_objective is not None]
    if starts:
        quality.add_row(
            "weighted lateness (s)",
            f"{statistics.mean(s[0] for s in starts):.0f}",
            f"{statistics.mean(p.lateness for p in plans):.0f}",
        )
        quality.add_row(
            "empty travel (s)",
            f"{statistics.mean(s[1] for s in starts):.0f}",
            f"{statistics.mean(p.empty_travel for p in plans):.0f}",
        )
    console.print(quality)


if __name__ == "__main__":
    main()
