"""The crane core: every crane job of the plant behind one `handle(message, at) -> list[Effect]`. Pure.

`CraneCore(plant)` owns the plant's overhead cranes (grouped by runway, each runway under the one runway
rule `crane.interlock.Runway`) and stacker cranes (one per aisle). Cranes sit behind the fleet's vehicle
port: the core sends `fleet.ports.SendCraneMove` and reads the port's events (`OperationDone`,
`StateChanged`, `CraneAt`), so the simulation, the live adapters and `crane.fake_crane` drive it the same way.

Messages: `SubmitCraneJob`, `CancelCraneJob`, `SetSafetyZone`, `fleet.core.Tick` and the vehicle events of
crane vehicles (events of other vehicles are ignored).
Effects: `SendCraneMove` (for the VehiclePort), `CraneJobChanged` (queued, started, picked, done, failed),
`SafetyZoneChanged` (a zone closed to loaded cranes is confirmed, or opened again) and `fleet.core.WakeAt`
(never needed today: the core acts on events only).

What it guarantees (docs/cranes.md, "The crane core"):

- a crane is only sent where its runway span is reserved (`Runway.schedule`: idle neighbours yield, busy
  ones make the job wait, oldest first);
- a loaded crane never passes over a safety zone that is closed to loaded cranes; a job whose pick or drop
  lies in one fails when submitted or while still queued, a loaded move across one waits;
- a storage and a retrieval both waiting at a stacker crane are served as one dual command;
- a job starts only when every job in its `after` is done; a job whose `after` failed fails.

`at` is the shell's clock (seconds); the core never reads a clock (unless given a wall-clock search budget,
see `CraneCore.__init__`), never sleeps and does no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from crane import assignment
from crane.assignment import CraneView, JobView
from crane.interlock import Request, Runway
from crane.motion import overhead_move_time
from crane.places import (
    Coordinates,
    CraneError,
    CraneKind,
    OverheadCraneInfo,
    PlaceUnreachable,
    UnknownCrane,
    crane_coordinates,
    crane_home,
    crane_ids,
    crane_kind,
    crane_store,
    crane_xy,
    is_store_place,
    loaded_sweep,
    overhead_cranes,
    place_xy,
)
from crane.sequencing import JobKind
from crane.stacker import Request as StackerRequest
from crane.stacker import next_cycle
from fleet.core import Tick, WakeAt
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import CraneAt, OperationDone, SendCraneMove, StateChanged, VehicleEvent
from layout import Plant, schema

__all__ = [
    "CancelCraneJob",
    "CraneCore",
    "CraneError",
    "CraneJobChanged",
    "DuplicateJob",
    "Effect",
    "JobAlreadyStarted",
    "JobState",
    "Message",
    "PlaceUnreachable",
    "SafetyZoneChanged",
    "SetSafetyZone",
    "SubmitCraneJob",
    "Tick",
    "UnknownCrane",
    "UnknownJob",
    "UnknownStore",
    "UnknownZone",
    "WakeAt",
    "crane_coordinates",
    "crane_home",
    "crane_ids",
    "crane_kind",
    "crane_store",
    "crane_xy",
    "place_xy",
]

# ------------------------------------------------------------------------------------------- messages


@dataclass(frozen=True, kw_only=True)
class SubmitCraneJob:
    """Carry a load from place `pick` to place `drop` with a crane of `store`, after the jobs in `after`.

    `crane` pins the job to one crane (else the core assigns it). `weight_t` in tonnes (checked against
    the cranes' safe working load); `deadline` on the core's clock; higher `priority` first."""

    job: str
    store: str
    pick: str
    drop: str
    weight_t: float = 0.0
    deadline: float | None = None
    priority: int = 0
    after: tuple[str, ...] = ()
    crane: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelCraneJob:
    """Withdraw a job (it and the jobs waiting for it fail) as long as its crane was not sent to the pick."""

    job: str
    reason: str = "cancelled"


@dataclass(frozen=True, kw_only=True)
class SetSafetyZone:
    """A layout safety zone is switched on (closed) or off (open) by the plant (a gate, an operator)."""

    zone: str
    active: bool


Message = SubmitCraneJob | CancelCraneJob | SetSafetyZone | Tick | VehicleEvent

# -------------------------------------------------------------------------------------------- effects


class JobState(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    PICKED = "picked"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class CraneJobChanged:
    job: str
    state: JobState
    crane: str | None
    at: float
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class SafetyZoneChanged:
    """The cranes' side of a zone: `active=True` once no loaded crane is over it or heading across it."""

    zone: str
    active: bool
    at: float


Effect = SendCraneMove | CraneJobChanged | SafetyZoneChanged | WakeAt

# ------------------------------------------------------------------------------------------- errors


class UnknownJob(CraneError):
    def __init__(self, job: str) -> None:
        super().__init__(f"no crane job '{job}'")
        self.job = job


class DuplicateJob(CraneError):
    def __init__(self, job: str) -> None:
        super().__init__(f"crane job '{job}' was already submitted")
        self.job = job


class UnknownStore(CraneError):
    def __init__(self, store: str) -> None:
        super().__init__(f"no store '{store}' with cranes in the plant")
        self.store = store


class UnknownZone(CraneError):
    def __init__(self, zone: str) -> None:
        super().__init__(f"no safety zone '{zone}' in the plant")
        self.zone = zone


class JobAlreadyStarted(CraneError):
    def __init__(self, job: str, crane: str | None) -> None:
        super().__init__(f"crane job '{job}' already started on {crane}; it ends where it is going")
        self.job = job


class InvalidJob(CraneError):
    pass


# ------------------------------------------------------------------------------------------- internals

_OUT = (VehicleState.ERROR, VehicleState.UNAVAILABLE)
SEARCH_EVALUATIONS = 5_000  # candidate orders per sequencing decision (bench/crane_bench.py: tens of ms)


@dataclass(slots=True)
class _Job:
    id: str
    store: str
    pick: str
    drop: str
    priority: int
    deadline: float | None
    after: tuple[str, ...]
    seq: int
    points: dict[str, tuple[Coordinates, Coordinates]]  # crane -> (pick, drop) coordinates
    kind: JobKind
    state: JobState = JobState.QUEUED
    crane: str | None = None  # assigned (head) or working crane


@dataclass(slots=True)
class _Leg:
    """One command for one crane: `order` is a job id or a yield id."""

    order: str
    along: float
    across: float
    operation: Operation
    place: str | None
    job: str | None  # the job the leg serves (a yield: the job it makes room for)
    waits: set[str] = field(default_factory=set)  # legs (orders) that must be done before it is sent


@dataclass(slots=True)
class _Crane:
    id: str
    kind: CraneKind
    group: str
    position: Coordinates
    overhead: OverheadCraneInfo | None = None
    stacker: schema.StackerCrane | None = None
    legs: list[_Leg] = field(default_factory=list)  # to send, in order
    current: _Leg | None = None  # sent, not reported done
    head: str | None = None  # job chosen next, waiting for its span
    load: int = 0
    out: bool = False

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self.legs)


class CraneCore:
    """Crane jobs, cranes, runways and safety zones of one plant behind one `handle(message, at)`.

    The local search of `crane.sequencing` is bounded by `search_evaluations` candidate orders per decision
    (machine-independent, so every run takes the same decisions), `search_passes`, and optionally
    `search_budget` seconds of wall clock (default none: a wall-clock limit makes decisions depend on the
    machine's load).
    """

    def __init__(
        self,
        plant: Plant,
        *,
        search_evaluations: int = SEARCH_EVALUATIONS,
        search_passes: int = 50,
        search_budget: float = math.inf,
    ) -> None:
        self.plant = plant
        self.search_evaluations = search_evaluations
        self.search_budget = search_budget
        self.search_passes = search_passes
        self.cranes: dict[str, _Crane] = {}
        self.runways: dict[str, Runway] = {}
        self.groups: dict[str, list[str]] = {}
        infos = overhead_cranes(plant)
        for _store, crane in plant.overhead_cranes():
            info = infos[crane.id]
            self.cranes[crane.id] = _Crane(crane.id, "overhead", info.group, (crane.home, 0.0), overhead=info)
            self.groups.setdefault(info.group, []).append(crane.id)
        for group, members in self.groups.items():
            first = infos[members[0]]
            self.runways[group] = Runway(
                first.frame.length,
                first.runway.min_crane_distance,
                [(c, infos[c].spec.home) for c in members],
            )
        for sid, stacker in sorted(plant.stacker_cranes.items()):
            self.cranes[sid] = _Crane(sid, "stacker", sid, (0.0, 0.0), stacker=stacker.spec)
            self.groups[sid] = [sid]
        self.store_cranes: dict[str, list[str]] = {}
        for cid in self.cranes:
            self.store_cranes.setdefault(crane_store(plant, cid), []).append(cid)
        self.jobs: dict[str, _Job] = {}
        self.open: dict[str, _Job] = {}  # jobs not done nor failed, in submission order
        zones = plant.safety_zones
        self.zone_polygons = {z.id: plant.zone_polygons[z.id] for z in zones}
        self.crane_zones = {z.id for z in zones if "loaded_cranes" in z.applies_to}
        self.closed: set[str] = {z.id for z in zones if z.active and z.id in self.crane_zones}
        self.confirmed: set[str] = set(self.closed)
        self._yields = itertools.count(1)
        self._seq = itertools.count()

    # ------------------------------------------------------------------------------------------ queries

    def job_state(self, job: str) -> JobState:
        return self._job(job).state

    def job_crane(self, job: str) -> str | None:
        return self._job(job).crane

    def open_jobs(self) -> list[str]:
        return sorted(self.open)

    def runway_of(self, crane: str) -> Runway | None:
        return self.runways.get(self.cranes[crane].group)

    # ------------------------------------------------------------------------------------- entry point

    def handle(self, message: Message, at: float) -> list[Effect]:
        """Apply one message; return what should happen next (crane moves, job and zone changes)."""
        out: list[Effect] = []
        if isinstance(message, SubmitCraneJob):
            out += self._submit(message, at)
        elif isinstance(message, CancelCraneJob):
            out += self._cancel(message, at)
        elif isinstance(message, SetSafetyZone):
            out += self._set_zone(message, at)
        elif isinstance(message, OperationDone):
            out += self._operation_done(message, at)
        elif isinstance(message, StateChanged):
            out += self._state_changed(message, at)
        elif isinstance(message, CraneAt):
            crane = self.cranes.get(message.vehicle)
            if crane is not None and crane.kind == "overhead" and not crane.busy:
                crane.position = (message.along, crane.position[1])
                runway = self.runway_of(crane.id)
                if runway is not None:
                    runway.seen_at(crane.id, message.along)
        out += self._decide(at)
        out += self._send_ready()
        out += self._confirm_zones(at)
        return out

    # ------------------------------------------------------------------------------------------ jobs

    def _job(self, job: str) -> _Job:
        try:
            return self.jobs[job]
        except KeyError:
            raise UnknownJob(job) from None

    def _submit(self, m: SubmitCraneJob, at: float) -> list[Effect]:
        if m.job in self.jobs:
            raise DuplicateJob(m.job)
        if m.store not in self.store_cranes:
            raise UnknownStore(m.store)
        unknown = [a for a in m.after if a not in self.jobs]
        if unknown:
            raise InvalidJob(f"crane job '{m.job}' waits for unknown job(s): {', '.join(unknown)}")
        if m.weight_t < 0 or not math.isfinite(m.weight_t):
            raise InvalidJob(f"crane job '{m.job}': weight_t must be a non-negative number, got {m.weight_t}")
        candidates = self.store_cranes[m.store] if m.crane is None else [m.crane]
        if m.crane is not None and m.crane not in self.store_cranes[m.store]:
            raise InvalidJob(f"crane job '{m.job}': crane '{m.crane}' is not a crane of store {m.store}")
        points: dict[str, tuple[Coordinates, Coordinates]] = {}
        why: list[str] = []
        for cid in candidates:
            crane = self.cranes[cid]
            try:
                pick = crane_coordinates(self.plant, cid, m.pick)
                drop = crane_coordinates(self.plant, cid, m.drop)
            except PlaceUnreachable as error:
                why.append(str(error))
                continue
            if m.weight_t > self._swl(crane):
                why.append(f"{m.weight_t} t is over the safe working load of {cid} ({self._swl(crane)} t)")
                continue
            runway = self.runway_of(cid)
            if runway is not None and not runway.can_reach(cid, (pick[0], drop[0])):
                why.append(f"{cid} cannot reach along {pick[0]:.2f} and {drop[0]:.2f} m past its neighbours")
                continue
            points[cid] = (pick, drop)
        if not points:
            raise PlaceUnreachable(m.pick if m.pick else m.drop, f"store {m.store}", "; ".join(why))
        kind: JobKind = (
            "relocation"
            if is_store_place(self.plant, m.pick) and is_store_place(self.plant, m.drop)
            else "retrieval"
            if is_store_place(self.plant, m.pick)
            else "putaway"
        )
        job = _Job(
            m.job, m.store, m.pick, m.drop, m.priority, m.deadline, m.after, next(self._seq), points, kind
        )
        self.jobs[job.id] = job
        self.open[job.id] = job
        out: list[Effect] = [CraneJobChanged(job=job.id, state=JobState.QUEUED, crane=None, at=at)]
        failed = [a for a in m.after if self.jobs[a].state is JobState.FAILED]
        inside = self._inside_closed(job)
        if failed:
            out += self._fail(job, at, f"job {failed[0]} it waits for failed")
        elif inside is not None:
            out += self._fail(job, at, inside)
        return out

    def _swl(self, crane: _Crane) -> float:
        if crane.overhead is not None:
            return crane.overhead.spec.safe_working_load
        assert crane.stacker is not None
        return crane.stacker.safe_working_load

    def _cancel(self, m: CancelCraneJob, at: float) -> list[Effect]:
        job = self._job(m.job)
        if job.state in (JobState.DONE, JobState.FAILED):
            return []
        if job.state is JobState.QUEUED:
            return self._fail(job, at, m.reason)
        crane = self.cranes[job.crane] if job.crane is not None else None
        if job.state is not JobState.STARTED or crane is None or self._sent(crane, job):
            raise JobAlreadyStarted(job.id, job.crane)
        return self._withdraw(crane, job, at, m.reason)  # granted, but its crane not sent to the pick yet

    def _sent(self, crane: _Crane, job: _Job) -> bool:
        """Whether the crane was sent a command of the job (then it ends where it is going)."""
        return crane.current is not None and crane.current.order == job.id

    def _withdraw(self, crane: _Crane, job: _Job, at: float, reason: str) -> list[Effect]:
        """Fail a started job whose crane has not been sent anything for it; the crane is free again."""
        crane.legs = [leg for leg in crane.legs if leg.order != job.id]
        if not crane.busy:
            self._settle(crane)
        return self._fail(job, at, reason)

    def _fail(self, job: _Job, at: float, reason: str) -> list[Effect]:
        """Fail a job and, transitively, every job waiting for it; free a crane it was chosen for."""
        out: list[Effect] = []
        todo = [(job, reason)]
        while todo:
            j, why = todo.pop(0)
            if j.state in (JobState.DONE, JobState.FAILED):
                continue
            if j.crane is not None and self.cranes[j.crane].head == j.id:
                self.cranes[j.crane].head = None
            j.state = JobState.FAILED
            out.append(CraneJobChanged(job=j.id, state=JobState.FAILED, crane=j.crane, at=at, reason=why))
            self.open.pop(j.id, None)
            todo += [(w, f"job {j.id} it waits for failed") for w in self.open.values() if j.id in w.after]
        return out

    def _ready(self, job: _Job) -> bool:
        return all(self.jobs[a].state is JobState.DONE for a in job.after)

    # ------------------------------------------------------------------------------------------ zones

    def _closed_polygons(self) -> list[tuple[str, BaseGeometry]]:
        return [(z, self.zone_polygons[z]) for z in sorted(self.closed)]

    def _inside_closed(self, job: _Job) -> str | None:
        """Why the job cannot be done while zones are as they are (a place inside a closed zone), or None."""
        for zone, polygon in self._closed_polygons():
            for role, place in (("pick", job.pick), ("drop", job.drop)):
                xy = place_xy(self.plant, place)
                if xy is not None and polygon.covers(Point(xy)):
                    return f"{role} {place} lies in safety zone {zone}, closed to loaded cranes"
        return None

    def _crosses_closed(
        self, crane: str, start: Coordinates, end: Coordinates, *, leaving: bool = False
    ) -> bool:
        """Whether a load carried from `start` to `end` would pass over a closed zone. With `leaving`, a zone
        the load is already in and the end is not is no obstacle: carrying the load out is the safe move."""
        closed = self._closed_polygons()
        if not closed:
            return False
        sweep = loaded_sweep(self.plant, crane, start, end)
        for _, polygon in closed:
            if leaving and self._point_in(crane, start, polygon) and not self._point_in(crane, end, polygon):
                continue
            if sweep.intersects(polygon):
                return True
        return False

    def _set_zone(self, m: SetSafetyZone, at: float) -> list[Effect]:
        if m.zone not in self.zone_polygons:
            raise UnknownZone(m.zone)
        if m.zone not in self.crane_zones:
            return []  # a zone for vehicles only
        out: list[Effect] = []
        if not m.active:
            self.closed.discard(m.zone)
            if m.zone in self.confirmed:
                self.confirmed.discard(m.zone)
            out.append(SafetyZoneChanged(zone=m.zone, active=False, at=at))
            return out
        if m.zone in self.closed:
            return []
        self.closed.add(m.zone)
        for job in list(self.open.values()):
            if job.state is JobState.QUEUED:
                inside = self._inside_closed(job)
                if inside is not None:
                    out += self._fail(job, at, inside)
            elif job.state is JobState.STARTED and job.crane is not None:
                out += self._abort_unsent(job, at)
        return out

    def _abort_unsent(self, job: _Job, at: float) -> list[Effect]:
        """A started job whose pick command is not sent yet and whose place lies in a zone just closed."""
        inside = self._inside_closed(job)
        crane = self.cranes[job.crane] if job.crane is not None else None
        if inside is None or crane is None or self._sent(crane, job):
            return []
        return self._withdraw(crane, job, at, inside)

    def _confirm_zones(self, at: float) -> list[Effect]:
        """Confirm closed zones that no crane's move in progress would put a load over."""
        out: list[Effect] = []
        for zone in sorted(self.closed - self.confirmed):
            polygon = self.zone_polygons[zone]
            if not any(self._move_touches(crane, polygon) for crane in self.cranes.values()):
                self.confirmed.add(zone)
                out.append(SafetyZoneChanged(zone=zone, active=True, at=at))
        return out

    def _move_touches(self, crane: _Crane, polygon: BaseGeometry) -> bool:
        """Whether the crane's move in progress carries a load over `polygon` or picks one up inside it, or the
        crane stands there with a load (a zone closing on it is confirmed once the load has been carried out)."""
        leg = crane.current
        if leg is None:
            return crane.load > 0 and self._point_in(crane.id, crane.position, polygon)
        end = (leg.along, leg.across)
        if crane.load > 0 and loaded_sweep(self.plant, crane.id, crane.position, end).intersects(polygon):
            return True
        return leg.operation is Operation.PICK and self._point_in(crane.id, end, polygon)

    def _point_in(self, crane: str, point: Coordinates, polygon: BaseGeometry) -> bool:
        return bool(polygon.covers(Point(crane_xy(self.plant, crane, *point))))

    # ------------------------------------------------------------------------------------- crane events

    def _operation_done(self, event: OperationDone, at: float) -> list[Effect]:
        crane = self.cranes.get(event.vehicle)
        if crane is None or crane.current is None or crane.current.order != event.order:
            return []
        leg = crane.current
        crane.current = None
        crane.position = (leg.along, leg.across)
        out: list[Effect] = []
        job = self.jobs.get(leg.job) if leg.job is not None else None
        if leg.operation is Operation.PICK and job is not None and leg.order == job.id:
            crane.load += 1
            job.state = JobState.PICKED
            out.append(CraneJobChanged(job=job.id, state=JobState.PICKED, crane=crane.id, at=at))
            runway = self.runway_of(crane.id)
            if runway is not None:
                pick, drop = job.points[crane.id]
                runway.shrink(crane.id, min(pick[0], drop[0]), max(pick[0], drop[0]))
        elif leg.operation is Operation.DROP and job is not None and leg.order == job.id:
            crane.load = max(0, crane.load - 1)
            job.state = JobState.DONE
            self.open.pop(job.id, None)
            out.append(CraneJobChanged(job=job.id, state=JobState.DONE, crane=crane.id, at=at))
        if not crane.busy:
            self._settle(crane)
        return out

    def _settle(self, crane: _Crane) -> None:
        runway = self.runway_of(crane.id)
        if runway is not None and not crane.out:
            runway.settle(crane.id, crane.position[0])

    def _state_changed(self, event: StateChanged, at: float) -> list[Effect]:
        crane = self.cranes.get(event.vehicle)
        if crane is None:
            return []
        runway = self.runway_of(crane.id)
        if event.state in _OUT:
            if crane.out:
                return []
            crane.out = True
            if runway is not None:
                runway.set_out(crane.id, True)
            why = f"crane {crane.id} {event.state}" + (f": {event.error}" if event.error else "")
            out: list[Effect] = []
            if crane.head is not None:
                self.jobs[crane.head].crane = None
                crane.head = None
            doomed = {leg.job for leg in [crane.current, *crane.legs] if leg is not None and leg.job}
            crane.current, crane.legs = None, []
            crane.load = 0
            for job_id in sorted(doomed, key=lambda j: self.jobs[j].seq):
                job = self.jobs[job_id]
                if job.crane == crane.id:
                    out += self._fail(job, at, why)
                else:  # this crane was yielding for a job of another crane
                    out += self._abort_for_yield(job, at, why)
            return out
        if crane.out and event.state is VehicleState.IDLE:
            crane.out = False
            if runway is not None:
                runway.set_out(crane.id, False)
                bridge = runway.bridge(crane.id)
                bridge.busy = False  # it holds what it held (its position is not known better)
                bridge.x_lo, bridge.x_hi = bridge.lo, bridge.hi
        return []

    def _abort_for_yield(self, job: _Job, at: float, why: str) -> list[Effect]:
        if job.crane is None or job.state is not JobState.STARTED:
            return []
        other = self.cranes[job.crane]
        if self._sent(other, job):
            return []  # already on its way: the span it needs is clear
        return self._withdraw(other, job, at, f"the crane yielding for it went out of service ({why})")

    # ------------------------------------------------------------------------------------------ decide

    def _decide(self, at: float) -> list[Effect]:
        out: list[Effect] = []
        for group, members in self.groups.items():
            if group in self.runways:
                out += self._decide_runway(group, members, at)
            else:
                out += self._decide_stacker(self.cranes[members[0]], at)
        return out

    def _startable(self, job: _Job, crane: str) -> bool:
        if job.state is not JobState.QUEUED or not self._ready(job):
            return False
        pick, drop = job.points[crane]
        return not self._crosses_closed(crane, pick, drop)

    def _startable_id(self, job: str, crane: str) -> bool:
        return self._startable(self.jobs[job], crane)

    def _view(self, job: _Job, cranes: Sequence[str]) -> JobView:
        return JobView(
            job.id,
            job.kind,
            {c: job.points[c] for c in cranes if c in job.points},
            job.priority,
            job.deadline,
            job.after,
            job.seq,
        )

    def _decide_runway(self, group: str, members: list[str], at: float) -> list[Effect]:
        runway = self.runways[group]
        for cid in members:  # a head a zone now holds goes back to the pool
            crane = self.cranes[cid]
            if crane.head is not None and not self._startable(self.jobs[crane.head], cid):
                self.jobs[crane.head].crane = None
                crane.head = None
        free = [
            c
            for c in members
            if not self.cranes[c].busy and not self.cranes[c].out and self.cranes[c].head is None
        ]
        if free:
            pool = [
                j
                for j in self.open.values()
                if j.state is JobState.QUEUED and j.crane is None and any(c in j.points for c in members)
            ]
            if any(self._startable(j, c) for j in pool for c in free if c in j.points):
                self._choose_heads(members, free, pool, at)  # the search runs only when a job may start
        heads = sorted(
            (self.jobs[h] for c in members if (h := self.cranes[c].head) is not None), key=lambda j: j.seq
        )
        requests = []
        for job in heads:
            assert job.crane is not None
            pick, drop = job.points[job.crane]
            requests.append(Request(job.id, job.crane, (pick[0], drop[0])))
        out: list[Effect] = []
        for grant in runway.schedule(requests):
            job = self.jobs[grant.request.job]
            crane = self.cranes[grant.request.crane]
            crane.head = None
            waits: set[str] = set()
            previous: dict[int, str] = {}
            for y in grant.yields:
                other = self.cranes[y.crane]
                order = f"yield-{next(self._yields)}"
                leg = _Leg(order, y.target, other.position[1], Operation.MOVE, None, job.id)
                if y.side in previous:
                    leg.waits.add(previous[y.side])
                previous[y.side] = order
                other.legs.append(leg)
                waits.add(order)
            out += self._start(job, crane, waits, at)
        return out

    def _choose_heads(self, members: list[str], free: list[str], pool: list[_Job], at: float) -> None:
        live = [c for c in members if not self.cranes[c].out]
        views = [self._view(j, live) for j in pool]
        views = [v for v in views if v.points]
        cranes = [CraneView(c, self._spec(c), self._end_position(c), self._busy_for(c)) for c in live]
        shares = assignment.partition(views, cranes)
        priorities = assignment.effective_priorities(
            [self._view(j, live) for j in self.open.values() if j.state is JobState.QUEUED]
        )
        for cid in free:
            share = [v for v in views if shares.get(v.id) == cid]
            view = next(c for c in cranes if c.id == cid)
            chosen = assignment.next_job(
                view,
                share,
                priorities,
                partial(self._startable_id, crane=cid),
                at,
                time_budget=self.search_budget,
                max_passes=self.search_passes,
                max_evaluations=self.search_evaluations,
            )
            if chosen is not None:
                self.cranes[cid].head = chosen
                self.jobs[chosen].crane = cid

    def _spec(self, crane: str) -> schema.OverheadCrane:
        info = self.cranes[crane].overhead
        assert info is not None
        return info.spec

    def _busy_for(self, crane: str) -> float:
        """Rough seconds until the crane's jobs in hand are done: each one's loaded move from where it is."""
        c = self.cranes[crane]
        spec = self._spec(crane)
        jobs = {leg.job for leg in [*([c.current] if c.current else []), *c.legs] if leg.job is not None}
        total = 0.0
        for job_id in sorted(jobs):
            job = self.jobs[job_id]
            if job.crane == crane and job.state in (JobState.STARTED, JobState.PICKED):
                total += overhead_move_time(spec, c.position, job.points[crane][1])
        return total

    def _end_position(self, crane: str) -> Coordinates:
        c = self.cranes[crane]
        legs = [*([c.current] if c.current else []), *c.legs]
        return (legs[-1].along, legs[-1].across) if legs else c.position

    def _start(self, job: _Job, crane: _Crane, waits: set[str], at: float) -> list[Effect]:
        pick, drop = job.points[crane.id]
        job.crane = crane.id
        job.state = JobState.STARTED
        crane.legs.append(_Leg(job.id, pick[0], pick[1], Operation.PICK, job.pick, job.id, waits))
        crane.legs.append(_Leg(job.id, drop[0], drop[1], Operation.DROP, job.drop, job.id))
        return [CraneJobChanged(job=job.id, state=JobState.STARTED, crane=crane.id, at=at)]

    def _decide_stacker(self, crane: _Crane, at: float) -> list[Effect]:
        if crane.busy or crane.out:
            return []
        assert crane.stacker is not None
        ready = [j for j in self.open.values() if crane.id in j.points and self._startable(j, crane.id)]
        if not ready:
            return []
        priorities = assignment.effective_priorities(
            [self._view(j, [crane.id]) for j in self.open.values() if j.state is JobState.QUEUED]
        )
        ready.sort(key=lambda j: (-priorities[j.id], j.seq))
        top = [j for j in ready if priorities[j.id] == priorities[ready[0].id]]
        storages = [j for j in top if j.kind == "putaway"]
        retrievals = [j for j in top if j.kind == "retrieval"]
        first = top[0]
        if first.kind == "relocation" or not (storages or retrievals):
            chosen = [first]
        else:
            cycle = next_cycle(
                [StackerRequest(j.id, j.points[crane.id][1]) for j in storages],
                [StackerRequest(j.id, j.points[crane.id][0]) for j in retrievals],
                crane.stacker,
            )
            chosen = [self.jobs[i] for i in (cycle.storage, cycle.retrieval) if i is not None]
        out: list[Effect] = []
        for job in chosen:
            out += self._start(job, crane, set(), at)
        return out

    # ------------------------------------------------------------------------------------------- send

    def _pick_held(self, crane: _Crane, leg: _Leg) -> bool:
        closed = self._closed_polygons()
        if not closed:
            return False
        end = (leg.along, leg.across)
        if any(self._point_in(crane.id, end, polygon) for _, polygon in closed):
            return True
        job = self.jobs.get(leg.job) if leg.job is not None else None
        if job is None or leg.order != job.id:
            return False
        pick, drop = job.points[crane.id]
        return self._crosses_closed(crane.id, pick, drop)

    def _send_ready(self) -> list[Effect]:
        """Send every crane its next leg if the legs it waits for are done and no closed zone is in its way."""
        out: list[Effect] = []
        pending = {
            leg.order for c in self.cranes.values() for leg in [*([c.current] if c.current else []), *c.legs]
        }
        for crane in self.cranes.values():
            if crane.current is not None or not crane.legs or crane.out:
                continue
            leg = crane.legs[0]
            if leg.waits & pending:
                continue
            end = (leg.along, leg.across)
            if crane.load > 0 and self._crosses_closed(crane.id, crane.position, end, leaving=True):
                continue  # loaded: wait where it stands until the zone opens
            if leg.operation is Operation.PICK and self._pick_held(crane, leg):
                continue  # never lift a load inside a closed zone, nor one it could not carry on
            crane.legs.pop(0)
            crane.current = leg
            out.append(
                SendCraneMove(
                    vehicle=crane.id,
                    order=leg.order,
                    along=leg.along,
                    across=leg.across,
                    operation=leg.operation,
                    place=leg.place,
                )
            )
        return out
