"""Statistics of one replication: running sums as things happen, KPIs and rows for the run directory at the end.

Everything is measured over the observation window [warm-up, end] of simulated time, except the rows of
`tasks.csv` and `timeseries.csv`, which cover the whole run (the report shades the warm-up).

Little's law is checked on the tasks (WMS moves: putaway, relocation, retrieval, shipment):
L = time-average number of tasks open (created, not finished) over the window, λ = tasks finished per
second in the window, W = mean lead time (created -> finished) of the tasks finished in the window. The
relative error |L - λW| / L comes from tasks open at the window's edges (the part of a lead time before
the warm-up ends is in W but not in L; tasks still open at the end are in L but not in W) and grows when
the system is not stable (work piles up): the report says how far off it is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from crane.core import CraneJobChanged, JobState, SubmitCraneJob
from crane.places import crane_xy, place_xy
from crane.yard_flow import RequestChanged, RetrievalRequested, TaskChanged
from fleet.domain.orders import OrderSpec, OrderState, OrderTransition
from fleet.domain.vehicles import VehicleState
from fleet.ports import StateChanged, VehicleEvent
from layout import Plant
from simulation.vehicles import SimGen
from wms.domain.locations import LocationKind

if TYPE_CHECKING:
    from simulation.cranes import SimCrane
    from simulation.shell import Replication

KPI_UNITS: dict[str, str] = {
    "moves_completed": "moves",
    "throughput_per_hour": "moves/h",
    "task_lead_time_p50_s": "s",
    "task_lead_time_p95_s": "s",
    "vehicle_utilisation": "fraction",
    "crane_utilisation": "fraction",
    "relocations_per_retrieval": "relocations",
    "storage_utilisation": "fraction",
    "blocked_arrival_time_s": "s",
    "shipments_on_time_rate": "fraction",
    "energy_per_move_kwh": "kWh",
    "vehicle_wait_s": "s",
    "crane_wait_s": "s",
    "arrivals": "coils",
    "retrievals_completed": "coils",
    "shipments_completed": "trucks",
    "requests_open_at_end": "requests",
    "tasks_open_at_end": "tasks",
    "littles_law_relative_error": "fraction",
}
_BUSY = (VehicleState.MOVING, VehicleState.LOADING)


@dataclass(slots=True)
class TaskRecord:
    task: str
    kind: str
    coil: str
    source: str
    target: str
    store: str
    created: float
    request: str | None
    started: float | None = None
    finished: float | None = None
    vehicle: str = ""
    crane: str = ""


class Collector:
    """Hooks the shell calls, and the sampler process; `finish()` returns the replication's results."""

    def __init__(self, rep: Replication, *, trace: bool) -> None:
        self.rep = rep
        self.env = rep.env
        self.warmup = rep.warmup
        self.end = rep.end
        self.sample_s = rep.scenario.run.sample_s
        self.trace_on = trace
        self.trace: list[dict[str, Any]] = []
        self.tasks: dict[str, TaskRecord] = {}
        self.open_tasks = 0
        self.finished_tasks = 0
        self._area = 0.0  # integral of open tasks over time
        self._area_at = 0.0
        self._area_warmup = 0.0
        self.not_started: Counter[str] = Counter()  # per store
        self.orders: dict[str, tuple[float, str | None]] = {}  # order -> (created, vehicle class)
        self.order_waits: list[float] = []
        self.unassigned: set[str] = set()
        self.orders_by_class: Counter[str] = Counter()
        self.jobs: dict[str, float] = {}
        self.crane_waits: list[float] = []
        self.jobs_by_crane: Counter[str] = Counter()
        self.requests: dict[str, tuple[float, str, float | None]] = {}  # request -> (made, kind, deadline)
        self.shipments_done: list[tuple[float, bool]] = []
        self.retrievals_done = 0
        self.arrivals = 0
        self.blocked_since: dict[str, float] = {}
        self.blocked_s: defaultdict[str, float] = defaultdict(float)
        self.relocations_of: Counter[str] = Counter()  # request -> relocations
        self.timeseries: list[tuple[float, str, str, float]] = []
        self.occupied_s: defaultdict[str, float] = defaultdict(float)
        self._occupied_since: dict[str, float] = {}
        self.store_places: dict[str, list[str]] = {}
        self._energy_warmup: dict[str, float] = {}  # vehicles and cranes: energy drawn by the warm-up
        self._vehicle_class = {vid: v.vehicle_class.id for vid, v in rep.plant.vehicles.items()}

    # ---------------------------------------------------------------------------------------- set-up

    def start(self) -> None:
        yard = self.rep.uow.yard
        for place in yard.locations.values():
            if place.store is not None and place.kind in (
                LocationKind.SADDLE,
                LocationKind.CELL,
                LocationKind.STACK,
            ):
                self.store_places.setdefault(place.store, []).append(place.id)
                if place.occupants:
                    self._occupied_since[place.id] = 0.0
        self._store_place_set = {p for places in self.store_places.values() for p in places}
        yard.watch(self._location_changed)
        if self.trace_on:
            for vehicle in self.rep.vehicles.values():
                vehicle.on_move = lambda v, node: self._trace_vehicle(v.id, node)
                self._trace_vehicle(vehicle.id, vehicle.node)
            for crane in self.rep.cranes.values():
                crane.on_move = lambda c, place: self._trace_crane(c.id, place)
                self._trace_crane(crane.id, None)
            for occupied in sorted(self._occupied_since):
                self._trace_stock(occupied)

    # ------------------------------------------------------------------------------------------ hooks

    def vehicle_event(self, event: VehicleEvent) -> None:
        if not self.trace_on or not isinstance(event, StateChanged):
            return
        if event.vehicle in self.rep.cranes:
            self._trace_crane(event.vehicle, None)
        else:
            self._trace_vehicle(event.vehicle, self.rep.vehicles[event.vehicle].node)

    def order_submitted(self, spec: OrderSpec, now: float) -> None:
        self.orders[spec.id] = (now, spec.vehicle_class)
        self.unassigned.add(spec.id)

    def order_changed(self, t: OrderTransition) -> None:
        if t.to_state is OrderState.ASSIGNED and t.order in self.unassigned:
            self.unassigned.discard(t.order)
            created = self.orders[t.order][0]
            if created >= self.warmup:
                self.order_waits.append(t.at - created)
        elif t.to_state is OrderState.FINISHED and t.at >= self.warmup and t.vehicle is not None:
            self.orders_by_class[self._vehicle_class.get(t.vehicle, "?")] += 1

    def crane_job_submitted(self, job: SubmitCraneJob, now: float) -> None:
        self.jobs[job.job] = now

    def crane_job_changed(self, change: CraneJobChanged) -> None:
        if change.state is JobState.STARTED:
            created = self.jobs.get(change.job)
            if created is not None and created >= self.warmup:
                self.crane_waits.append(change.at - created)
        elif change.state is JobState.DONE and change.at >= self.warmup and change.crane is not None:
            self.jobs_by_crane[change.crane] += 1

    def task_changed(self, change: TaskChanged) -> None:
        now = change.at
        if change.state == "created":
            self._count_open(now, +1)
            self.tasks[change.task] = TaskRecord(
                change.task,
                change.kind,
                change.coil,
                change.source,
                change.target,
                change.store,
                now,
                change.request,
            )
            self.not_started[change.store] += 1
            if change.kind == "relocation" and change.request is not None:
                self.relocations_of[change.request] += 1
            return
        record = self.tasks[change.task]
        self._note_carrier(record, change.carrier)
        if change.state == "started":
            record.started = now
            self.not_started[change.store] -= 1
        elif change.state == "finished":
            record.finished = now
            self.finished_tasks += 1
            self._count_open(now, -1)

    def _note_carrier(self, record: TaskRecord, carrier: str | None) -> None:
        if carrier is None:
            return
        if carrier in self.rep.cranes:
            record.crane = record.crane or carrier
        else:
            record.vehicle = record.vehicle or carrier

    def request_made(self, message: RetrievalRequested, now: float) -> None:
        self.requests[message.request] = (now, message.kind, message.deadline)

    def request_changed(self, change: RequestChanged) -> None:
        if change.state != "done":
            return
        made, kind, _deadline = self.requests.pop(change.request, (change.at, change.kind, None))
        if made < self.warmup:
            return
        if kind == "shipment":
            self.shipments_done.append((change.at, bool(change.on_time)))
        else:
            self.retrievals_done += 1

    def arrival(self, source: str, now: float) -> None:
        if now >= self.warmup:
            self.arrivals += 1

    def line_blocked(self, source: str, now: float, blocked: bool) -> None:
        if blocked:
            self.blocked_since[source] = now
            return
        since = self.blocked_since.pop(source, now)
        self.blocked_s[source] += max(0.0, now - max(since, self.warmup))

    def _count_open(self, now: float, delta: int) -> None:
        self._area += self.open_tasks * (now - self._area_at)
        self._area_at = now
        self.open_tasks += delta

    def _location_changed(self, location: str) -> None:
        if location not in self._store_place_set:
            if self.trace_on and location in self.rep.plant.node_points:
                self._trace_stock(location)
            return
        occupied = bool(self.rep.uow.yard.locations[location].occupants)
        now = float(self.env.now)
        since = self._occupied_since.get(location)
        if occupied and since is None:
            self._occupied_since[location] = now
        elif not occupied and since is not None:
            del self._occupied_since[location]
            self.occupied_s[location] += max(0.0, now - max(since, self.warmup))
        if self.trace_on:
            self._trace_stock(location)

    # ------------------------------------------------------------------------------------------ trace

    def _trace_vehicle(self, vid: str, node: str) -> None:
        x, y = self.rep.plant.node_points[node]
        sim = self.rep.vehicles[vid]
        self.trace.append(
            {
                "t": float(self.env.now),
                "kind": "vehicle",
                "id": vid,
                "x": x,
                "y": y,
                "state": str(sim.state),
                "load": self._load(vid),
            }
        )

    def _trace_crane(self, cid: str, place: str | None) -> None:
        crane = self.rep.cranes[cid]
        x, y = crane_position_xy(self.rep.plant, crane, place)
        self.trace.append(
            {
                "t": float(self.env.now),
                "kind": "crane",
                "id": cid,
                "x": x,
                "y": y,
                "state": str(crane.state),
                "load": self._load(cid),
            }
        )

    def _trace_stock(self, place: str) -> None:
        xy = place_xy(self.rep.plant, place)
        if xy is None:
            return
        occupants = self.rep.uow.yard.locations[place].occupants
        self.trace.append(
            {"t": float(self.env.now), "kind": "stock", "id": place, "x": xy[0], "y": xy[1],
             "state": "occupied" if occupants else "empty", "load": occupants[-1] if occupants else None}
        )  # fmt: skip

    def _load(self, carrier: str) -> str | None:
        place = self.rep.uow.yard.locations.get(carrier)
        return place.occupants[0] if place is not None and place.occupants else None

    # ---------------------------------------------------------------------------------------- sampler

    def sampler(self) -> SimGen:
        """Take the warm-up snapshot, then sample every `sample_s` from time 0 to the end."""
        env = self.env
        if self.warmup <= 0:
            self._at_warmup()
        else:
            env.timeout(self.warmup).callbacks.append(lambda _e: self._at_warmup())
        k = 0
        while k * self.sample_s <= self.end:
            t = k * self.sample_s
            yield env.timeout(t - env.now)
            self._sample(t)
            k += 1

    def _at_warmup(self) -> None:
        now = float(self.env.now)
        self._count_open(now, 0)
        self._area_warmup = self._area
        for vid, vehicle in self.rep.vehicles.items():
            vehicle._account_energy()
            self._energy_warmup[vid] = vehicle.stats.energy_kwh
        for cid, crane in self.rep.cranes.items():
            self._energy_warmup[cid] = crane.stats.energy_kwh

    def _sample(self, now: float) -> None:
        yard = self.rep.uow.yard
        rows = self.timeseries
        for store, places in sorted(self.store_places.items()):
            occupied = sum(1 for p in places if yard.locations[p].occupants)
            rows.append((now, "store_occupancy", store, occupied / len(places)))
            rows.append((now, "queue_length", store, float(self.not_started[store])))
        rows.append((now, "queue_length", "fleet", float(len(self.unassigned))))
        rows.append(
            (now, "vehicles_busy", "", float(sum(1 for v in self.rep.vehicles.values() if v.state in _BUSY)))
        )
        rows.append(
            (now, "cranes_busy", "", float(sum(1 for c in self.rep.cranes.values() if c.state in _BUSY)))
        )
        rows.append((now, "moves_completed", "", float(self.finished_tasks)))
        rows.append((now, "blocked_lines", "", float(len(self.blocked_since))))
        rows.append((now, "tasks_open", "", float(self.open_tasks)))
        traffic = self.rep.fleet_core.traffic
        waiting = sum(
            1
            for vid in self.rep.fleet_core.drives
            if len(traffic.base_of(vid)) == 1 and len(traffic.claim_of(vid)) > 1
        )
        rows.append((now, "vehicles_waiting", "", float(waiting)))  # at the end of their base: traffic

    # ----------------------------------------------------------------------------------------- finish

    def finish(self) -> dict[str, Any]:
        end, warmup = self.end, self.warmup
        window = end - warmup
        hours = window / 3600.0
        self._count_open(end, 0)
        for source, since in list(self.blocked_since.items()):
            self.blocked_s[source] += max(0.0, end - max(since, warmup))
        for place, since in self._occupied_since.items():
            self.occupied_s[place] += max(0.0, end - max(since, warmup))
        in_window = [r for r in self.tasks.values() if r.created >= warmup]
        finished_in_window = [
            r for r in self.tasks.values() if r.finished is not None and r.finished >= warmup
        ]
        lead = np.array([r.finished - r.created for r in in_window if r.finished is not None], dtype=float)
        moves = len(finished_in_window)
        retrieval_rows = [r for r in finished_in_window if r.kind in ("retrieval", "shipment")]
        relocations = sum(1 for r in finished_in_window if r.kind == "relocation")
        vehicle_util = {
            vid: v.busy_seconds(warmup, end) / window for vid, v in sorted(self.rep.vehicles.items())
        }
        crane_util = {cid: c.busy_seconds(warmup, end) / window for cid, c in sorted(self.rep.cranes.items())}
        vehicle_energy = 0.0
        for vid, vehicle in self.rep.vehicles.items():
            vehicle._account_energy()
            vehicle_energy += vehicle.stats.energy_kwh - self._energy_warmup.get(vid, 0.0)
        crane_energy = 0.0
        for cid, crane in self.rep.cranes.items():
            busy = crane_util[cid] * window  # work and auxiliary draw are summed per move, idle draw here
            work = crane.stats.energy_kwh - self._energy_warmup.get(cid, 0.0)
            crane_energy += work + crane.idle_energy_kwh(window - busy)
        samples = [
            (t, store, value)
            for t, metric, store, value in self.timeseries
            if metric == "store_occupancy" and t >= warmup
        ]
        places = {store: len(p) for store, p in self.store_places.items()}
        total_places = sum(places.values()) or 1
        by_time: dict[float, float] = defaultdict(float)
        for t, store, value in samples:
            by_time[t] += value * places[store] / total_places
        storage = float(np.mean(list(by_time.values()))) if by_time else 0.0
        little_l = (self._area - self._area_warmup) / window
        lam = moves / window  # departure rate: tasks finished in the window
        sojourn = [r.finished - r.created for r in finished_in_window if r.finished is not None]
        little_w = float(np.mean(sojourn)) if sojourn else 0.0
        little_error = abs(little_l - lam * little_w) / little_l if little_l > 0 else 0.0
        on_time = [ok for _, ok in self.shipments_done]
        late_open = sum(1 for made, kind, deadline in self.requests.values()
                        if kind == "shipment" and made >= warmup and deadline is not None and deadline < end)  # fmt: skip
        shipments_total = len(on_time) + late_open
        kpis = {
            "moves_completed": float(moves),
            "throughput_per_hour": moves / hours,
            "task_lead_time_p50_s": float(np.percentile(lead, 50)) if lead.size else 0.0,
            "task_lead_time_p95_s": float(np.percentile(lead, 95)) if lead.size else 0.0,
            "vehicle_utilisation": float(np.mean(list(vehicle_util.values()))) if vehicle_util else 0.0,
            "crane_utilisation": float(np.mean(list(crane_util.values()))) if crane_util else 0.0,
            "relocations_per_retrieval": relocations / len(retrieval_rows) if retrieval_rows else 0.0,
            "storage_utilisation": storage,
            "blocked_arrival_time_s": float(sum(self.blocked_s.values())),
            "shipments_on_time_rate": sum(on_time) / shipments_total if shipments_total else 1.0,
            "energy_per_move_kwh": (vehicle_energy + crane_energy) / moves if moves else 0.0,
            "vehicle_wait_s": float(np.mean(self.order_waits)) if self.order_waits else 0.0,
            "crane_wait_s": float(np.mean(self.crane_waits)) if self.crane_waits else 0.0,
            "arrivals": float(self.arrivals),
            "retrievals_completed": float(self.retrievals_done),
            "shipments_completed": float(len(on_time)),
            "requests_open_at_end": float(len(self.requests)),
            "tasks_open_at_end": float(self.open_tasks),
            "littles_law_relative_error": little_error,
        }
        store_moves: Counter[str] = Counter(r.store for r in finished_in_window)
        return {
            "kpis": kpis,
            "littles_law": {
                "L": little_l,
                "lambda_per_s": lam,
                "W_s": little_w,
                "lambda_W": lam * little_w,
                "relative_error": little_error,
            },
            "breakdown": {
                "throughput_per_hour_by_store": {s: store_moves[s] / hours for s in sorted(places)},
                "utilisation_by_vehicle": vehicle_util,
                "utilisation_by_crane": crane_util,
                "charging_s_by_vehicle": {
                    vid: v.charging_seconds(warmup, end) for vid, v in sorted(self.rep.vehicles.items())
                },
                "utilisation_by_charger": {
                    node: sum(v.charging_seconds(warmup, end, node) for v in self.rep.vehicles.values())
                    / window
                    for node, kind in sorted(self.rep.plant.node_kinds.items())
                    if kind == "charger"
                },
                "throughput_per_hour_by_class": {
                    c: self.orders_by_class[c] / hours for c in sorted(set(self._vehicle_class.values()))
                },
                "throughput_per_hour_by_crane": {
                    c: self.jobs_by_crane[c] / hours for c in sorted(self.rep.cranes)
                },
                "blocked_time_s_by_source": {
                    s.id: float(self.blocked_s[s.id]) for s in self.rep.scenario.sources
                },
            },
            "tasks": [self._task_row(r) for r in self.tasks.values()],
            "timeseries": self.timeseries,
            "occupancy": {p: s / window for p, s in self.occupied_s.items()},
            "trace": self.trace,
        }

    def _task_row(self, r: TaskRecord) -> dict[str, Any]:
        lead = r.finished - r.created if r.finished is not None else None
        wait = r.started - r.created if r.started is not None else None
        relocations = (
            self.relocations_of[r.request]
            if r.request is not None and r.kind in ("retrieval", "shipment")
            else 0
        )
        return {
            "task": r.task, "kind": r.kind, "coil": r.coil, "source": r.source, "target": r.target,
            "store": r.store, "created_s": r.created, "started_s": r.started, "finished_s": r.finished,
            "lead_time_s": lead, "wait_s": wait, "vehicle": r.vehicle, "crane": r.crane, "relocations": relocations,
        }  # fmt: skip


def crane_position_xy(plant: Plant, crane: SimCrane, place: str | None) -> tuple[float, float]:
    if place is not None:
        xy = place_xy(plant, place)
        if xy is not None:
            return xy
    return crane_xy(plant, crane.id, crane.along, crane.across)
