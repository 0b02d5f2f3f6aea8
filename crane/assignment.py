"""Which crane does which job, and which job a free crane does next. Pure; no I/O, no clock.

Two steps, run by the crane core whenever a crane of a runway is free and jobs wait:

1. **Partition** (the fleet dispatcher's idea, `fleet.dispatcher.solve`: one min-cost assignment with
   `scipy.optimize.linear_sum_assignment`). Every waiting job goes to one crane of the runway that can reach
   it. Each crane has one slot per job; putting job j in the slot k-th from the end of crane c's queue costs
   k · p[c, j] (+ the time until crane c is free, for every job it gets), where p is the job's time on that
   crane (empty approach from where the crane stands or will stand, plus the loaded move, `crane.motion`). Minimising that sum is the classic exact assignment for
   unrelated parallel machines and total completion time (Horn 1973; Bruno, Coffman & Sethi 1974): it
   balances the cranes and gives each job to a crane near it. Pairs a crane cannot do are infeasible.
2. **Sequence** (`crane.sequencing.sequence`). A free crane orders its share: only the jobs of the highest
   effective priority (a job inherits the priority of the jobs that wait for it, so relocations are as
   urgent as their pick), by weighted lateness against deadlines, then empty travel, keeping `after`
   precedence. Its next job is the first of that order that is ready (every `after` job done) and not
   held by an active safety zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from crane.motion import Position, chebyshev_time, overhead_move_time
from crane.sequencing import CraneJob, JobKind, sequence
from fleet.dispatcher import solve
from layout import schema


@dataclass(frozen=True, slots=True)
class JobView:
    """A waiting job as the assignment sees it: its points for each crane that can do it."""

    id: str
    kind: JobKind
    points: Mapping[str, tuple[Position, Position]]  # crane -> (pick, drop) in that crane's coordinates
    priority: int
    deadline: float | None
    after: tuple[str, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class CraneView:
    id: str
    spec: schema.OverheadCrane
    position: Position  # where it stands, or where its current work ends
    busy_for: float = 0.0  # estimated seconds until its current work ends


def job_time(crane: CraneView, pick: Position, drop: Position) -> float:
    return chebyshev_time(crane.position, pick, crane.spec.bridge, crane.spec.trolley) + overhead_move_time(
        crane.spec, pick, drop
    )


def partition(jobs: Sequence[JobView], cranes: Sequence[CraneView]) -> dict[str, str]:
    """job id -> crane id by the position-weighted min-cost assignment (module docstring, step 1)."""
    if not jobs or not cranes:
        return {}
    n, m = len(jobs), len(cranes)
    cost = np.zeros((n, m * n))
    feasible = np.zeros((n, m * n), dtype=bool)
    weights = np.arange(1, n + 1, dtype=float)
    for j, job in enumerate(jobs):
        for c, crane in enumerate(cranes):
            points = job.points.get(crane.id)
            if points is None:
                continue
            # every job of a busy crane also finishes `busy_for` later
            cost[j, c * n : (c + 1) * n] = weights * job_time(crane, *points) + crane.busy_for
            feasible[j, c * n : (c + 1) * n] = True
    return {jobs[j].id: cranes[col // n].id for j, col in solve(cost, feasible)}


def effective_priorities(jobs: Sequence[JobView]) -> dict[str, int]:
    """A job's priority, raised to that of any job waiting for it (directly or not)."""
    out = {j.id: j.priority for j in jobs}
    for _ in range(len(jobs)):
        changed = False
        for job in jobs:
            for before in job.after:
                if before in out and out[before] < out[job.id]:
                    out[before] = out[job.id]
                    changed = True
        if not changed:
            break
    return out


def next_job(
    crane: CraneView,
    share: Sequence[JobView],
    priorities: Mapping[str, int],
    startable: Callable[[str], bool],
    at: float,
    *,
    time_budget: float = math.inf,
    max_passes: int = 50,
    max_evaluations: int | None = None,
) -> str | None:
    """The job `crane` should start next among its `share` (module docstring, step 2); None if none may."""
    candidates = [j for j in share if startable(j.id)]
    if not candidates:
        return None
    top = max(priorities[j.id] for j in candidates)
    chosen = sorted((j for j in share if priorities[j.id] == top), key=lambda j: j.seq)
    queue = [
        CraneJob(
            j.id,
            j.kind,
            j.points[crane.id][0],
            j.points[crane.id][1],
            deadline=j.deadline,
            after=j.after,
        )
        for j in chosen
    ]
    plan = sequence(
        queue,
        crane.spec,
        crane.position,
        at,
        time_budget=time_budget,
        max_passes=max_passes,
        max_evaluations=max_evaluations,
    )
    return next((job for job in plan.order if startable(job)), None)
