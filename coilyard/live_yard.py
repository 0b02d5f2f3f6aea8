"""The asyncio shell of the whole yard: `crane.yard_control.YardControl` on one event loop behind a vehicle port.

`LiveYard(plant, port, bus)` is the live counterpart of the SimPy shell (`simulation/shell.py`) and runs the
same control: fleet core, crane core, yard flow and the routing between them. The WMS bus is any
`MessageBus`: `LiveYard.on_database(settings, plant, port)` puts it on the configured SQL database (live
use); tests may pass one on the in-memory unit of work. WMS calls block the loop for one transaction each.
`run()` loops until `stop()`; each `step()`:

1. hands the callers' messages (`submit(CoilArrived | IngotStackArrived | RetrievalRequested | SubmitOrder | SubmitCraneJob)`,
   awaited through an asyncio queue) to the control in arrival order; a message the control refuses raises
   in the caller;
2. drains the port and hands each event to the control, then sends `Settle` when the fleet asks for it
   (`SettleSoon` or an event a fleet tick could react to);
3. sends `TickCore(core)` for every `Wake` that is due, and ticks the fleet at least every `heartbeat`;
4. sends port commands to the port, records the notifications (`orders`, `jobs`, `tasks`, `requests`)
   and pushes them to every `subscribe()` queue.

Times are the WMS bus's clock (`now()`; wall-clock seconds with `SystemClock`), not the loop's: the yard flow
compares ledger times (cooling, FIFO) with the `at` it is given, and the cores never read an event's own
stamp. Everything runs on the loop's thread, so the control is never touched concurrently. `LiveFleet` (coilyard/live.py) stays the shell of
the fleet core alone (transport orders from the API, no cranes, no yard flow).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable
from typing import Any

from coilyard.async_shell import AsyncShell
from coilyard.bootstrap import wms_bus
from coilyard.settings import Settings
from crane.core import CraneJobChanged, SubmitCraneJob
from crane.yard_control import (
    PORT_COMMANDS,
    CoreName,
    Settle,
    SettleSoon,
    TickCore,
    Wake,
    YardControl,
)
from crane.yard_flow import CoilArrived, IngotStackArrived, RequestChanged, RetrievalRequested, TaskChanged
from fleet.core import OrderChanged, SubmitOrder
from fleet.ports import VehicleCommand, VehicleEvent, VehiclePort
from layout import Plant
from wms.domain.yard import Yard
from wms.service_layer.messagebus import MessageBus

log = logging.getLogger("coilyard.live_yard")

Command = CoilArrived | IngotStackArrived | RetrievalRequested | SubmitOrder | SubmitCraneJob
Note = OrderChanged | CraneJobChanged | TaskChanged | RequestChanged


class SplitPort:
    """One vehicle port made of two: crane commands and events to and from `cranes`, the rest `vehicles`.

    Cranes have no VDA 5050; a plant with AGVs on VDA 5050 and cranes on another adapter (the twin's
    simulated cranes, a crane PLC gateway) runs behind this. Events a side reports for units it does not
    own are dropped (the sim port reports its idle AGVs too)."""

    def __init__(self, vehicles: VehiclePort, cranes: VehiclePort, crane_ids: Iterable[str]) -> None:
        self.vehicles = vehicles
        self.cranes = cranes
        self.crane_ids = frozenset(crane_ids)

    def send(self, command: VehicleCommand) -> None:
        (self.cranes if command.vehicle in self.crane_ids else self.vehicles).send(command)

    def drain(self) -> list[VehicleEvent]:
        ids = self.crane_ids
        return [e for e in self.vehicles.drain() if e.vehicle not in ids] + [
            e for e in self.cranes.drain() if e.vehicle in ids
        ]


class LiveYard(AsyncShell[Command, Note]):
    """Runs a `YardControl` against a `VehiclePort` on the running asyncio loop (see the module docstring)."""

    def __init__(
        self,
        plant: Plant,
        port: VehiclePort,
        bus: MessageBus,
        *,
        fleet_tick_s: float = 5.0,
        poll_interval: float = 0.02,
        heartbeat: float = 1.0,
    ) -> None:
        super().__init__(poll_interval=poll_interval)
        self.plant = plant
        self.port = port
        self.bus = bus
        self.control = YardControl(plant, bus, self._yard, fleet_tick_s=fleet_tick_s)
        self.heartbeat = heartbeat
        self.notes: list[Note] = []
        self.handled = 0
        self._wake: dict[CoreName, float] = {"fleet": math.inf, "crane": math.inf, "flow": math.inf}
        self._settle = False
        self._last_tick = -math.inf

    @classmethod
    def on_database(
        cls, settings: Settings, plant: Plant, port: VehiclePort, *, fleet_tick_s: float = 5.0
    ) -> LiveYard:
        """The live configuration: the WMS bus on the configured SQL database (`coilyard.bootstrap.wms_bus`)."""
        return cls(plant, port, wms_bus(settings, plant), fleet_tick_s=fleet_tick_s)

    def _yard(self) -> Yard:
        """The WMS read side, fresh from the unit of work."""
        with self.bus.uow as uow:
            return uow.yard

    # ------------------------------------------------------------------------------------- interface

    def now(self) -> float:
        """The WMS bus's clock: the flow compares ledger times (cooling, FIFO) with the `at` it is given."""
        return self.bus.clock.now()

    def yard(self) -> Yard:
        return self._yard()

    async def wait_idle(self, timeout: float) -> None:
        """Wait until no task, crane job or transport order is open; raises TimeoutError."""
        async with asyncio.timeout(timeout):
            while not (self._commands.empty() and self.control.idle()):
                await asyncio.sleep(self.poll_interval)

    # ------------------------------------------------------------------------------------------- loop

    def step(self) -> None:
        """One round: callers' messages, port events, settling, then the ticks that are due."""
        at = self.now()
        control = self.control
        self._take_commands(lambda command: control.handle(command, at), self._apply)
        while True:
            events = self.port.drain()
            for event in events:
                self._handle(event, at)
            if self._settle or control.fleet_dirty:
                self._settle = False
                self._handle(Settle(), at)
            elif not events:
                break
        for core, due in self._wake.items():
            if at >= due:
                self._wake[core] = math.inf
                if core == "fleet":
                    self._last_tick = at
                self._handle(TickCore(core), at)
        if at - self._last_tick >= self.heartbeat:
            self._last_tick = at
            self._handle(TickCore("fleet"), at)
        control.archive(at)

    def _handle(self, message: VehicleEvent | Settle | TickCore, at: float) -> None:
        try:
            self._apply(self.control.handle(message, at))
        except Exception:  # one bad event (or a WMS call that failed) must not stop the yard
            log.exception("yard control could not handle %r", message)

    def _apply(self, effects: list[Any]) -> None:
        self.handled += 1
        for effect in effects:
            if isinstance(effect, PORT_COMMANDS):
                self.port.send(effect)
            elif isinstance(effect, Wake):
                self._wake[effect.core] = min(self._wake[effect.core], effect.at)
            elif isinstance(effect, SettleSoon):
                self._settle = True
            elif isinstance(effect, OrderChanged | CraneJobChanged | TaskChanged | RequestChanged):
                self.notes.append(effect)
                self._notify(effect)
