"""Several overhead cranes on one runway: a pure, synchronous, discrete-event model (no I/O, no clock).

Positions are bridge positions `along` the runway (metres from its start, see `RunwayFrame.to_runway`).
Cranes are ordered by their home; they never pass each other and keep `min_distance` between bridges.

The rule is `crane.interlock.Runway`, the same code the crane core (`crane.core`) runs; this model only
adds queues, time and moves around it (an ordered interval resource, research notes wms.md §2.5):

1. Each crane has a FIFO queue of jobs (pick, drop). The caller may name the crane; by default the job goes
   to the crane whose zone (split at the midpoints between homes) holds the pick, or else the nearest
   crane in order that can reach both ends (crane k reaches [k·d, L − (n−1−k)·d]).
2. An idle crane c starting a job claims S = [min(x, pick, drop), max(x, pick, drop)]. Walking outwards,
   crane c−1 must end at or left of S.lo − d, crane c−2 left of that minus d, ... (mirrored to the right).
   A busy neighbour whose reservation crosses that bound blocks the job; an idle one is pushed (yields)
   to the bound. Yields run one crane at a time from the outermost inwards; the job moves when they end.
3. A busy crane's reservation is S until it reaches the pick, then [min(pick, drop), max(pick, drop)],
   and the drop point once done. Reservations of cranes not in the same start are always d apart.
4. Fairness: at every event the head jobs are tried oldest first. A blocked job freezes its crane, the
   cranes it would push and the busy crane blocking it: younger jobs may neither start on nor push them.
   So the oldest waiting job starts once the (finite) jobs in its way end: no job waits forever.

Moves are rest-to-rest trapezoidal profiles (`crane.motion.travel_time`); handling times are constant.
The log keeps every move as a `Segment`; `check_separation` re-checks the trajectories without the
scheduler, by interval bounds and bisection on the (piecewise monotone) positions.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

from crane.interlock import Grant, Request, Runway
from crane.motion import Drive, travel_time

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    pick: float
    drop: float
    crane: str | None = None
    release: float = 0.0


@dataclass(frozen=True, slots=True)
class Segment:
    """One rest-to-rest move of a crane's bridge from `x0` at `t0` to `x1` at `t1`."""

    crane: str
    t0: float
    t1: float
    x0: float
    x1: float
    speed: float
    acceleration: float

    def position(self, t: float) -> float:
        if t <= self.t0:
            return self.x0
        if t >= self.t1:
            return self.x1
        dist = abs(self.x1 - self.x0)
        sign = 1.0 if self.x1 >= self.x0 else -1.0
        tau, total = t - self.t0, self.t1 - self.t0
        v, a = self.speed, self.acceleration
        if math.isinf(a):
            moved = dist * tau / total
        elif dist >= v * v / a:
            ta = v / a
            if tau < ta:
                moved = 0.5 * a * tau * tau
            elif tau <= total - ta:
                moved = 0.5 * v * ta + v * (tau - ta)
            else:
                moved = dist - 0.5 * a * (total - tau) ** 2
        else:
            half = total / 2
            moved = 0.5 * a * tau * tau if tau < half else dist - 0.5 * a * (total - tau) ** 2
        return self.x0 + sign * min(max(moved, 0.0), dist)


@dataclass
class JobRecord:
    job: Job
    crane: str
    submitted: float
    seq: int = 0
    started: float = math.nan  # the job is granted: yields (if any) begin
    moving: float = math.nan  # yields done, the crane leaves for the pick
    end: float = math.nan


@dataclass
class RunwayLog:
    runway_length: float
    min_distance: float
    order: list[str]
    initial: dict[str, float]
    segments: list[Segment] = field(default_factory=list)
    jobs: dict[str, JobRecord] = field(default_factory=dict)

    def position(self, crane: str, t: float) -> float:
        x = self.initial[crane]
        for s in self.segments:
            if s.crane == crane and s.t0 <= t:
                x = s.position(t)
        return x


@dataclass
class _Crane:
    id: str
    drive: Drive
    queue: list[JobRecord] = field(default_factory=list)


class RunwayModel:
    """An event simulation of one runway; every decision is `crane.interlock.Runway`'s (the core's rule)."""

    def __init__(
        self,
        runway_length: float,
        min_distance: float,
        cranes: list[tuple[str, float, float, float]],
        *,
        pick_time: float = 0.0,
        drop_time: float = 0.0,
    ) -> None:
        if not (runway_length > 0 and min_distance > 0 and cranes):
            raise ValueError("need a positive length, a positive distance and at least one crane")
        self.rule = Runway(runway_length, min_distance, [(c, h) for c, h, _, _ in cranes])
        self.length = runway_length
        self.d = min_distance
        self.pick_time, self.drop_time = pick_time, drop_time
        drives = {c: Drive(v, a) for c, _, v, a in cranes}
        self.cranes = [_Crane(b.id, drives[b.id]) for b in self.rule.bridges]
        self.index = dict(self.rule.index)
        self.now = 0.0
        self.log = RunwayLog(
            runway_length,
            min_distance,
            [c.id for c in self.cranes],
            {b.id: b.home for b in self.rule.bridges},
        )
        self._events: list[tuple[float, int, str, str]] = []  # (time, seq, kind, crane or job id)
        self._seq = 0
        self._pending: dict[str, JobRecord] = {}
        self._x = {b.id: b.home for b in self.rule.bridges}  # where each bridge is after its last move

    # ------------------------------------------------------------------ jobs

    def reach(self, k: int) -> tuple[float, float]:
        return self.rule.reach(k)

    def default_crane(self, job: Job) -> str:
        crane = self.rule.default_crane((job.pick, job.drop))
        if crane is None:
            raise ValueError(f"job {job.id}: no crane can reach {job.pick} and {job.drop}")
        return crane

    def submit(self, job: Job) -> str:
        """Queue a job; returns the crane it is assigned to. Raises ValueError if it cannot be done."""
        if job.id in self.log.jobs:
            raise ValueError(f"duplicate job id {job.id}")
        crane = job.crane if job.crane is not None else self.default_crane(job)
        if crane not in self.index:
            raise ValueError(f"unknown crane {crane}")
        if not self.rule.can_reach(crane, (job.pick, job.drop)):
            raise ValueError(
                f"crane {crane} cannot reach {job.pick} and {job.drop} without passing a neighbour"
            )
        rec = JobRecord(job, crane, max(job.release, self.now), len(self.log.jobs))
        self.log.jobs[job.id] = rec
        self._pending[job.id] = rec
        self._push(rec.submitted, "release", job.id)
        return crane

    # ------------------------------------------------------------------ events

    def _push(self, t: float, kind: str, ref: str) -> None:
        heapq.heappush(self._events, (t, self._seq, kind, ref))
        self._seq += 1

    def run(self, until: float | None = None) -> RunwayLog:
        """Process events up to `until` (all if None). Moves granted before `until` are logged in full."""
        self._schedule()
        while self._events and (until is None or self._events[0][0] <= until):
            t = self._events[0][0]
            self.now = t
            while self._events and self._events[0][0] <= t:
                _, _, kind, ref = heapq.heappop(self._events)
                self._handle(kind, ref)
            self._schedule()
        if until is not None:
            self.now = max(self.now, until)
        return self.log

    def _handle(self, kind: str, ref: str) -> None:
        if kind == "release":
            rec = self._pending.pop(ref)
            self.cranes[self.index[rec.crane]].queue.append(rec)
            return
        kind_, _, arg = kind.partition(":")
        if kind_ == "shrink":
            lo, hi = (float(v) for v in arg.split(","))
            self.rule.shrink(ref, lo, hi)
        elif kind_ == "done":
            self.rule.settle(ref, float(arg))

    def _move(self, c: _Crane, t0: float, x1: float) -> float:
        x0 = self._x[c.id]
        dt = travel_time(abs(x1 - x0), c.drive)
        if abs(x1 - x0) > 0:
            self.log.segments.append(Segment(c.id, t0, t0 + dt, x0, x1, c.drive.speed, c.drive.acceleration))
        self._x[c.id] = x1
        return t0 + dt

    # ------------------------------------------------------------------ scheduling

    def _schedule(self) -> None:
        heads = sorted(
            (c.queue[0] for c in self.cranes if c.queue),
            key=lambda r: (r.submitted, r.seq),
        )
        requests = [Request(r.job.id, r.crane, (r.job.pick, r.job.drop)) for r in heads]
        records = {r.job.id: r for r in heads}
        for grant in self.rule.schedule(requests):
            self._start(records[grant.request.job], grant)

    def _start(self, rec: JobRecord, grant: Grant) -> None:
        c = self.cranes[self.index[rec.crane]]
        c.queue.pop(0)
        t = self.now
        rec.started = t
        side_t = {-1: t, 1: t}
        for y in grant.yields:  # outermost first on each side: one crane of a side moves at a time
            side_t[y.side] = self._move(self.cranes[self.index[y.crane]], side_t[y.side], y.target)
            self._push(side_t[y.side], f"done:{y.target!r}", y.crane)
        ready = max(side_t.values())
        rec.moving = ready
        job = rec.job
        t1 = self._move(c, ready, job.pick) + self.pick_time
        self._push(t1, f"shrink:{min(job.pick, job.drop)!r},{max(job.pick, job.drop)!r}", c.id)
        t2 = self._move(c, t1, job.drop) + self.drop_time
        rec.end = t2
        self._push(t2, f"done:{job.drop!r}", c.id)


# ---------------------------------------------------------------------- independent check


@dataclass(frozen=True, slots=True)
class Violation:
    left: str
    right: str
    time: float
    gap: float


def check_separation(log: RunwayLog, *, tolerance: float = 1e-6, max_depth: int = 40) -> list[Violation]:
    """Violations of the minimum distance (or of the order) between adjacent cranes; empty if none.

    Works from `log.segments` alone. Between two breakpoints of either crane each position is monotone, so
    gap >= min(right at ends) - max(left at ends); windows where that bound is below the distance are
    bisected, and at the finest level the gap is evaluated at the window's ends and middle.
    """
    tracks: dict[str, list[Segment]] = {c: [] for c in log.order}
    for s in log.segments:
        tracks[s.crane].append(s)
    bad: list[Violation] = []
    for segs in tracks.values():
        segs.sort(key=lambda s: s.t0)
        for a, b in itertools.pairwise(segs):
            if b.t0 < a.t1 - tolerance or abs(b.x0 - a.x1) > tolerance:
                bad.append(Violation(a.crane, a.crane, b.t0, math.nan))

    def pos(c: str, t: float) -> float:
        x = log.initial[c]
        for s in tracks[c]:
            if s.t0 <= t:
                x = s.position(t)
            else:
                break
        return x

    d = log.min_distance
    for left, right in zip(log.order, log.order[1:], strict=False):
        if log.initial[right] - log.initial[left] < d - tolerance:
            bad.append(Violation(left, right, 0.0, log.initial[right] - log.initial[left]))
        times = sorted({0.0} | {t for s in tracks[left] + tracks[right] for t in (s.t0, s.t1)})

        def search(ta: float, tb: float, depth: int, left: str = left, right: str = right) -> float | None:
            bound = min(pos(right, ta), pos(right, tb)) - max(pos(left, ta), pos(left, tb))
            if bound >= d - tolerance:
                return None
            if depth >= max_depth or tb - ta < 1e-9:
                for t in (ta, (ta + tb) / 2, tb):
                    if pos(right, t) - pos(left, t) < d - tolerance:
                        return t
                return None
            mid = (ta + tb) / 2
            found = search(ta, mid, depth + 1)
            return found if found is not None else search(mid, tb, depth + 1)

        for ta, tb in itertools.pairwise(times):
            hit = search(ta, tb, 0)
            if hit is not None:
                bad.append(Violation(left, right, hit, pos(right, hit) - pos(left, hit)))
    return bad
