"""Simulated AGVs and RGVs behind the fleet's vehicle port (`fleet.ports.VehiclePort`). SimPy processes.

`SimFleet` is the port: `send(command)` hands a command to the vehicle it names, `drain()` returns the events
the vehicles made since the last call. Each `SimVehicle` is one long-lived SimPy process that keeps the port
contract as a real vehicle does:

- it drives the route of a `SendRoute` edge by edge and never enters a node beyond the released base; at
  the end of the base it stops and waits for the next `SendRoute` of the same order to release more;
- an edge takes the trapezoidal time of `simulation.kinematics.edge_time` at the class's empty or loaded
  speed (capped by the edge's limit), starting from rest after a stop and braking where it must stop;
- at the route's end it loads or unloads (the class's `load_time`/`unload_time`, fixed or exponential),
  reporting `Arrived`, `StateChanged(LOADING)`, `OperationDone`, `StateChanged(IDLE)`;
- energy: `moving_kw` while driving, `idle_kw` otherwise, and `handling_kw` more while it loads or
  unloads (lift and positioning; a scenario setting, the layout has no figure). Charging (`ChargingMode`):
  "chargers" charges only at the charger the fleet core sends it to (a CHARGE stop: `charge_kw` net of
  `idle_kw` until `full_fraction`); "opportunity" also charges wherever it stands idle; "none" models no
  battery level at all (the draw is still counted). It reports `EnergyReport` after each operation, when an
  opportunity charge is done, and, standing idle, when its idle draw takes it below `low_fraction`;
- a `Cancel` stops it at the next node. A breakdown (`fail`) takes effect when it is drawn if the vehicle
  stands (waiting, idle, or charging: the charge stops), else at the end of the edge it drives or of the
  load or unload it does, loaded or not: `StateChanged(ERROR)`, the route dropped (a unit on board stays on
  board), and `StateChanged(IDLE)` after the repair, where it stands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import simpy

from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import (
    Arrived,
    Cancel,
    EnergyReport,
    OperationDone,
    Progress,
    SendRoute,
    StateChanged,
    VehicleCommand,
    VehicleEvent,
)
from layout import Plant
from layout import schema as plant_schema
from simulation.kinematics import edge_time

if TYPE_CHECKING:
    from simulation.cranes import SimCrane

Emit = Callable[[VehicleEvent], None]
SimGen = Generator[simpy.Event, object, None]  # a SimPy process body
ChargingMode = Literal["chargers", "opportunity", "none"]


@dataclass(slots=True)
class VehicleStats:
    """Running sums for the KPIs (seconds, metres, kWh)."""

    moving_s: float = 0.0
    handling_s: float = 0.0
    down_s: float = 0.0
    metres: float = 0.0
    energy_kwh: float = 0.0  # drawn from the battery or the busbar
    charged_kwh: float = 0.0  # put into the battery
    failures: int = 0
    loaded_failures: int = 0  # breakdowns with a unit on board
    operations: int = 0
    busy_windows: list[tuple[float, float]] = field(default_factory=list)
    charge_windows: list[tuple[str, float, float]] = field(default_factory=list)  # (charger, start, end)


class SimVehicle:
    """One simulated AGV or RGV; see the module docstring."""

    def __init__(
        self,
        env: simpy.Environment,
        vehicle_id: str,
        *,
        spec: plant_schema.VehicleClass,
        home: str,
        plant: Plant,
        emit: Emit,
        rng: np.random.Generator,
        charging: ChargingMode = "opportunity",
        exponential_handling: bool = False,
        handling_kw: float = 0.0,
    ) -> None:
        self.env = env
        self.id = vehicle_id
        self.spec = spec
        self.node = home
        self.graph = plant.graph(spec.id)
        self.emit = emit
        self.rng = rng
        self.charging: ChargingMode = charging if spec.battery is not None else "none"
        self.exponential_handling = exponential_handling
        self.handling_kw = handling_kw if spec.battery is not None else 0.0
        self.decel = spec.deceleration or spec.acceleration
        self.state = VehicleState.IDLE
        self.route: SendRoute | None = None
        self.index = 0
        self.loaded = False
        self.cancelled = False
        self.fail_pending = False
        self.stopped = True
        self.stats = VehicleStats()
        battery = spec.battery
        self.capacity_kwh = battery.capacity_kwh if battery is not None else math.inf
        self.energy = self.capacity_kwh
        self._energy_at = 0.0  # time the energy was last brought up to date
        self._wake: simpy.Event = env.event()
        self._busy_since: float | None = None
        self.on_move: Callable[[SimVehicle, str], None] | None = None  # trace hook: vehicle reached a node
        self._report_generation = 0
        self._reported = self.energy  # the energy last reported to the port
        self._repair_time = 0.0
        self._charging_since: float | None = None  # inside a charge stop (a breakdown interrupts it)
        self.process = env.process(self._run())

    # ------------------------------------------------------------------------------------ the port side

    def command(self, command: VehicleCommand) -> None:
        if isinstance(command, SendRoute):
            self._route(command)
        elif (
            isinstance(command, Cancel)
            and self.route is not None
            and command.order in (None, self.route.order)
        ):
            self.cancelled = True
            self._poke()
        # Pause and Resume are not used by the fleet core yet; a simulated vehicle ignores them.

    def _route(self, command: SendRoute) -> None:
        if self.state is VehicleState.ERROR:
            self._set_state(VehicleState.ERROR, f"route for order '{command.order}' refused: broken down")
            return
        old = self.route
        if old is not None and old.order == command.order:
            self.route = command  # the released base grew (the port keeps the released prefix)
            self._poke()
            return
        if command.nodes[0] != self.node:
            self._set_state(
                VehicleState.ERROR,
                f"route for order '{command.order}' starts at {command.nodes[0]}, vehicle is at {self.node}",
            )
            return
        self.route = command
        self.index = 0
        self.cancelled = False
        self._poke()

    def fail(self, repair_s: float) -> None:
        """A breakdown falls due: at once if the vehicle stands, else at the end of its edge or handling."""
        self.fail_pending = True
        self._repair_time = repair_s
        if self._charging_since is not None:
            self.process.interrupt("breakdown")
        else:
            self._poke()

    def _poke(self) -> None:
        if not self._wake.triggered:
            self._wake.succeed()

    # ------------------------------------------------------------------------------------- the process

    def _run(self) -> SimGen:
        while True:
            if self.fail_pending:
                yield from self._breakdown()
                continue
            route = self.route
            if route is None or self.cancelled:
                if route is not None:  # cancelled before it moved, or at a node
                    self.route = None
                    self.cancelled = False
                    self._set_state(VehicleState.IDLE)
                yield from self._wait()
                continue
            last = len(route.nodes) - 1
            if self.index < last:
                if self.index + 1 >= route.released:
                    self.stopped = True
                    yield from self._wait()  # at the end of the base: wait for more to be released
                    continue
                if self.state is not VehicleState.MOVING:
                    self._set_state(VehicleState.MOVING)
                yield from self._drive_edge(route)
                continue
            yield from self._operate(route)

    def _wait(self) -> SimGen:
        self._wake = self.env.event()
        if self.state is VehicleState.IDLE:
            self._schedule_energy_report()
        yield self._wake

    def _drive_edge(self, route: SendRoute) -> SimGen:
        source, target = route.nodes[self.index], route.nodes[self.index + 1]
        data = self.graph[source][target]
        length = float(data["length"])
        top = self.spec.speed_loaded if self.loaded else self.spec.speed_empty
        limit = data["speed_limit"]
        speed = min(top, limit) if limit else top
        stop_at_end = self.index + 2 >= route.released or self.index + 1 == len(route.nodes) - 1
        dt = edge_time(
            length, speed, self.spec.acceleration, self.decel, from_rest=self.stopped, to_rest=stop_at_end
        )
        self._account_energy()
        yield self.env.timeout(dt)
        self.stats.moving_s += dt
        self.stats.metres += length
        moving_kw = self.spec.battery.moving_kw if self.spec.battery is not None else 0.0
        self._draw(moving_kw * dt / 3600.0, dt)
        self.stopped = stop_at_end
        self.index += 1
        self.node = target
        if self.on_move is not None:
            self.on_move(self, target)
        self.emit(Progress(vehicle=self.id, node=target, at=self.env.now, order=route.order))
        if self.cancelled:
            self.route = None
            self.cancelled = False
            self.stopped = True
            self._set_state(VehicleState.IDLE)

    def _operate(self, route: SendRoute) -> SimGen:
        env = self.env
        self.emit(Arrived(vehicle=self.id, node=self.node, at=env.now, order=route.order))
        self.stopped = True
        operation = route.operation
        if operation in (Operation.PICK, Operation.DROP):
            mean = self.spec.load_time if operation is Operation.PICK else self.spec.unload_time
            duration = float(self.rng.exponential(mean)) if self.exponential_handling and mean > 0 else mean
            self._set_state(VehicleState.LOADING)
            self._account_energy()
            yield env.timeout(duration)
            self.stats.handling_s += duration
            self._account_energy()
            self._draw(self.handling_kw * duration / 3600.0, duration)  # the lift, on top of the idle draw
            if self.route is not route:  # pragma: no cover - a new route never arrives mid-operation
                return
            if operation is Operation.PICK:
                self.loaded = True
            else:
                self.loaded = False
            self.stats.operations += 1
        elif operation is Operation.CHARGE and self.spec.battery is not None:
            charged = yield from self._charge(self.spec.battery)
            if not charged:
                return  # broken down while charging: no OperationDone (the core drops the drive on ERROR)
        self.route = None
        self.emit(
            OperationDone(vehicle=self.id, node=self.node, operation=operation, at=env.now, order=route.order)
        )
        if self.cancelled:
            self.cancelled = False
        if self.state is not VehicleState.IDLE:
            self._set_state(VehicleState.IDLE)
        if self.spec.battery is not None:
            self._report_energy()

    def _charge(self, battery: plant_schema.Battery) -> Generator[simpy.Event, object, bool]:
        """At a charger the fleet core sent it to: charge at `charge_kw` (net of the idle draw) until
        `full_fraction` (the core waits for it). False if a breakdown stopped the charge."""
        self._set_state(VehicleState.CHARGING)
        net_kw = battery.charge_kw - battery.idle_kw
        wanted = battery.full_fraction * self.capacity_kwh
        if self.charging == "none" or net_kw <= 0 or self.energy >= wanted:
            return True
        start = self._charging_since = float(self.env.now)
        try:
            yield self.env.timeout((wanted - self.energy) / net_kw * 3600.0)
        except simpy.Interrupt:
            return False
        finally:
            self._account_energy()
            self._charging_since = None
            self.stats.charge_windows.append((self.node, start, float(self.env.now)))
        return True

    def _breakdown(self) -> SimGen:
        env = self.env
        self.fail_pending = False
        self.route = None
        self.cancelled = False
        self.stopped = True
        self.stats.failures += 1
        self.stats.loaded_failures += self.loaded
        self._set_state(VehicleState.ERROR, "breakdown")
        start = env.now
        yield env.timeout(self._repair_time)
        self.stats.down_s += env.now - start
        self._set_state(VehicleState.IDLE)

    # --------------------------------------------------------------------------------------- bookkeeping

    def _set_state(self, state: VehicleState, error: str | None = None) -> None:
        now = self.env.now
        busy_before = self.state in (VehicleState.MOVING, VehicleState.LOADING)
        busy_after = state in (VehicleState.MOVING, VehicleState.LOADING)
        if busy_after and not busy_before:
            self._busy_since = now
        elif busy_before and not busy_after and self._busy_since is not None:
            self.stats.busy_windows.append((self._busy_since, now))
            self._busy_since = None
        self._account_energy()  # the time up to now, in the state that ends
        self.state = state
        self.emit(StateChanged(vehicle=self.id, state=state, at=now, error=error))

    def busy_seconds(self, start: float, end: float) -> float:
        """Seconds spent moving or loading within [start, end]."""
        total = 0.0
        windows = list(self.stats.busy_windows)
        if self._busy_since is not None:
            windows.append((self._busy_since, end))
        for a, b in windows:
            total += max(0.0, min(b, end) - max(a, start))
        return total

    def charging_seconds(self, start: float, end: float, charger: str | None = None) -> float:
        """Seconds spent charging at a charger within [start, end] (at `charger` only, if given)."""
        windows = list(self.stats.charge_windows)
        if self._charging_since is not None:
            windows.append((self.node, self._charging_since, end))
        return sum(
            max(0.0, min(b, end) - max(a, start))
            for node, a, b in windows
            if charger is None or node == charger
        )

    def _draw(self, kwh: float, dt: float) -> None:
        if self.charging != "none":
            self.energy = max(0.0, self.energy - kwh)
        self.stats.energy_kwh += kwh

    def _report_energy(self) -> None:
        self._reported = self.energy
        self.emit(EnergyReport(vehicle=self.id, energy=self.energy, at=self.env.now))

    def _account_energy(self) -> None:
        """Bring the battery up to date for the time since the last update (idle draw, charging)."""
        now = self.env.now
        dt = now - self._energy_at
        self._energy_at = now
        if dt <= 0 or self.spec.battery is None:
            return
        battery = self.spec.battery
        if self.state is VehicleState.MOVING:
            return  # driving is accounted per edge
        idle_kwh = battery.idle_kw * dt / 3600.0
        self.stats.energy_kwh += idle_kwh
        mode = self.charging
        if mode == "none":
            return
        charging = (self.state is VehicleState.CHARGING and self._charging_since is not None) or (
            mode == "opportunity" and self.state is VehicleState.IDLE
        )
        if charging:
            before = self.energy
            net = (battery.charge_kw - battery.idle_kw) * dt / 3600.0
            self.energy = min(self.capacity_kwh, self.energy + net)
            self.stats.charged_kwh += self.energy - before + idle_kwh
        else:
            self.energy = max(0.0, self.energy - idle_kwh)

    def _schedule_energy_report(self) -> None:
        """Standing idle. Opportunity charging: below the low threshold, report again once the charge is
        back to full_fraction. Charging at chargers: report when the idle draw takes it below the low
        threshold (the fleet core then sends it to a charger), or now if it is below and has not said so."""
        battery = self.spec.battery
        if self.charging == "none" or battery is None:
            return
        self._account_energy()
        low = battery.low_fraction * self.capacity_kwh
        if self.charging == "opportunity":
            if self.energy >= low:
                return
            net_kw = battery.charge_kw - battery.idle_kw
            if net_kw <= 0:
                return
            delay = (battery.full_fraction * self.capacity_kwh - self.energy) / net_kw * 3600.0
        elif self.energy < low:
            if self._reported >= low:
                self._report_energy()
            return
        elif battery.idle_kw > 0:
            delay = (self.energy - low) / battery.idle_kw * 3600.0 + 1.0  # a second past the threshold
        else:
            return
        self._report_generation += 1
        generation = self._report_generation
        timer = self.env.timeout(max(delay, 0.0))
        timer.callbacks.append(lambda _event: self._charge_report(generation))

    def _charge_report(self, generation: int) -> None:
        if (
            generation != self._report_generation
            or self.state is not VehicleState.IDLE
            or self.route is not None
        ):
            return
        self._account_energy()
        self._report_energy()


class SimFleet:
    """The vehicle port over the simulated vehicles (and cranes, which take `SendCraneMove`)."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self.units: dict[str, SimVehicle | SimCrane] = {}
        self._events: list[VehicleEvent] = []
        self._notify = notify
        self.commands = 0

    def add(self, unit_id: str, unit: SimVehicle | SimCrane) -> None:
        self.units[unit_id] = unit

    def emit(self, event: VehicleEvent) -> None:
        self._events.append(event)
        self._notify()

    def send(self, command: VehicleCommand) -> None:
        self.commands += 1
        self.units[command.vehicle].command(command)

    def drain(self) -> list[VehicleEvent]:
        events, self._events = self._events, []
        return events
