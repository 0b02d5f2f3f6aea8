"""Job sequencing for one overhead crane in a bay: pure, no I/O, no clock except the search budget.

A crane's queue holds putaway, retrieval and relocation jobs. Each carries a load from `pick` to `drop`,
both floor points (along, across) in runway coordinates. The crane drives empty from the previous drop
(or its start position) to the next pick, waits there until the job's release time, then does the loaded
move (`crane.motion.overhead_move_time`: pick, hoist, bridge and trolley together, lower, drop).

Objective, lexicographic (research notes wms.md §2.3: meet deadlines, minimise empty travel):

1. weighted lateness: sum of weight · max(0, finish − deadline) over jobs with a deadline;
2. empty travel: seconds of empty bridge/trolley travel, max of the two axis times (`chebyshev_time`).

Precedence: a job runs after every job named in its `after`, and a relocation runs before every job in its
`unblocks` (the retrievals it clears). Names of jobs not in the queue are taken as already done.

`sequence` solves up to `EXACT_LIMIT` jobs exactly (depth-first branch and bound over precedence-respecting
orders; both objective terms only grow along a partial order, so a prefix no better than the best complete
order is cut). Larger queues get three constructive orders (earliest deadline first, nearest pick,
apparent tardiness cost; deadlines inherited along precedence), the best first, each improved while the
budget lasts by local search (or-opt moves of 1–3 jobs, and swaps, keeping precedence), bounded by
`time_budget` seconds, `max_passes` passes per start and `max_evaluations` candidate orders in all (the
last one machine-independent: the crane core uses it so that every run takes the same decisions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from crane.motion import Position, chebyshev_time, overhead_move_time
from layout import schema

JobKind = Literal["putaway", "retrieval", "relocation"]
EXACT_LIMIT = 8
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class CraneJob:
    id: str
    kind: JobKind
    pick: Position
    drop: Position
    release: float = 0.0
    deadline: float | None = None
    weight: float = 1.0
    after: tuple[str, ...] = ()
    unblocks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    order: tuple[str, ...]
    finish: dict[str, float]
    lateness: float
    empty_travel: float
    exact: bool
    constructive_objective: tuple[float, float] | None = None

    @property
    def objective(self) -> tuple[float, float]:
        return (self.lateness, self.empty_travel)


class _Problem:
    """Precomputed times; jobs are indices 0..n-1."""

    def __init__(
        self, jobs: Sequence[CraneJob], crane: schema.OverheadCrane, start: Position, at: float
    ) -> None:
        ids = [j.id for j in jobs]
        if len(set(ids)) != len(ids):
            raise ValueError("job ids must be unique")
        index = {j: i for i, j in enumerate(ids)}
        self.jobs = list(jobs)
        self.n = n = len(jobs)
        self.at = at
        preds: list[set[int]] = [set() for _ in range(n)]
        for i, job in enumerate(jobs):
            preds[i].update(index[p] for p in job.after if p in index)
            for s in job.unblocks:
                if s in index:
                    preds[index[s]].add(i)
        for i in range(n):
            if i in preds[i]:
                raise ValueError(f"job {ids[i]} depends on itself")
        self.preds = [frozenset(p) for p in preds]
        self.pred_mask = [sum(1 << p for p in ps) for ps in preds]
        self.loaded = [overhead_move_time(crane, j.pick, j.drop) for j in jobs]
        self.from_start = [chebyshev_time(start, j.pick, crane.bridge, crane.trolley) for j in jobs]
        self.empty = [
            [chebyshev_time(a.drop, b.pick, crane.bridge, crane.trolley) for b in jobs] for a in jobs
        ]
        self.release = [j.release for j in jobs]
        self.deadline = [j.deadline for j in jobs]
        self.weight = [j.weight for j in jobs]
        order = self.topological()
        if order is None:
            raise ValueError("precedence has a cycle")
        # for dispatching only: a job inherits the deadlines of the jobs waiting for it, less their move
        self.due: list[float | None] = list(self.deadline)
        for i in reversed(order):
            d = self.due[i]
            for q in self.preds[i]:
                if d is not None:
                    inherited = d - self.loaded[i]
                    dq = self.due[q]
                    self.due[q] = inherited if dq is None else min(dq, inherited)

    def topological(self) -> list[int] | None:
        done = 0
        order: list[int] = []
        while len(order) < self.n:
            ready = [i for i in range(self.n) if not done >> i & 1 and self.pred_mask[i] & ~done == 0]
            if not ready:
                return None
            order.append(ready[0])
            done |= 1 << ready[0]
        return order

    def feasible(self, order: Sequence[int]) -> bool:
        done = 0
        for i in order:
            if self.pred_mask[i] & ~done:
                return False
            done |= 1 << i
        return True

    def step(self, prev: int, i: int, t: float) -> tuple[float, float, float]:
        """(finish, lateness, empty) of job i started from the drop of `prev` (-1: start) at time t."""
        e = self.from_start[i] if prev < 0 else self.empty[prev][i]
        begin = max(t + e, self.release[i])
        finish = begin + self.loaded[i]
        d = self.deadline[i]
        late = self.weight[i] * (finish - d) if d is not None and finish > d else 0.0
        return finish, late, e

    def evaluate(self, order: Sequence[int]) -> tuple[float, float]:
        t, prev, late, empty = self.at, -1, 0.0, 0.0
        for i in order:
            t, dl, de = self.step(prev, i, t)
            late += dl
            empty += de
            prev = i
        return late, empty

    def finishes(self, order: Sequence[int]) -> list[float]:
        t, prev, out = self.at, -1, []
        for i in order:
            t, _, _ = self.step(prev, i, t)
            out.append(t)
            prev = i
        return out


def _better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """a strictly better than b, lexicographically with a small tolerance."""
    if a[0] < b[0] - EPS:
        return True
    if a[0] > b[0] + EPS:
        return False
    return a[1] < b[1] - EPS


def _exact(p: _Problem) -> list[int]:
    best_order: list[int] = p.topological() or []
    best = p.evaluate(best_order)
    full = (1 << p.n) - 1
    path: list[int] = []

    def dfs(done: int, prev: int, t: float, late: float, empty: float) -> None:
        nonlocal best, best_order
        if not _better((late, empty), best):
            return
        if done == full:
            best, best_order = (late, empty), list(path)
            return
        for i in range(p.n):
            if done >> i & 1 or p.pred_mask[i] & ~done:
                continue
            finish, dl, de = p.step(prev, i, t)
            path.append(i)
            dfs(done | 1 << i, i, finish, late + dl, empty + de)
            path.pop()

    best = (best[0] + 2 * EPS, best[1] + 2 * EPS)  # let an order equal to the first one win the search
    dfs(0, -1, p.at, 0.0, 0.0)
    return best_order


def _construct(p: _Problem, rule: Literal["edf", "nearest", "atc"]) -> list[int]:
    """Dispatch greedily among the ready jobs.

    Deadlines here are `due`: a job inherits the deadlines of the jobs that wait for it.

    - edf: earliest deadline first (jobs without one last), ties by the shorter empty approach;
    - nearest: the shortest approach (including waiting for the release), a job that would turn late if
      it waited one more job first;
    - atc: apparent tardiness cost, weight / time · exp(−slack / (2 · mean time)), jobs without deadline
      ranked by approach alone after every job with one.
    """
    done, prev, t = 0, -1, p.at
    order: list[int] = []
    mean = sum(p.loaded) / p.n if p.n else 1.0
    while len(order) < p.n:
        ready = [i for i in range(p.n) if not done >> i & 1 and p.pred_mask[i] & ~done == 0]
        best_key: tuple[float, float] | None = None
        best_i, best_finish = -1, 0.0
        for i in ready:
            finish, _, e = p.step(prev, i, t)
            d = p.due[i]
            if rule == "edf":
                key = (math.inf if d is None else d, e)
            elif rule == "nearest":
                urgent = d is not None and finish + p.loaded[i] > d
                key = (0.0 if urgent else 1.0, e + max(0.0, p.release[i] - t))
            elif d is None:
                key = (0.0, e + max(0.0, p.release[i] - t))
            else:
                cost = finish - t
                slack = max(0.0, d - finish)
                key = (-p.weight[i] / max(cost, EPS) * math.exp(-slack / (2.0 * mean)), 0.0)
            if best_key is None or key < best_key:
                best_key, best_i, best_finish = key, i, finish
        order.append(best_i)
        done |= 1 << best_i
        t, prev = best_finish, best_i
    return order


def _local_search(
    p: _Problem, order: list[int], deadline_at: float, max_passes: int, budget: list[int]
) -> list[int]:
    """First-improvement or-opt (blocks of 1–3 jobs) and swaps; candidates are evaluated from the first
    changed position on, from cached prefix states, and dropped as soon as they can no longer win.
    `budget` holds the candidate evaluations left (shared by the calls of one `sequence`); it stops at 0."""
    n = len(order)
    pm = p.pred_mask
    from_start, empty_rows, release, loaded = p.from_start, p.empty, p.release, p.loaded
    deadline, weight = p.deadline, p.weight
    # state after k jobs: time, previous job, lateness, empty travel
    times, prevs, lates, empties = [0.0] * (n + 1), [-1] * (n + 1), [0.0] * (n + 1), [0.0] * (n + 1)

    def refresh() -> None:
        times[0] = p.at
        for k, i in enumerate(order):
            times[k + 1], dl, de = p.step(prevs[k], i, times[k])
            prevs[k + 1], lates[k + 1], empties[k + 1] = i, lates[k] + dl, empties[k] + de

    def beats(cand: list[int], s: int) -> bool:
        """Whether `cand`, equal to `order` before position s, is strictly better."""
        budget[0] -= 1
        best_late, best_empty = lates[n] + EPS, empties[n] - EPS
        t, prev, late, empty = times[s], prevs[s], lates[s], empties[s]
        for k in range(s, n):
            i = cand[k]
            e = from_start[i] if prev < 0 else empty_rows[prev][i]
            t = max(t + e, release[i]) + loaded[i]
            d = deadline[i]
            if d is not None and t > d:
                late += weight[i] * (t - d)
            empty += e
            prev = i
            # neither sum ever falls, so stop once the candidate cannot be strictly better
            if late > best_late or (late >= best_late - 2 * EPS and empty >= best_empty):
                return False
        return True

    refresh()
    for _ in range(max_passes):
        improved = False
        for length in (1, 2, 3):
            i = 0
            while i + length <= n:
                block = order[i : i + length]
                bmask = sum(1 << b for b in block)
                bpreds = 0
                for b in block:
                    bpreds |= pm[b]
                moved = False
                # backward: insert before order[j]; the jobs passed over must not be predecessors of the block
                for j in range(i - 1, -1, -1):
                    if bpreds >> order[j] & 1:
                        break
                    cand = order[:j] + block + order[j:i] + order[i + length :]
                    if beats(cand, j):
                        order[:] = cand
                        moved = True
                        break
                if not moved:
                    # forward: insert after order[j]; the jobs passed over must not depend on the block
                    for j in range(i + length, n):
                        if pm[order[j]] & bmask:
                            break
                        cand = order[:i] + order[i + length : j + 1] + block + order[j + 1 :]
                        if beats(cand, i):
                            order[:] = cand
                            moved = True
                            break
                if moved:
                    refresh()
                    improved = True
                i += 1
                if budget[0] <= 0 or time.perf_counter() > deadline_at:
                    return order
        for i in range(n - 1):
            for j in range(i + 1, n):
                a, b = order[i], order[j]
                between = order[i + 1 : j]
                if pm[b] >> a & 1 or any(pm[b] >> x & 1 or pm[x] >> a & 1 for x in between):
                    continue
                cand = list(order)
                cand[i], cand[j] = b, a
                if beats(cand, i):
                    order[:] = cand
                    refresh()
                    improved = True
            if budget[0] <= 0 or time.perf_counter() > deadline_at:
                return order
        if not improved:
            break
    return order


def _plan(p: _Problem, order: Sequence[int], exact: bool, start: tuple[float, float] | None) -> Plan:
    late, empty = p.evaluate(order)
    finish = p.finishes(order)
    return Plan(
        order=tuple(p.jobs[i].id for i in order),
        finish={p.jobs[i].id: f for i, f in zip(order, finish, strict=True)},
        lateness=late,
        empty_travel=empty,
        exact=exact,
        constructive_objective=start,
    )


def evaluate(
    jobs: Sequence[CraneJob], crane: schema.OverheadCrane, start_position: Position, at: float
) -> Plan:
    """The plan for `jobs` in the given order (raises ValueError if it breaks precedence)."""
    p = _Problem(jobs, crane, start_position, at)
    order = list(range(p.n))
    if not p.feasible(order):
        raise ValueError("order breaks precedence")
    return _plan(p, order, exact=False, start=None)


def solve_exact(
    jobs: Sequence[CraneJob], crane: schema.OverheadCrane, start_position: Position, at: float
) -> Plan:
    """An optimal order by branch and bound; exponential, meant for about 10 jobs or fewer."""
    p = _Problem(jobs, crane, start_position, at)
    return _plan(p, _exact(p), exact=True, start=None)


def sequence(
    jobs: Sequence[CraneJob],
    crane: schema.OverheadCrane,
    start_position: Position,
    at: float,
    *,
    time_budget: float = 0.05,
    max_passes: int = 50,
    exact_limit: int = EXACT_LIMIT,
    max_evaluations: int | None = None,
) -> Plan:
    """Order the crane's queued jobs, starting at `start_position` at time `at` (see the module docstring)."""
    p = _Problem(jobs, crane, start_position, at)
    if p.n <= exact_limit:
        return _plan(p, _exact(p), exact=True, start=None)
    deadline_at = time.perf_counter() + time_budget
    budget = [max_evaluations if max_evaluations is not None else 1 << 62]
    starts = [_construct(p, rule) for rule in ("edf", "nearest", "atc")]
    starts.sort(key=p.evaluate)
    start_value = p.evaluate(starts[0])
    # the best start first; the others only while the budget lasts (they may reach another local optimum)
    best = _local_search(p, starts[0], deadline_at, max_passes, budget)
    for other in starts[1:]:
        if budget[0] <= 0 or time.perf_counter() > deadline_at:
            break
        candidate = _local_search(p, other, deadline_at, max_passes, budget)
        if _better(p.evaluate(candidate), p.evaluate(best)):
            best = candidate
    return _plan(p, best, exact=False, start=start_value)
