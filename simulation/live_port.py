"""The twin's simulated vehicles as a live vehicle port: the live system and the web views with no hardware.

`SimVehiclePort(plant=..., speed_up=..., seed=...)` keeps `fleet.ports.VehiclePort` as any adapter does. The
vehicles are the twin's own (`simulation.vehicles.SimVehicle` behind a `SimFleet`, cranes from
`simulation.cranes`), so their kinematics, handling times and energy are exactly the simulation's, inside
a `simpy.rt.RealtimeEnvironment` (strict=False) running `speed_up` times faster than the wall clock.

Why a thread and not steps from the asyncio shell: the port contract is synchronous and shell-agnostic
(LiveFleet, plain test loops, a CLI), and `RealtimeEnvironment` paces itself with `time.sleep`, which would
stall an event loop. So one daemon thread owns the SimPy environment and is the only code that touches it:

- `send(command)` puts the command on a `queue.Queue` and returns (never blocks); the thread wakes at once,
  brings simulated time up to the wall clock, and hands the command to its vehicle;
- between commands the thread sleeps on that queue until the next SimPy event is due in real time, then
  runs the environment up to "now" (so it never sleeps inside SimPy and a command is never late);
- what the vehicles emit goes to a lock-protected buffer that `drain()` empties, oldest first.

Event times (`at`) are on `time.monotonic()` (the asyncio loop's clock, as `Vda5050Port` stamps them): the
simulated instant mapped back to the wall clock. Lifecycle: `open()` starts the thread, `close()` stops
and joins it (`adapters.registry.connect_vehicle(kind="sim", ...)` does both). Pause and Resume are ignored,
as by the twin's vehicles.

Errors (this package may not import `adapters.errors`, so it has its own, all `SimPortError`): a bad keyword
raises `SimPortConfigError` naming it; a command for a unit the plant lacks raises `UnknownSimUnit` at once
(a caller's mistake, not a vehicle fault); a command after `close()`, or `drain()` after the thread died,
raises `SimPortClosed` with the reason. Vehicle faults are events, as the port contract says.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np
import simpy.rt

from fleet.ports import VehicleCommand, VehicleEvent
from layout import Plant, load_plant
from layout.problems import LayoutInvalid
from simulation.cranes import SimCrane
from simulation.scenario import CraneModel, VehicleModel
from simulation.units import build_units
from simulation.vehicles import SimFleet, SimVehicle

log = logging.getLogger(__name__)

KIND: Final = "sim"
MAX_WAIT_S: Final = 0.25  # the thread looks at the queue at least this often (real seconds)
JOIN_TIMEOUT_S: Final = 5.0
_STOP: Final = object()  # sentinel on the command queue: the thread ends


class SimPortError(Exception):
    """Base of what the simulated port raises (simulation may not import `adapters.errors`)."""


class SimPortConfigError(SimPortError, ValueError):
    """A keyword of `SimVehiclePort(...)` is wrong; the message names it."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"vehicle adapter '{KIND}': {detail}")
        self.detail = detail


class UnknownSimUnit(SimPortError, ValueError):
    """A command names a vehicle or crane the simulated plant does not have (a caller's error)."""


class SimPortClosed(SimPortError, RuntimeError):
    """The port was closed, or its simulation thread died (the reason is in the message)."""


def _plant(plant: object) -> Plant:
    if isinstance(plant, Plant):
        return plant
    if isinstance(plant, str | Path):
        try:
            return load_plant(plant)
        except LayoutInvalid as error:
            raise SimPortConfigError(f"plant: {error}") from None
    raise SimPortConfigError(f"plant must be a Plant or a layout file path, got {type(plant).__name__}")


def _speed_up(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise SimPortConfigError(f"speed_up must be a positive finite number, got {value!r}")
    return float(value)


def _seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SimPortConfigError(f"seed must be a whole number >= 0, got {value!r}")
    return value


class SimVehiclePort:
    """The plant's simulated AGVs, RGVs and cranes in real time behind the vehicle port (module docstring)."""

    def __init__(
        self,
        *,
        plant: Plant | str | Path,
        speed_up: float = 1.0,
        seed: int = 0,
        cranes: bool = True,
        vehicle_model: VehicleModel | None = None,
        crane_model: CraneModel | None = None,
    ) -> None:
        self.plant = _plant(plant)
        self.speed_up = _speed_up(speed_up)
        self.seed = _seed(seed)
        self.env = simpy.rt.RealtimeEnvironment(factor=1.0 / self.speed_up, strict=False)
        self.fleet = SimFleet(notify=lambda: None)  # the thread collects after every advance
        self.vehicles: dict[str, SimVehicle] = {}
        self.cranes: dict[str, SimCrane] = {}
        self._build(vehicle_model or VehicleModel(), crane_model or CraneModel(), cranes)
        self._inbox: queue.Queue[object] = queue.Queue()
        self._outbox: list[VehicleEvent] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.failure: BaseException | None = None  # what stopped the thread, if it died

    def _build(self, vehicles: VehicleModel, cranes: CraneModel, with_cranes: bool) -> None:
        """The units the twin's shell builds (`simulation.units.build_units`), with the model defaults."""
        self.vehicles, self.cranes = build_units(
            self.env, self.plant, self.fleet, np.random.default_rng(self.seed), vehicles=vehicles,
            cranes=cranes if with_cranes else None,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------ the port

    def open(self) -> None:
        """Start the simulation thread (simulated time 0 is now)."""
        if self._closed:
            raise SimPortClosed("the simulated vehicles' port was closed; build a new one")
        if self._thread is not None:
            return
        self.env.sync()
        self._thread = threading.Thread(target=self._run, name="coilyard-sim-vehicles", daemon=True)
        self._thread.start()

    def send(self, command: VehicleCommand) -> None:
        if command.vehicle not in self.fleet.units:
            raise UnknownSimUnit(
                f"no simulated vehicle or crane '{command.vehicle}' in plant '{self.plant.id}'"
            )
        if self._closed:
            raise SimPortClosed("the simulated vehicles' port is closed")
        self._inbox.put(command)

    def drain(self) -> list[VehicleEvent]:
        with self._lock:
            events, self._outbox = self._outbox, []
        if not events and self.failure is not None:
            raise SimPortClosed(f"the simulated vehicles stopped: {self.failure!r}")
        return events

    def close(self) -> None:
        """Stop the thread and wait for it (idempotent)."""
        self._closed = True
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._inbox.put(_STOP)
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():  # pragma: no cover - a SimPy step that never returns
            log.warning("the simulated vehicles' thread did not stop within %.0f s", JOIN_TIMEOUT_S)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----------------------------------------------------------------------------- clock mapping

    def sim_time(self, real: float) -> float:
        """The simulated instant that corresponds to monotonic time `real`."""
        return self.env.env_start + (real - self.env.real_start) / self.env.factor

    def real_time(self, sim: float) -> float:
        """The monotonic time of simulated instant `sim`."""
        return self.env.real_start + (sim - self.env.env_start) * self.env.factor

    # ------------------------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            while True:
                try:
                    item = self._inbox.get(timeout=self._wait_s())
                except queue.Empty:
                    item = None
                self._advance()
                stop = False
                while item is not None:
                    if item is _STOP:
                        stop = True
                    elif not stop:
                        self.fleet.send(item)  # type: ignore[arg-type]
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        item = None
                self._settle()
                if stop:
                    return
        except BaseException as error:  # keep it for drain(): the fleet must not think vehicles are fine
            log.exception("the simulated vehicles stopped")
            self.failure = error

    def _wait_s(self) -> float:
        """Real seconds until the next SimPy event is due (at most MAX_WAIT_S)."""
        due = self.env.peek()
        if due == math.inf:
            return MAX_WAIT_S
        return min(MAX_WAIT_S, max(0.0, self.real_time(due) - time.monotonic()))

    def _advance(self) -> None:
        """Run the environment up to the wall clock (every event due by now; SimPy never has to sleep)."""
        target = self.sim_time(time.monotonic())
        if target > self.env.now:
            self.env.run(until=target)
        self._collect()

    def _settle(self) -> None:
        """Process what commands scheduled for this very instant (state changes, first moves)."""
        while self.env.peek() <= self.env.now:
            self.env.step()
        self._collect()

    def _collect(self) -> None:
        events = [replace(e, at=self.real_time(e.at)) for e in self.fleet.drain()]
        if events:
            with self._lock:
                self._outbox.extend(events)
