"""Simulated overhead and stacker cranes behind the vehicle port: they carry out `SendCraneMove`. SimPy.

A crane travels from where it is to the command's (along, across) with `crane.motion`: bridge and trolley
(overhead) or carriage and lift (stacker) move together, the slower axis sets the time, each axis on a
trapezoidal profile (constant speed when the scenario switches accelerations off, for validation). Then it
does the operation:

- overhead crane: PICK = pick time + hoist up `lift_height`; DROP = hoist down `lift_height` + drop time
  (together with the travel exactly `crane.motion.overhead_move_time`);
- stacker crane: PICK and DROP take `pick_deposit_time` each;
- MOVE: nothing (the crane just went there, e.g. to yield).

It reports `StateChanged(MOVING)`, `StateChanged(LOADING)` for an operation, `OperationDone(node=place or "")`
and `StateChanged(IDLE)`. Commands that arrive while it works are queued (the crane core sends one at a
time).

Breakdowns take effect when they are drawn. An empty crane stops where it is (mid-travel: at the point the
elapsed share of the travel time reached on each axis), reports `StateChanged(ERROR)` (the crane core fails
its jobs, which the yard flow submits again), and `IDLE` after the repair. A crane with a load hooked stops
where it is for the repair time and then finishes what it was doing; it reports nothing, because the crane
core fails the jobs of a crane in ERROR and a job cannot be redone with its coil in the air (the core sees
one long move).

Energy (`CraneEnergy`, docs/simulation.md "Crane energy"): per axis move of d metres with moving mass M,
(μ·M·g·d + ½·M·v_peak²) / η (rolling resistance and acceleration; braking is not recovered); hoisting
h metres with mass M, M·g·h / η (lowering is not recovered); `aux_kw` while working, `idle_kw` otherwise.
The load's mass comes from `weight_at(place)` at the PICK.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import simpy

from crane.motion import AxisLike, chebyshev_time, travel_time
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import OperationDone, SendCraneMove, StateChanged, VehicleCommand, VehicleEvent
from layout import schema as plant_schema
from simulation.vehicles import SimGen

Emit = Callable[[VehicleEvent], None]
G = 9.81  # m/s²
J_PER_KWH = 3.6e6


@dataclass(frozen=True, slots=True)
class CraneEnergy:
    """Parameters of the crane energy model (masses in tonnes); defaults as in the scenario's `cranes`."""

    efficiency: float = 0.8  # η: electrical to mechanical, motor + gearbox + inverter
    rolling_resistance: float = 0.005  # μ: wheel and bearing resistance of the bridge, trolley, carriage
    bridge_t: float = 40.0  # overhead crane bridge (girders, end carriages), without trolley
    trolley_t: float = 12.0  # overhead crane trolley with its hoist
    hook_t: float = 3.0  # hook block or coil tongs, lifted with every load
    mast_t: float = 18.0  # stacker crane mast and travel carriage, without the lift carriage
    lift_t: float = 3.0  # stacker crane lift carriage with its fork
    aux_kw: float = 8.0  # controls, brakes, cooling while working
    idle_kw: float = 2.0


def axis_energy_kwh(
    distance: float,
    mass_t: float,
    axis: AxisLike,
    energy: CraneEnergy,
    *,
    constant_speed: bool = False,
    rolling: bool = True,
) -> float:
    """Electrical energy of one axis move: (μ·M·g·d + ½·M·v_peak²) / η, the peak speed of the trapezoidal
    profile being min(v, sqrt(d·a)); a vertical axis (`rolling=False`) has no rolling term."""
    if distance <= 0:
        return 0.0
    mass = mass_t * 1000.0
    v, a = axis.speed, axis.acceleration
    peak = v if constant_speed or math.isinf(a) else min(v, math.sqrt(distance * a))
    resistance = energy.rolling_resistance * mass * G * distance if rolling else 0.0
    joules = resistance + 0.5 * mass * peak * peak
    return joules / energy.efficiency / J_PER_KWH


def lift_energy_kwh(height: float, mass_t: float, energy: CraneEnergy) -> float:
    """Electrical energy to raise `mass_t` by `height` metres: M·g·h / η (0 going down: not recovered)."""
    if height <= 0:
        return 0.0
    return mass_t * 1000.0 * G * height / energy.efficiency / J_PER_KWH


@dataclass(slots=True)
class CraneStats:
    busy_s: float = 0.0
    travel_s: float = 0.0
    energy_kwh: float = 0.0  # work and auxiliary draw while working (idle draw: `SimCrane.idle_energy_kwh`)
    failures: int = 0
    loaded_failures: int = 0  # breakdowns with a load hooked (waited out in place)
    down_s: float = 0.0
    operations: int = 0
    busy_windows: list[tuple[float, float]] = field(default_factory=list)


class SimCrane:
    """One simulated crane; `spec` is an overhead crane or a high-bay store's stacker spec."""

    def __init__(
        self,
        env: simpy.Environment,
        crane_id: str,
        spec: plant_schema.OverheadCrane | plant_schema.StackerCrane,
        start: tuple[float, float],
        emit: Emit,
        *,
        constant_speed: bool = False,
        energy: CraneEnergy | None = None,
        weight_at: Callable[[str], float] | None = None,
    ) -> None:
        self.env = env
        self.id = crane_id
        self.spec = spec
        self.along, self.across = start
        self.emit = emit
        self.constant_speed = constant_speed
        self.energy = energy or CraneEnergy()
        self.idle_kw = self.energy.idle_kw
        self.weight_at = weight_at
        self.state = VehicleState.IDLE
        self.loaded = False
        self.load_t = 0.0  # mass of the load hooked (t)
        self.fail_pending = False
        self.repair_s = 0.0
        self.stats = CraneStats()
        self.queue: deque[SendCraneMove] = deque()
        self.on_move: Callable[[SimCrane, str | None], None] | None = None  # trace hook: reached a place
        self._wake: simpy.Event = env.event()
        self._busy_since: float | None = None
        self._working = False  # inside a timed phase (travel, handling) a breakdown interrupts
        self.process = env.process(self._run())

    @property
    def kind(self) -> str:
        return "overhead" if isinstance(self.spec, plant_schema.OverheadCrane) else "stacker"

    # ------------------------------------------------------------------------------------ the port side

    def command(self, command: VehicleCommand) -> None:
        if isinstance(command, SendCraneMove):
            self.queue.append(command)
            self._poke()

    def fail(self, repair_s: float) -> None:
        """A breakdown falls due now (see the module docstring)."""
        self.fail_pending = True
        self.repair_s = repair_s
        if self._working:
            self.process.interrupt("breakdown")
        else:
            self._poke()

    def _poke(self) -> None:
        if not self._wake.triggered:
            self._wake.succeed()

    # ----------------------------------------------------------------------------------------- timing

    def travel_time(self, along: float, across: float) -> float:
        start, end = (self.along, self.across), (along, across)
        spec = self.spec
        if isinstance(spec, plant_schema.OverheadCrane):
            return chebyshev_time(start, end, spec.bridge, spec.trolley, constant_speed=self.constant_speed)
        return chebyshev_time(start, end, spec.horizontal, spec.vertical, constant_speed=self.constant_speed)

    def operation_time(self, operation: Operation) -> float:
        spec = self.spec
        if operation is Operation.MOVE:
            return 0.0
        if isinstance(spec, plant_schema.OverheadCrane):
            hoist = travel_time(spec.lift_height, spec.hoist, constant_speed=self.constant_speed)
            return spec.pick_time + hoist if operation is Operation.PICK else hoist + spec.drop_time
        return spec.pick_deposit_time

    # ----------------------------------------------------------------------------------------- energy

    def travel_energy_kwh(self, along: float, across: float) -> float:
        """Work of the travel from where the crane is to (along, across) with the load it carries."""
        e, spec, load, cs = self.energy, self.spec, self.load_t, self.constant_speed
        d_along, d_across = abs(along - self.along), abs(across - self.across)
        if isinstance(spec, plant_schema.OverheadCrane):
            carried = e.trolley_t + e.hook_t + load
            return axis_energy_kwh(d_along, e.bridge_t + carried, spec.bridge, e, constant_speed=cs) + (
                axis_energy_kwh(d_across, carried, spec.trolley, e, constant_speed=cs)
            )
        lifted = e.lift_t + load
        return (
            axis_energy_kwh(d_along, e.mast_t + lifted, spec.horizontal, e, constant_speed=cs)
            + axis_energy_kwh(d_across, lifted, spec.vertical, e, constant_speed=cs, rolling=False)
            + lift_energy_kwh(across - self.across, lifted, e)
        )

    def operation_energy_kwh(self, operation: Operation) -> float:
        """Overhead PICK hoists hook and load `lift_height`; DROP raises the empty hook again afterwards."""
        spec, e = self.spec, self.energy
        if not isinstance(spec, plant_schema.OverheadCrane) or operation is Operation.MOVE:
            return 0.0
        lifted = e.hook_t + (self.load_t if operation is Operation.PICK else 0.0)
        return lift_energy_kwh(spec.lift_height, lifted, e)

    def idle_energy_kwh(self, seconds: float) -> float:
        return self.idle_kw * seconds / 3600.0

    # ------------------------------------------------------------------------------------- the process

    def _run(self) -> SimGen:
        env = self.env
        while True:
            if self.fail_pending:
                if self.loaded:
                    yield from self._pause()
                else:
                    yield from self._breakdown()
                continue
            if not self.queue:
                self._wake = env.event()
                yield self._wake
                continue
            command = self.queue.popleft()
            travel = self.travel_time(command.along, command.across)
            if travel > 0:
                self._set_state(VehicleState.MOVING)
                work = self.travel_energy_kwh(command.along, command.across)
                done = yield from self._work(travel)
                self.stats.energy_kwh += work * done
                self.stats.travel_s += travel * done
                if done < 1.0:  # an empty crane broke down on the way: it stands where it got to
                    self.along += (command.along - self.along) * done
                    self.across += (command.across - self.across) * done
                    continue
            self.along, self.across = command.along, command.across
            if self.on_move is not None:
                self.on_move(self, command.place)
            operation = command.operation
            if operation is Operation.PICK:
                self.load_t = self.weight_at(command.place) if self.weight_at and command.place else 0.0
            handling = self.operation_time(operation)
            if handling > 0:
                self._set_state(VehicleState.LOADING)
                done = yield from self._work(handling)
                if done < 1.0:  # broke down before the lift: the load is still where it was
                    self.load_t = 0.0
                    continue
            self.stats.energy_kwh += self.operation_energy_kwh(operation)
            if operation is Operation.PICK:
                self.loaded = True
                self.stats.operations += 1
            elif operation is Operation.DROP:
                self.loaded = False
                self.load_t = 0.0
                self.stats.operations += 1
            self.emit(
                OperationDone(
                    vehicle=self.id, node=command.place or "", operation=operation, at=env.now,
                    order=command.order,
                )
            )  # fmt: skip
            if self.state is not VehicleState.IDLE:
                self._set_state(VehicleState.IDLE)

    def _work(self, duration: float) -> Generator[simpy.Event, object, float]:
        """A timed phase; returns the share of it done: 1.0, or less if an empty crane broke down in it. A
        breakdown with a load hooked is waited out in place and the phase then finished."""
        env = self.env
        end = float(env.now) + duration
        while True:
            self._working = True
            try:
                yield env.timeout(end - float(env.now))
            except simpy.Interrupt:
                self._working = False
                if not self.loaded:
                    return 1.0 - (end - float(env.now)) / duration
                paused = float(env.now)
                yield from self._pause()
                end += float(env.now) - paused
                continue
            self._working = False
            return 1.0

    def _pause(self) -> SimGen:
        """A breakdown with a load hooked: stand still for the repair (not working, not reported)."""
        env = self.env
        self.fail_pending = False
        self.stats.failures += 1
        self.stats.loaded_failures += 1
        now = float(env.now)
        working = self._busy_since is not None
        if working:
            self._close_busy(now)
        yield env.timeout(self.repair_s)
        self.stats.down_s += float(env.now) - now
        if working:
            self._busy_since = float(env.now)

    def _breakdown(self) -> SimGen:
        env = self.env
        self.fail_pending = False
        self.queue.clear()  # the crane core drops the legs of a crane that fails
        self.stats.failures += 1
        self._set_state(VehicleState.ERROR, "breakdown")
        start = float(env.now)
        yield env.timeout(self.repair_s)
        self.stats.down_s += float(env.now) - start
        self._set_state(VehicleState.IDLE)

    # --------------------------------------------------------------------------------------- bookkeeping

    def _set_state(self, state: VehicleState, error: str | None = None) -> None:
        now = float(self.env.now)
        busy_before = self.state in (VehicleState.MOVING, VehicleState.LOADING)
        busy_after = state in (VehicleState.MOVING, VehicleState.LOADING)
        if busy_after and not busy_before:
            self._busy_since = now
        elif busy_before and not busy_after and self._busy_since is not None:
            self._close_busy(now)
        self.state = state
        self.emit(StateChanged(vehicle=self.id, state=state, at=now, error=error))

    def _close_busy(self, now: float) -> None:
        since = self._busy_since
        if since is None:
            return
        self.stats.busy_windows.append((since, now))
        busy = now - since
        self.stats.busy_s += busy
        self.stats.energy_kwh += self.energy.aux_kw * busy / 3600.0
        self._busy_since = None

    def busy_seconds(self, start: float, end: float) -> float:
        total = 0.0
        windows = list(self.stats.busy_windows)
        if self._busy_since is not None:
            windows.append((self._busy_since, end))
        for a, b in windows:
            total += max(0.0, min(b, end) - max(a, start))
        return total
