"""The SimPy shell: one replication of the yard twin, running the real WMS, fleet, crane and yard-flow code.

Per replication there is one `simpy.Environment` and, inside it, one of each core: the WMS message bus on
an in-memory unit of work, `fleet.core.FleetCore`, `crane.core.CraneCore` and `crane.yard_flow.YardFlow`.
The simulated vehicles and cranes (`simulation.vehicles`, `simulation.cranes`) sit behind one vehicle port.

The shell only moves messages: whenever the port has events it pumps them (at the same simulated time)
into the core that owns the vehicle, and every effect goes where it belongs: port commands to the port,
order and crane-job changes to the yard flow, the flow's orders and jobs to the fleet and crane cores,
`WakeAt` to a timer that sends that core a `Tick`. After each pump with fleet activity the fleet core gets
a `Tick` at once (dispatch and allocation react to events); its own `WakeAt` is only a fallback, every
`run.fleet_tick_s`. Scenario processes (sources, demand, breakdowns) and the statistics sampler are SimPy
processes too. Nothing here decides anything about stock, vehicles or cranes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from crane.core import CraneCore, CraneJobChanged, SubmitCraneJob
from crane.places import crane_home, crane_ids, crane_kind
from crane.yard_flow import CoilArrived, RequestChanged, RetrievalRequested, TaskChanged, YardFlow
from fleet.core import FleetCore, OrderChanged, SubmitOrder, Tick, WakeAt
from fleet.domain.orders import OrderState
from fleet.domain.vehicles import VehicleState
from fleet.ports import (
    Cancel,
    EnergyReport,
    OperationDone,
    Pause,
    Progress,
    Resume,
    SendCraneMove,
    SendRoute,
    StateChanged,
    VehicleEvent,
)
from layout import Plant
from layout import schema as plant_schema
from simulation.calendar import next_open
from simulation.cranes import SimCrane
from simulation.draws import draw, draw_choice
from simulation.scenario import Failure, ScenarioFile, Source
from simulation.stats import Collector
from simulation.vehicles import SimFleet, SimGen, SimVehicle
from wms.domain.errors import WmsError
from wms.service_layer import commands as cmd
from wms.service_layer.in_memory import InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus

ARCHIVE_S = 3600.0  # how often finished transport orders leave the fleet core's book


def archive_finished_orders(core: FleetCore) -> int:
    """Drop finished orders from the fleet core's order book; returns how many.

    The book keeps every order forever and the dispatcher scans all of them on each tick, so a week of
    orders would make every tick slower. Finished orders are never looked up again (drives and vehicles
    only refer to open ones; the twin uses no sequences or dependencies). Their transitions stay in
    `book.events`. A workaround until the book keeps an index of open orders (reported to the fleet core).
    """
    book = core.book
    done = [oid for oid, order in book.orders.items() if order.state is OrderState.FINISHED]
    for oid in done:
        del book.orders[oid]
    return len(done)


class SimClock:
    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)


@dataclass
class ReplicationSetup:
    plant: Plant
    scenario: ScenarioFile
    index: int
    seed_sequence: np.random.SeedSequence
    hours: float
    warmup_hours: float
    trace: bool = False
    progress: Callable[[float], None] | None = None  # fraction of simulated time done


@dataclass
class Line:
    """A production line's exit: coils waiting there, and the time it was blocked."""

    source: Source
    handover: str
    waiting: int = 0
    freed: simpy.Event | None = None
    blocked_since: float | None = None


@dataclass
class Replication:
    setup: ReplicationSetup
    env: simpy.Environment = field(init=False)

    def __post_init__(self) -> None:
        setup = self.setup
        plant, scenario = setup.plant, setup.scenario
        self.plant = plant
        self.scenario = scenario
        self.env = simpy.Environment()
        streams = setup.seed_sequence.spawn(5)
        self.rng_sources = np.random.default_rng(streams[0])
        self.rng_demand = np.random.default_rng(streams[1])
        self.rng_failures = np.random.default_rng(streams[2])
        self.rng_handling = np.random.default_rng(streams[3])
        self.rng_stock = np.random.default_rng(streams[4])
        self.end = setup.hours * 3600.0
        self.warmup = setup.warmup_hours * 3600.0
        self.uow = InMemoryUnitOfWork(plant)
        self.bus = MessageBus(self.uow, SimClock(self.env))
        self.fleet_core = FleetCore(plant, tick_interval=scenario.run.fleet_tick_s)
        self.crane_core = CraneCore(plant)
        self.flow = YardFlow(plant, self.bus, lambda: self.uow.yard, router=self.fleet_core.router)
        self.port = SimFleet(self._notify)
        self.crane_ids = set(crane_ids(plant))
        self.vehicles: dict[str, SimVehicle] = {}
        self.cranes: dict[str, SimCrane] = {}
        self.stats = Collector(self, trace=setup.trace)
        self._build_units()
        self._pump_pending = False
        self._fleet_tick_at: float | None = None
        self._crane_tick_at: float | None = None
        self._flow_tick_at: float | None = None
        self._fleet_dirty = False
        self._archived_at = 0.0
        self._lines: dict[str, Line] = {}
        self._coil_line: dict[str, Line] = {}
        self._requests = 0

    # ---------------------------------------------------------------------------------------- building

    def _build_units(self) -> None:
        model = self.scenario.vehicles
        for vid, vehicle in sorted(self.plant.vehicles.items()):
            sim = SimVehicle(
                self.env, vid, spec=vehicle.vehicle_class, home=vehicle.home, plant=self.plant,
                emit=self.port.emit, rng=np.random.default_rng(self.rng_handling.integers(2**63)),
                charging=model.charging == "opportunity", exponential_handling=model.handling == "exponential",
            )  # fmt: skip
            self.vehicles[vid] = sim
            self.port.add(vid, sim)
        cranes = self.scenario.cranes
        specs: dict[str, plant_schema.OverheadCrane | plant_schema.StackerCrane] = {
            c.id: c for _, c in self.plant.overhead_cranes()
        }
        specs.update({sid: s.spec for sid, s in self.plant.stacker_cranes.items()})
        for cid in sorted(self.crane_ids):
            overhead = crane_kind(self.plant, cid) == "overhead"
            sim_crane = SimCrane(
                self.env, cid, specs[cid], crane_home(self.plant, cid), self.port.emit,
                constant_speed=cranes.constant_speed,
                power_kw=cranes.overhead_kw if overhead else cranes.stacker_kw, idle_kw=cranes.idle_kw,
            )  # fmt: skip
            self.cranes[cid] = sim_crane
            self.port.add(cid, sim_crane)

    # -------------------------------------------------------------------------------------------- pumping

    def _notify(self) -> None:
        if not self._pump_pending:
            self._pump_pending = True
            self.env.timeout(0).callbacks.append(self._pump)

    def _pump(self, _event: object = None) -> None:
        self._pump_pending = False
        now = float(self.env.now)
        while True:
            events = self.port.drain()
            for event in events:
                self._vehicle_event(event, now)
                if isinstance(event, Progress) and self._fleet_dirty:
                    # Tick right after a progress that someone waits for: a vehicle coming back from a
                    # retreat in the same batch must not re-take what it freed before the one it made room for.
                    self._fleet_dirty = False
                    self._apply_fleet(self.fleet_core.handle(Tick(), now), now)
            if self._fleet_dirty:
                self._fleet_dirty = False
                self._apply_fleet(self.fleet_core.handle(Tick(), now), now)
            elif not events:
                break
        if now - self._archived_at >= ARCHIVE_S:
            self._archived_at = now
            archive_finished_orders(self.fleet_core)

    def _vehicle_event(self, event: VehicleEvent, now: float) -> None:
        self.stats.vehicle_event(event)
        if event.vehicle in self.crane_ids:
            self._apply_crane(self.crane_core.handle(event, now), now)
            return
        if self._needs_tick(event):
            self._fleet_dirty = True
        self._apply_fleet(self.fleet_core.handle(event, now), now)
        if isinstance(event, OperationDone):
            self._apply_flow(self.flow.handle(event, now), now)

    def _needs_tick(self, event: VehicleEvent) -> bool:
        """Whether a fleet Tick after this event could change anything. A vehicle that finished, failed,
        recovered or charged may take an order (dispatch); a progress frees resources someone may wait for.
        Starting to move or load, and arriving, change nothing a Tick looks at (the fallback tick still runs)."""
        if isinstance(event, OperationDone | EnergyReport):
            return True
        if isinstance(event, StateChanged):
            return event.state not in (VehicleState.MOVING, VehicleState.LOADING, VehicleState.CHARGING)
        if isinstance(event, Progress):
            return self._fleet_waits()
        return False

    def _fleet_waits(self) -> bool:
        """Whether a vehicle stands at the end of its released base with more to drive (allocation,
        deadlocks), or waits to be sent on after a retreat."""
        core = self.fleet_core
        if core.resume or core.hold:
            return True
        traffic = core.traffic
        for vid in core.drives:
            base = traffic.base_of(vid)
            if len(base) == 1 and len(traffic.claim_of(vid)) > 1:
                return True
        return False

    def _apply_fleet(self, effects: list[Any], now: float) -> None:
        for effect in effects:
            if isinstance(effect, SendRoute | Cancel | Pause | Resume):
                self.port.send(effect)
            elif isinstance(effect, OrderChanged):
                self.stats.order_changed(effect.transition)
                if effect.transition.to_state in (OrderState.FAILED, OrderState.CANCELLED):
                    self._apply_flow(self.flow.handle(effect, now), now)
            elif isinstance(effect, WakeAt):
                self._fleet_tick_at = self._schedule(self._fleet_tick_at, effect.at, self._fleet_tick)

    def _apply_crane(self, effects: list[Any], now: float) -> None:
        for effect in effects:
            if isinstance(effect, SendCraneMove):
                self.port.send(effect)
            elif isinstance(effect, CraneJobChanged):
                self.stats.crane_job_changed(effect)
                self._apply_flow(self.flow.handle(effect, now), now)
            elif isinstance(effect, WakeAt):
                self._crane_tick_at = self._schedule(self._crane_tick_at, effect.at, self._crane_tick)

    def _apply_flow(self, effects: list[Any], now: float) -> None:
        queue = deque(effects)
        while queue:
            effect = queue.popleft()
            if isinstance(effect, SubmitOrder):
                self.stats.order_submitted(effect.spec, now)
                self._fleet_dirty = True
                self._apply_fleet(self.fleet_core.handle(effect, now), now)
            elif isinstance(effect, SubmitCraneJob):
                self.stats.crane_job_submitted(effect, now)
                self._apply_crane(self.crane_core.handle(effect, now), now)
            elif isinstance(effect, WakeAt):
                self._flow_tick_at = self._schedule(self._flow_tick_at, effect.at, self._flow_tick)
            elif isinstance(effect, TaskChanged):
                self.stats.task_changed(effect)
                if effect.kind == "putaway" and effect.state == "started":
                    self._left_line(effect.coil)
            elif isinstance(effect, RequestChanged):
                self.stats.request_changed(effect)
        if self._fleet_dirty and not self._pump_pending:
            self._notify()  # tick the fleet once the current burst is handled

    def _schedule(self, pending: float | None, at: float, action: Callable[[], None]) -> float | None:
        """Keep one timer per core: the earliest requested time wins."""
        at = max(at, float(self.env.now))
        if pending is not None and pending <= at:
            return pending
        timer = self.env.timeout(at - self.env.now)
        timer.callbacks.append(lambda _e: self._fire(at, action))
        return at

    def _fire(self, at: float, action: Callable[[], None]) -> None:
        action_at = {
            self._fleet_tick: "_fleet_tick_at",
            self._crane_tick: "_crane_tick_at",
            self._flow_tick: "_flow_tick_at",
        }
        name = action_at[action]
        if getattr(self, name) != at:
            return  # superseded by an earlier timer that already ran
        setattr(self, name, None)
        action()

    def _fleet_tick(self) -> None:
        now = float(self.env.now)
        self._apply_fleet(self.fleet_core.handle(Tick(), now), now)

    def _crane_tick(self) -> None:
        now = float(self.env.now)
        self._apply_crane(self.crane_core.handle(Tick(), now), now)

    def _flow_tick(self) -> None:
        now = float(self.env.now)
        self._apply_flow(self.flow.handle(Tick(), now), now)

    # ---------------------------------------------------------------------------------------- scenario

    def _source(self, source: Source) -> SimGen:
        env = self.env
        station = next(s for s in self.plant.stations if s.id == source.station)
        handover = source.handover or station.handovers[0]
        line = Line(source, handover)
        self._lines[source.id] = line
        calendar = self.scenario.calendars.get(source.calendar) if source.calendar else None
        attrs = source.attributes
        rng = self.rng_sources
        count = 0
        while True:
            gap = max(0.0, draw(source.interarrival_s, rng))
            start = float(env.now) + gap
            start = next_open(calendar, start) if calendar is not None else start
            yield env.timeout(start - env.now)
            while line.waiting >= source.exit_buffer:
                line.freed = env.event()
                line.blocked_since = float(env.now)
                self.stats.line_blocked(source.id, float(env.now), True)
                yield line.freed
                self.stats.line_blocked(source.id, float(env.now), False)
                line.blocked_since = None
            count += 1
            coil = f"{source.id}-{count:05d}"
            width = draw(attrs.width_m, rng)
            od = draw(attrs.outer_diameter_m, rng)
            inner = min(draw(attrs.inner_diameter_m, rng), od * 0.9)
            arrival = CoilArrived(
                coil=coil, source=source.id, station=station.id, handover=handover, store=source.store,
                alloy=draw_choice(attrs.alloy, rng), temper=draw_choice(attrs.temper, rng),
                width=max(width, 0.05), gauge=max(draw(attrs.gauge_mm, rng), 0.05),
                outer_diameter=max(od, 0.1), inner_diameter=max(inner, 0.05),
                weight=max(draw(attrs.weight_t, rng), 0.1), temperature=draw(attrs.exit_temperature_c, rng),
                turnover=draw_choice(attrs.turnover, rng),
            )  # fmt: skip
            line.waiting += 1
            self._coil_line[coil] = line
            self.stats.arrival(source.id, float(env.now))
            now = float(env.now)
            self._apply_flow(self.flow.handle(arrival, now), now)

    def _left_line(self, coil: str) -> None:
        line = self._coil_line.pop(coil, None)
        if line is None:
            return
        line.waiting -= 1
        if line.freed is not None and not line.freed.triggered:
            line.freed.succeed()

    def _retrievals(self, index: int) -> SimGen:
        spec = self.scenario.demand.retrievals[index]
        station = next(s for s in self.plant.stations if s.id == spec.station)
        destination = spec.handover or station.handovers[0]
        calendar = self.scenario.calendars.get(spec.calendar) if spec.calendar else None
        env = self.env
        while True:
            start = float(env.now) + max(0.0, draw(spec.interarrival_s, self.rng_demand))
            start = next_open(calendar, start) if calendar is not None else start
            yield env.timeout(start - env.now)
            self._requests += 1
            now = float(env.now)
            message = RetrievalRequested(
                request=f"{spec.id}-{self._requests:05d}", store=spec.store, station=station.id,
                destination=destination, kind="retrieval", alloy=spec.alloy, temper=spec.temper, policy=spec.policy,
                deadline=None if spec.due_s is None else now + spec.due_s,
            )  # fmt: skip
            self.stats.request_made(message, now)
            self._apply_flow(self.flow.handle(message, now), now)

    def _shipments(self, index: int) -> SimGen:
        spec = self.scenario.demand.shipments[index]
        stations = {s.id: s for s in self.plant.stations}
        calendar = self.scenario.calendars.get(spec.calendar) if spec.calendar else None
        env = self.env
        trucks = 0
        while True:
            start = float(env.now) + max(0.0, draw(spec.interarrival_s, self.rng_demand))
            start = next_open(calendar, start) if calendar is not None else start
            yield env.timeout(start - env.now)
            trucks += 1
            dock = stations[spec.docks[int(self.rng_demand.integers(len(spec.docks)))]]
            count = max(1, round(draw(spec.coils, self.rng_demand)))
            now = float(env.now)
            message = RetrievalRequested(
                request=f"{spec.id}-{trucks:05d}", store=spec.store, station=dock.id,
                destination=dock.handovers[0], kind="shipment", count=count, alloy=spec.alloy, temper=spec.temper,
                deadline=now + spec.window_h * 3600.0,
            )  # fmt: skip
            self.stats.request_made(message, now)
            self._apply_flow(self.flow.handle(message, now), now)

    def _failures(self, unit: SimVehicle | SimCrane, failure: Failure) -> SimGen:
        env = self.env
        rng = np.random.default_rng(self.rng_failures.integers(2**63))
        while True:
            yield env.timeout(float(rng.exponential(failure.mtbf_h * 3600.0)))
            repair = float(rng.exponential(failure.mttr_h * 3600.0))
            unit.fail(repair)
            yield env.timeout(repair)

    def _failure_of(self, unit_id: str) -> Failure | None:
        spec = self.scenario.breakdowns
        if unit_id in spec.units:
            return spec.units[unit_id]
        if unit_id in self.cranes:
            return spec.cranes
        vclass = self.plant.vehicles[unit_id].vehicle_class.id
        return spec.classes.get(vclass, spec.vehicles)

    # ------------------------------------------------------------------------------------ initial stock

    def _initial_stock(self) -> None:
        """Fill stores to the scenario's fractions with cold coils drawn like the store's arrivals."""
        yard = self.uow.yard
        for store_id, fraction in sorted(self.scenario.initial_stock.items()):
            if fraction <= 0:
                continue
            kinds = [s.attributes for s in self.scenario.sources if s.store == store_id]
            kinds = kinds or [s.attributes for s in self.scenario.sources[:1]]
            places = [p for p in self.plant.saddle_positions.values() if p.store == store_id]
            ground = [p.id for p in places if p.supports is None]
            upper = [p.id for p in places if p.supports is not None]
            cells = [c.id for c in self.plant.rack_cells.values() if c.store == store_id]
            total = len(places) + len(cells)
            wanted = round(total * fraction)
            order = [
                *self.rng_stock.permutation(ground).tolist(),
                *self.rng_stock.permutation(upper).tolist(),
            ]
            order += self.rng_stock.permutation(cells).tolist() if cells else []
            placed = 0
            for n, place in enumerate(order):
                if placed >= wanted:
                    break
                if yard.locations[place].occupants:
                    continue
                for attempt in range(4):
                    attributes = kinds[int(self.rng_stock.integers(len(kinds)))] if kinds else None
                    spec = _stock_coil(f"S-{store_id}-{n:05d}", attributes, self.rng_stock)
                    try:
                        self.bus.handle(cmd.ReceiveCoil(actor="initial-stock", location=place, **spec))
                    except WmsError:
                        if attempt == 3:
                            break
                        continue
                    placed += 1
                    break
                yard = self.uow.yard

    # ------------------------------------------------------------------------------------------- running

    def run(self) -> dict[str, Any]:
        env = self.env
        self._initial_stock()
        self.stats.start()
        for source in self.scenario.sources:
            env.process(self._source(source))
        for i in range(len(self.scenario.demand.retrievals)):
            env.process(self._retrievals(i))
        for i in range(len(self.scenario.demand.shipments)):
            env.process(self._shipments(i))
        units: list[tuple[str, SimVehicle | SimCrane]] = [
            *sorted(self.vehicles.items()),
            *sorted(self.cranes.items()),
        ]
        for unit_id, unit in units:
            failure = self._failure_of(unit_id)
            if failure is not None:
                env.process(self._failures(unit, failure))
        env.process(self.stats.sampler())
        progress = self.setup.progress
        if progress is None:
            env.run(until=self.end)
        else:
            steps = 100
            for k in range(1, steps + 1):
                env.run(until=self.end * k / steps)
                progress(k / steps)
        return self.stats.finish()


def _stock_coil(coil: str, attributes: Any, rng: np.random.Generator) -> dict[str, Any]:
    if attributes is None:
        return {"coil": coil, "alloy": "AA1050", "temper": "O", "width": 1.5, "gauge": 4.0,
                "outer_diameter": 1.8, "inner_diameter": 0.61, "weight": 20.0}  # fmt: skip
    od = draw(attributes.outer_diameter_m, rng)
    return {
        "coil": coil,
        "alloy": draw_choice(attributes.alloy, rng),
        "temper": draw_choice(attributes.temper, rng),
        "width": max(draw(attributes.width_m, rng), 0.05),
        "gauge": max(draw(attributes.gauge_mm, rng), 0.05),
        "outer_diameter": max(od, 0.1),
        "inner_diameter": max(min(draw(attributes.inner_diameter_m, rng), od * 0.9), 0.05),
        "weight": max(draw(attributes.weight_t, rng), 0.1),
        "turnover": draw_choice(attributes.turnover, rng),
    }
