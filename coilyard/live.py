"""The asyncio shell of the fleet: `FleetCore` on one event loop, fed by a vehicle port.

`LiveFleet(core, port)` is the live counterpart of the SimPy shell. `run()` loops until `stop()`:

1. commands from callers (`submit(SubmitOrder | SubmitSequence | CancelOrder)`, awaited through an asyncio
   queue) are handled in arrival order; a command the core refuses raises in the caller, changes nothing;
2. every `poll_interval` seconds the port is drained and each event handed to `core.handle`;
3. a `Tick` follows whenever something was handled, when a `WakeAt` the core asked for is due, and at least
   every `heartbeat` seconds;
4. effects: `SendRoute`/`Cancel` go to `port.send`, `OrderChanged` is kept in `transitions` (the most recent
   `RECENT_TRANSITIONS`; the full record is what subscribers, the event bus and the audit keep) and pushed to
   every `subscribe()` queue, `WakeAt` sets the next tick.

Times are the loop's clock (`now()`, monotonic seconds, the same clock `Vda5050Port` stamps events with).
Everything runs on the loop's thread: the core is never touched concurrently. `vehicles()` and `orders()`
return read-only snapshots for the API and the UI.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from dataclasses import dataclass

from coilyard.async_shell import AsyncShell
from fleet.core import (
    CancelOrder,
    Effect,
    FleetCore,
    OrderChanged,
    SubmitOrder,
    SubmitSequence,
    Tick,
    WakeAt,
)
from fleet.domain.orders import OrderState, OrderTransition
from fleet.domain.vehicles import VehicleState
from fleet.ports import Cancel, SendRoute, VehiclePort

log = logging.getLogger("coilyard.live")
# A long-running service keeps only a window of transitions in memory: an unbounded list grows forever and
# every full garbage collection walks it.
RECENT_TRANSITIONS = 10_000

Command = SubmitOrder | SubmitSequence | CancelOrder


@dataclass(frozen=True, slots=True)
class VehicleView:
    id: str
    state: VehicleState
    node: str | None  # None while between nodes
    order: str | None
    energy: float | None  # kWh left
    load: str | None  # unit carried (None: empty or anonymous)


@dataclass(frozen=True, slots=True)
class OrderView:
    id: str
    state: OrderState
    vehicle: str | None
    done: int  # destinations completed
    destinations: int


class LiveFleet(AsyncShell[Command, OrderTransition]):
    """Runs a `FleetCore` against a `VehiclePort` on the running asyncio loop (see the module docstring)."""

    def __init__(
        self, core: FleetCore, port: VehiclePort, *, poll_interval: float = 0.02, heartbeat: float = 1.0
    ) -> None:
        super().__init__(poll_interval=poll_interval)
        self.core = core
        self.port = port
        self.heartbeat = heartbeat
        self.transitions: deque[OrderTransition] = deque(maxlen=RECENT_TRANSITIONS)
        self.handled = 0
        self._wake = math.inf
        self._last_tick = -math.inf

    # ------------------------------------------------------------------------------------- interface

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def vehicles(self) -> dict[str, VehicleView]:
        return {
            vid: VehicleView(
                id=vid,
                state=v.state,
                node=v.node,
                order=v.order,
                energy=v.energy,
                load=v.load.unit if v.load is not None else None,
            )
            for vid, v in sorted(self.core.vehicles.items())
        }

    def orders(self) -> dict[str, OrderView]:
        return {
            oid: OrderView(
                id=oid,
                state=o.state,
                vehicle=o.vehicle,
                done=o.done,
                destinations=len(o.spec.destinations),
            )
            for oid, o in sorted(self.core.book.orders.items())
        }

    async def wait_for(self, order: str, timeout: float) -> OrderState:
        """Wait until `order` is terminal (finished, failed, cancelled); raises TimeoutError."""
        async with asyncio.timeout(timeout):
            while True:
                state = self.core.book[order].state
                if state.terminal:
                    return state
                await asyncio.sleep(self.poll_interval)

    # ------------------------------------------------------------------------------------------- loop

    def step(self) -> None:
        """One round: commands, port events, then a tick if one is due."""
        at = self.now()
        busy = self._take_commands(lambda command: self.core.handle(command, at), self._apply)
        for event in self.port.drain():
            busy = True
            try:
                self._apply(self.core.handle(event, at))
            except Exception:  # one bad event must not stop the fleet
                log.exception("fleet core could not handle %r", event)
        if busy or at >= self._wake or at - self._last_tick >= self.heartbeat:
            self._wake = math.inf
            self._last_tick = at
            self._apply(self.core.handle(Tick(), at))

    def _apply(self, effects: list[Effect]) -> None:
        self.handled += 1
        for effect in effects:
            if isinstance(effect, SendRoute | Cancel):
                self.port.send(effect)
            elif isinstance(effect, OrderChanged):
                self.transitions.append(effect.transition)
                self._notify(effect.transition)
            elif isinstance(effect, WakeAt):
                self._wake = min(self._wake, effect.at)
