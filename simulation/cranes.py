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
time). A breakdown takes effect when the crane is idle and empty: `StateChanged(ERROR)`, then `IDLE` after
the repair. Energy: `power_kw` while travelling or handling, `idle_kw` otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy

from crane.motion import chebyshev_time, travel_time
from fleet.domain.orders import Operation
from fleet.domain.vehicles import VehicleState
from fleet.ports import OperationDone, SendCraneMove, StateChanged, VehicleCommand, VehicleEvent
from layout import schema as plant_schema
from simulation.vehicles import SimGen

Emit = Callable[[VehicleEvent], None]


@dataclass(slots=True)
class CraneStats:
    busy_s: float = 0.0
    travel_s: float = 0.0
    energy_kwh: float = 0.0
    failures: int = 0
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
        power_kw: float = 0.0,
        idle_kw: float = 0.0,
    ) -> None:
        self.env = env
        self.id = crane_id
        self.spec = spec
        self.along, self.across = start
        self.emit = emit
        self.constant_speed = constant_speed
        self.power_kw = power_kw
        self.idle_kw = idle_kw
        self.state = VehicleState.IDLE
        self.loaded = False
        self.fail_pending = False
        self.repair_s = 0.0
        self.stats = CraneStats()
        self.queue: deque[SendCraneMove] = deque()
        self.on_move: Callable[[SimCrane, str | None], None] | None = None  # trace hook: reached a place
        self._wake: simpy.Event = env.event()
        self._busy_since: float | None = None
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
        self.fail_pending = True
        self.repair_s = repair_s
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

    # ------------------------------------------------------------------------------------- the process

    def _run(self) -> SimGen:
        env = self.env
        while True:
            if self.fail_pending and not self.loaded:
                self.fail_pending = False
                self.queue.clear()  # the crane core drops the legs of a crane that fails
                self.stats.failures += 1
                self._set_state(VehicleState.ERROR, "breakdown")
                start = env.now
                yield env.timeout(self.repair_s)
                self.stats.down_s += env.now - start
                self._set_state(VehicleState.IDLE)
                continue
            if not self.queue:
                self._wake = env.event()
                yield self._wake
                continue
            command = self.queue.popleft()
            travel = self.travel_time(command.along, command.across)
            if travel > 0:
                self._set_state(VehicleState.MOVING)
                yield env.timeout(travel)
                self.stats.travel_s += travel
            self.along, self.across = command.along, command.across
            if self.on_move is not None:
                self.on_move(self, command.place)
            handling = self.operation_time(command.operation)
            if handling > 0:
                self._set_state(VehicleState.LOADING)
                yield env.timeout(handling)
            if command.operation is Operation.PICK:
                self.loaded = True
                self.stats.operations += 1
            elif command.operation is Operation.DROP:
                self.loaded = False
                self.stats.operations += 1
            self.emit(
                OperationDone(
                    vehicle=self.id, node=command.place or "", operation=command.operation, at=env.now,
                    order=command.order,
                )
            )  # fmt: skip
            if self.state is not VehicleState.IDLE:
                self._set_state(VehicleState.IDLE)

    def _set_state(self, state: VehicleState, error: str | None = None) -> None:
        now = self.env.now
        busy_before = self.state in (VehicleState.MOVING, VehicleState.LOADING)
        busy_after = state in (VehicleState.MOVING, VehicleState.LOADING)
        if busy_after and not busy_before:
            self._busy_since = now
        elif busy_before and not busy_after and self._busy_since is not None:
            self.stats.busy_windows.append((self._busy_since, now))
            busy = now - self._busy_since
            self.stats.busy_s += busy
            self.stats.energy_kwh += self.power_kw * busy / 3600.0
            self._busy_since = None
        self.state = state
        self.emit(StateChanged(vehicle=self.id, state=state, at=now, error=error))

    def busy_seconds(self, start: float, end: float) -> float:
        total = 0.0
        windows = list(self.stats.busy_windows)
        if self._busy_since is not None:
            windows.append((self._busy_since, end))
        for a, b in windows:
            total += max(0.0, min(b, end) - max(a, start))
        return total

    def idle_energy_kwh(self, seconds: float) -> float:
        return self.idle_kw * seconds / 3600.0
