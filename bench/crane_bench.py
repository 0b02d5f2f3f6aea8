"""Benchmark: crane job sequencing decision latency for one bay, 500 coils and 50 queued jobs.

A synthetic flat bay (146 m x 34 m, like bay B1 of `examples/aluminium-rolling.yaml`) holds 500 coils
on a 25 x 20 grid; the coil crane is CC1 of that example. Each decision sequences 50 random jobs
(putaways from the handover lane, retrievals to it, relocations that unblock a retrieval, some `after`
links and deadlines). Prints p50/p99 latency and how much the local search improves the constructive start.

    python bench/crane_bench.py [--decisions 50] [--jobs 50] [--budget 0.05] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from crane.motion import Position
from crane.sequencing import CraneJob, Plan, sequence
from layout import schema

CRANE = schema.OverheadCrane.model_validate(
    {
        "id": "CC1",
        "runway": "RW-FS",
        "bays": ["B1"],
        "bridge": {"speed": 1.6, "acceleration": 0.2},
        "trolley": {"speed": 0.8, "acceleration": 0.2},
        "hoist": {"speed": 0.15, "acceleration": 0.15},
        "lift_height": 9,
        "safe_working_load": 40,
        "pick_time": 35,
        "drop_time": 35,
    }
)
LENGTH, SPAN, LANE = 146.0, 34.0, 8.0


def grid(count: int = 500, along: int = 25) -> list[Position]:
    across = count // along
    return [
        (2.0 + i * (LENGTH - 4.0) / (along - 1), LANE + 1.0 + k * (SPAN - LANE - 2.0) / (across - 1))
        for i in range(along)
        for k in range(across)
    ]


def random_queue(rng: random.Random, slots: list[Position], jobs: int) -> list[CraneJob]:
    occupied = rng.sample(range(len(slots)), int(len(slots) * 0.8))
    free = [s for s in range(len(slots)) if s not in set(occupied)]
    rng.shuffle(free)

    def lane() -> Position:
        return (rng.uniform(0, LENGTH), rng.uniform(1.0, LANE - 1.0))

    def deadline() -> float | None:
        return rng.uniform(600, 9000) if rng.random() < 0.4 else None

    queue: list[CraneJob] = []
    while len(queue) < jobs:
        roll, k = rng.random(), len(queue)
        if roll < 0.35:
            queue.append(CraneJob(f"P{k}", "putaway", lane(), slots[free.pop()], deadline=deadline()))
        elif roll < 0.7 or len(queue) > jobs - 2:
            queue.append(
                CraneJob(f"R{k}", "retrieval", slots[occupied.pop()], lane(), release=rng.uniform(0, 900))
            )
        else:
            retrieval = CraneJob(f"R{k}", "retrieval", slots[occupied.pop()], lane(), deadline=deadline())
            move = CraneJob(
                f"M{k}", "relocation", slots[occupied.pop()], slots[free.pop()], unblocks=(retrieval.id,)
            )
            queue += [move, retrieval]
    for k in rng.sample(range(1, len(queue)), 3):  # a few plain dependencies on earlier jobs
        job = queue[k]
        queue[k] = CraneJob(
            job.id, job.kind, job.pick, job.drop, job.release, job.deadline, job.weight,
            (queue[rng.randrange(k)].id,), job.unblocks,
        )  # fmt: skip
    rng.shuffle(queue)
    return queue


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--budget", type=float, default=0.05, help="local search time budget, seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    rng = random.Random(args.seed)
    slots = grid()
    console.print(f"bay {LENGTH:.0f} m x {SPAN:.0f} m, {len(slots)} coil positions, crane {CRANE.id}")

    latencies: list[float] = []
    plans: list[Plan] = []
    for _ in range(args.decisions):
        queue = random_queue(rng, slots, args.jobs)
        start = (rng.uniform(0, LENGTH), rng.uniform(0, SPAN))
        t0 = time.perf_counter()
        plans.append(sequence(queue, CRANE, start, 0.0, time_budget=args.budget))
        latencies.append((time.perf_counter() - t0) * 1000)

    table = Table(title=f"sequencing {args.jobs} jobs, {args.decisions} decisions, budget {args.budget} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("latency p50 (ms)", f"{statistics.median(latencies):.1f}")
    table.add_row("latency p99 (ms)", f"{percentile(latencies, 0.99):.1f}")
    table.add_row("latency max (ms)", f"{max(latencies):.1f}")
    starts = [p.constructive_objective for p in plans if p.constructive_objective is not None]
    late0 = statistics.mean(s[0] for s in starts)
    late1 = statistics.mean(p.lateness for p in plans)
    empty0 = statistics.mean(s[1] for s in starts)
    empty1 = statistics.mean(p.empty_travel for p in plans)
    better = sum(p.objective < s for p, s in zip(plans, starts, strict=True))
    table.add_row("weighted lateness, constructive (s, mean)", f"{late0:.0f}")
    table.add_row("weighted lateness, after local search (s, mean)", f"{late1:.0f}")
    table.add_row("empty travel, constructive (s, mean)", f"{empty0:.0f}")
    table.add_row("empty travel, after local search (s, mean)", f"{empty1:.0f}")
    table.add_row("decisions improved by local search", f"{better}/{len(plans)}")
    console.print(table)


if __name__ == "__main__":
    main()
