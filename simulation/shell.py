"""The SimPy shell: one replication of the yard twin, running the real WMS, fleet, crane and yard-flow code.

Per replication there is one `simpy.Environment` and, inside it, the WMS message bus on an in-memory unit
of work and one `crane.yard_control.YardControl` (fleet core, crane core and yard flow, and the routing
between them: the same composite the live shell `coilyard.live_yard.LiveYard` runs). The simulated
vehicles and cranes (`simulation.vehicles`, `simulation.cranes`) sit behind one vehicle port.

The shell owns only time: whenever the port has events it pumps them (at the same simulated time) into
the control, then sends it `Settle`; port commands go to the port, each `Wake` becomes a SimPy timer that
sends `TickCore`, `SettleSoon` schedules another pump at the same instant, and the notifications feed the
statistics. Scenario processes (sources, demand, breakdowns) and the statistics sampler are SimPy
processes too. Nothing here decides anything about stock, vehicles or cranes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from crane.core import CraneJobChanged, SubmitCraneJob
from crane.places import crane_ids
from crane.yard_control import (
    PORT_COMMANDS,
    CoreName,
    Settle,
    SettleSoon,
    TickCore,
    Wake,
    YardControl,
)
from crane.yard_control import Message as ControlMessage
from crane.yard_flow import (
    Arrival,
    CoilArrived,
    IngotStackArrived,
    RequestChanged,
    RetrievalRequested,
    TaskChanged,
    YardFlow,
)
from fleet.core import FleetCore, OrderChanged, SubmitOrder
from layout import Plant
from layout import schema as plant_schema
from simulation.calendar import next_open
from simulation.cranes import SimCrane
from simulation.draws import draw, draw_choice
from simulation.scenario import Failure, ScenarioFile, SlabAttributes, Source
from simulation.stats import Collector
from simulation.units import build_units
from simulation.vehicles import SimFleet, SimGen, SimVehicle
from wms.domain.errors import WmsError
from wms.service_layer import commands as cmd
from wms.service_layer.in_memory import InMemoryUnitOfWork
from wms.service_layer.messagebus import MessageBus


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
        self.control = YardControl(
            plant, self.bus, lambda: self.uow.yard, fleet_tick_s=scenario.run.fleet_tick_s
        )
        self.port = SimFleet(self._notify)
        self.crane_ids = set(crane_ids(plant))
        self.vehicles: dict[str, SimVehicle] = {}
        self.cranes: dict[str, SimCrane] = {}
        self.stats = Collector(self, trace=setup.trace)
        self._build_units()
        self._pump_pending = False
        self._tick_at: dict[CoreName, float | None] = {"fleet": None, "crane": None, "flow": None}
        self._lines: dict[str, Line] = {}
        self._coil_line: dict[str, Line] = {}
        self._requests = 0
        self._demand_of: dict[str, str] = {}  # open request -> its demand id (for `max_open`)
        self._demand_open: dict[str, int] = {}
        self._demand_freed: dict[str, simpy.Event] = {}

    # ---------------------------------------------------------------------------------------- building

    def _build_units(self) -> None:
        self.vehicles, self.cranes = build_units(
            self.env, self.plant, self.port, self.rng_handling, vehicles=self.scenario.vehicles,
            cranes=self.scenario.cranes, weight_at=self._weight_at,
        )  # fmt: skip

    def _weight_at(self, place: str) -> float:
        """Tonnes of the unit on top at `place` in the WMS (what a crane lifts there), 0 if none."""
        yard = self.uow.yard
        location = yard.locations.get(place)
        if location is None or not location.occupants:
            return 0.0
        return float(yard.unit(location.occupants[-1]).weight)

    # -------------------------------------------------------------------------------------------- pumping

    @property
    def fleet_core(self) -> FleetCore:
        return self.control.fleet

    @property
    def flow(self) -> YardFlow:
        return self.control.flow

    def _notify(self) -> None:
        if not self._pump_pending:
            self._pump_pending = True
            self.env.timeout(0).callbacks.append(self._pump)

    def _pump(self, _event: object = None) -> None:
        self._pump_pending = False
        now = float(self.env.now)
        control, stats = self.control, self.stats
        while True:
            events = self.port.drain()
            for event in events:
                stats.vehicle_event(event)
                self._apply(control.handle(event, now), now)
            if control.fleet_dirty:
                self._apply(control.handle(SETTLE, now), now)
            elif not events:
                break
        control.archive(now)

    def _apply(self, effects: list[Any], now: float) -> None:
        send = self.port.send
        for effect in effects:
            kind = type(effect)
            if kind in PORT_COMMAND_TYPES:
                send(effect)
            elif kind is OrderChanged:
                self.stats.order_changed(effect.transition)
            elif kind is Wake:
                self._schedule(effect.core, effect.at)
            else:
                self._note(effect, now)

    def _note(self, effect: Any, now: float) -> None:
        stats = self.stats
        if isinstance(effect, SettleSoon):
            if not self._pump_pending:
                self._notify()
        elif isinstance(effect, CraneJobChanged):
            stats.crane_job_changed(effect)
        elif isinstance(effect, TaskChanged):
            stats.task_changed(effect)
            if effect.kind == "putaway" and effect.state == "started":
                self._left_line(effect.coil)
        elif isinstance(effect, SubmitOrder):
            stats.order_submitted(effect.spec, now)
        elif isinstance(effect, SubmitCraneJob):
            stats.crane_job_submitted(effect, now)
        elif isinstance(effect, RequestChanged):
            stats.request_changed(effect)
            if effect.state == "done":
                self._request_done(effect.request)

    def _schedule(self, core: CoreName, at: float) -> None:
        """Keep one timer per core: the earliest requested time wins."""
        at = max(at, float(self.env.now))
        pending = self._tick_at[core]
        if pending is not None and pending <= at:
            return
        self._tick_at[core] = at
        timer = self.env.timeout(at - self.env.now)
        timer.callbacks.append(lambda _e: self._fire(core, at))

    def _fire(self, core: CoreName, at: float) -> None:
        if self._tick_at[core] != at:
            return  # superseded by an earlier timer that already ran
        self._tick_at[core] = None
        now = float(self.env.now)
        self._apply(self.control.handle(TickCore(core), now), now)

    # ---------------------------------------------------------------------------------------- scenario

    def _source(self, source: Source) -> SimGen:
        env = self.env
        station = next(s for s in self.plant.stations if s.id == source.station)
        handover = source.handover or station.handovers[0]
        line = Line(source, handover)
        self._lines[source.id] = line
        calendar = self.scenario.calendars.get(source.calendar) if source.calendar else None
        rng = self.rng_sources
        slabs = self._makes_slabs(source)
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
            batch = max(1, round(draw(source.batch, rng)))
            arrivals: list[Arrival]
            if slabs is not None:
                arrivals = list(
                    _slab_drop(source, station.id, handover, slabs, drop=count, size=batch, rng=rng)
                )
            else:
                ids = (
                    [f"{source.id}-{count:05d}"]
                    if batch == 1
                    else [f"{source.id}-{count:05d}-{k}" for k in range(1, batch + 1)]
                )
                arrivals = [_coil_arrival(source, station.id, handover, coil, rng) for coil in ids]
            for arrival in arrivals:  # a batch arrives at one instant
                line.waiting += 1
                self._coil_line[arrival.unit] = line
                self.stats.arrival(source.id, float(env.now))
                now = float(env.now)
                self._apply(self.control.handle(arrival, now), now)

    def _makes_slabs(self, source: Source) -> SlabAttributes | None:
        """The slab attributes of a source into an ingot store (its units are slabs), else None."""
        store = next((s for s in self.plant.stores if s.id == source.store), None)
        if not isinstance(store, plant_schema.IngotStore):
            return None
        return source.slab or SlabAttributes()

    def submit(self, message: ControlMessage) -> None:
        """Hand a message to the control now: an arrival or a request (scripted scenarios, the
        twin-equals-live test), or a transport order or crane job made outside the flow (validation)."""
        now = float(self.env.now)
        self._apply(self.control.handle(message, now), now)

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
            while spec.max_open is not None and self._demand_open.get(spec.id, 0) >= spec.max_open:
                freed = self._demand_freed[spec.id] = env.event()  # a pull: wait for a request to finish
                yield freed
            self._requests += 1
            now = float(env.now)
            self._demand_of[f"{spec.id}-{self._requests:05d}"] = spec.id
            self._demand_open[spec.id] = self._demand_open.get(spec.id, 0) + 1
            message = RetrievalRequested(
                request=f"{spec.id}-{self._requests:05d}", store=spec.store, station=station.id,
                destination=destination, kind="retrieval", alloy=spec.alloy, temper=spec.temper, policy=spec.policy,
                deadline=None if spec.due_s is None else now + spec.due_s,
            )  # fmt: skip
            self.stats.request_made(message, now)
            self._apply(self.control.handle(message, now), now)

    def _request_done(self, request: str) -> None:
        demand = self._demand_of.pop(request, None)
        if demand is None:
            return
        self._demand_open[demand] -= 1
        freed = self._demand_freed.pop(demand, None)
        if freed is not None and not freed.triggered:
            freed.succeed()

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
            self._apply(self.control.handle(message, now), now)

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
        """Fill stores to the scenario's fractions with cold coils drawn like the store's arrivals (ingot
        stores: that fraction of their piles, each a cast drawn like the store's drops)."""
        yard = self.uow.yard
        ingot_stores = {s.id for s in self.plant.stores if isinstance(s, plant_schema.IngotStore)}
        for store_id, fraction in sorted(self.scenario.initial_stock.items()):
            if fraction <= 0:
                continue
            if store_id in ingot_stores:
                self._initial_piles(store_id, fraction)
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

    def _initial_piles(self, store_id: str, fraction: float) -> None:
        sources: list[Source | None] = [s for s in self.scenario.sources if s.store == store_id] or [None]
        positions = sorted(p.id for p in self.plant.stack_positions.values() if p.store == store_id)
        wanted = round(len(positions) * fraction)
        for n, place in enumerate(self.rng_stock.permutation(positions).tolist()[:wanted]):
            source = sources[int(self.rng_stock.integers(len(sources)))]
            slab = (source.slab or SlabAttributes()) if source is not None else SlabAttributes()
            size = max(1, round(draw(source.batch, self.rng_stock))) if source is not None else 4
            form = _slab_format(slab, self.rng_stock)
            cast = f"S-{store_id}-{n + 1:04d}"
            for k in range(1, size + 1):
                try:
                    self.bus.handle(
                        cmd.ReceiveIngotStack(
                            actor="initial-stock", stack=f"{cast}-{k}", location=place, count=1,
                            cast_lot=cast, **form,
                        )
                    )  # fmt: skip
                except WmsError:
                    break  # the pile is full (height or weight)

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


def _coil_arrival(
    source: Source, station: str, handover: str, coil: str, rng: np.random.Generator
) -> CoilArrived:
    attrs = source.attributes
    width = draw(attrs.width_m, rng)
    od = draw(attrs.outer_diameter_m, rng)
    inner = min(draw(attrs.inner_diameter_m, rng), od * 0.9)
    return CoilArrived(
        coil=coil, source=source.id, station=station, handover=handover, store=source.store,
        alloy=draw_choice(attrs.alloy, rng), temper=draw_choice(attrs.temper, rng),
        width=max(width, 0.05), gauge=max(draw(attrs.gauge_mm, rng), 0.05),
        outer_diameter=max(od, 0.1), inner_diameter=max(inner, 0.05),
        weight=max(draw(attrs.weight_t, rng), 0.1), temperature=draw(attrs.exit_temperature_c, rng),
        turnover=draw_choice(attrs.turnover, rng),
    )  # fmt: skip


def _slab_format(slab: SlabAttributes, rng: np.random.Generator) -> dict[str, Any]:
    """One cast's alloy and slab format (every slab of a casting drop shares them)."""
    return {
        "alloy": draw_choice(slab.alloy, rng),
        "width": max(draw(slab.width_m, rng), 0.05),
        "length": max(draw(slab.length_m, rng), 0.1),
        "unit_height": max(draw(slab.thickness_m, rng), 0.05),
        "unit_weight": max(draw(slab.weight_t, rng), 0.1),
    }


def _slab_drop(
    source: Source,
    station: str,
    handover: str,
    slab: SlabAttributes,
    *,
    drop: int,
    size: int,
    rng: np.random.Generator,
) -> list[IngotStackArrived]:
    """A casting drop: `size` slabs of one cast (lot `<source>-<drop>`), set down at the pit's handover."""
    cast = f"{source.id}-{drop:04d}"
    form = _slab_format(slab, rng)
    return [
        IngotStackArrived(
            stack=f"{cast}-{k}",
            source=source.id,
            station=station,
            handover=handover,
            store=source.store,
            cast_lot=cast,
            **form,
        )
        for k in range(1, size + 1)
    ]


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


SETTLE = Settle()
PORT_COMMAND_TYPES = frozenset(PORT_COMMANDS)
