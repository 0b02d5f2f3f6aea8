"""Yard control: the fleet core, the crane core and the yard flow as one synchronous composite.

`YardControl(plant, wms, yard).handle(message, at) -> effects` is the one routing table between the pure
parts, so the SimPy twin (`simulation/shell.py`) and the live shell (`coilyard/live_yard.py`) run the same
code and differ only in who owns time and I/O. Inside it:

- a vehicle event goes to the core that owns the vehicle (cranes: `CraneCore`; AGVs/RGVs: `FleetCore`);
  a vehicle's `OperationDone` also goes to the flow (lifting and setting down coils);
- the flow's `SubmitOrder` goes to the fleet core and its `SubmitCraneJob` to the crane core;
- their `OrderChanged` (failed or cancelled) and `CraneJobChanged` go back to the flow.

Messages: the vehicle port's events; `CoilArrived`, `IngotStackArrived` and `RetrievalRequested` (the flow's inputs);
`SubmitOrder` and `SubmitCraneJob` from outside the flow (routed as if the flow had made them);
`TickCore(core)` when a `Wake` that core asked for is due; `Settle()` once the events of one instant are
handled (see below).

Effects, in the order they happened: vehicle-port commands (`SendRoute`, `Cancel`, `Pause`, `Resume`,
`SendCraneMove`) for the shell to send; `Wake(core, at)`, one timer per core (the earliest wins, the shell
answers with `TickCore(core)`); `SettleSoon()`, asking for a `Settle()` at the same instant after the
current burst; and notifications for observers, already routed here: `SubmitOrder`, `SubmitCraneJob`
(reported before the core saw them), `OrderChanged`, `CraneJobChanged`, `TaskChanged`, `RequestChanged`.

Why `Settle`: dispatch and allocation react to events, but a fleet `Tick` after every event would be slow
and a tick between two events of one instant could decide on half the news. So an event that a tick could
react to marks the fleet dirty, and the shell sends `Settle()` when it has drained the port; one exception
is a `Progress` someone waits for: the fleet ticks right after it, so a vehicle back from a retreat in the
same batch does not re-take what it freed before the one it made room for. The fleet's own `Wake` is
only a fallback every `fleet_tick_s`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from crane.core import CraneCore, CraneJobChanged, SubmitCraneJob
from crane.places import crane_ids
from crane.yard_flow import (
    CoilArrived,
    IngotStackArrived,
    RequestChanged,
    RetrievalRequested,
    TaskChanged,
    WmsPort,
    YardFlow,
)
from fleet.core import FleetCore, OrderChanged, SubmitOrder, Tick, WakeAt
from fleet.domain.orders import OrderState
from fleet.domain.vehicles import VehicleState
from fleet.ports import (
    Arrived,
    Cancel,
    CraneAt,
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
from wms.domain.yard import Yard

CoreName = Literal["fleet", "crane", "flow"]
ARCHIVE_S = 3600.0  # how often finished transport orders leave the fleet core's book
FLEET_TICK_S = 5.0


@dataclass(frozen=True, slots=True)
class TickCore:
    """Message: the `Wake` that `core` asked for is due."""

    core: CoreName


@dataclass(frozen=True, slots=True)
class Settle:
    """Message: every event of this instant is handled; the fleet ticks if something may have changed."""


@dataclass(frozen=True, slots=True)
class Wake:
    """Effect: send `TickCore(core)` at `at`."""

    core: CoreName
    at: float


@dataclass(frozen=True, slots=True)
class SettleSoon:
    """Effect: send `Settle()` at this same instant, once the current burst of messages is handled."""


Message = (
    VehicleEvent
    | CoilArrived
    | IngotStackArrived
    | RetrievalRequested
    | SubmitOrder
    | SubmitCraneJob
    | TickCore
    | Settle
)
Effect = (
    SendRoute
    | Cancel
    | Pause
    | Resume
    | SendCraneMove
    | Wake
    | SettleSoon
    | SubmitOrder
    | SubmitCraneJob
    | OrderChanged
    | CraneJobChanged
    | TaskChanged
    | RequestChanged
)
PORT_COMMANDS = (SendRoute, Cancel, Pause, Resume, SendCraneMove)
_EVENTS = (Progress, Arrived, OperationDone, StateChanged, EnergyReport, CraneAt)
_EVENT_TYPES = frozenset(_EVENTS)
_QUIET_STATES = (VehicleState.MOVING, VehicleState.LOADING, VehicleState.CHARGING)


def archive_finished_orders(core: FleetCore) -> int:
    """Drop finished orders from the fleet core's order book; returns how many.

    The book keeps every order forever and the dispatcher scans all of them on each tick, so a week of
    orders would make every tick slower. Finished orders are never looked up again (drives and vehicles
    only refer to open ones; the yard flow uses no sequences or dependencies). Their transitions were
    handed out as `OrderChanged` effects when they happened. A workaround until the book keeps an index of
    open orders (reported to the fleet core).
    """
    book = core.book
    done = [oid for oid, order in book.orders.items() if order.state is OrderState.FINISHED]
    for oid in done:
        del book.orders[oid]
    return len(done)


class YardControl:
    """FleetCore + CraneCore + YardFlow behind one `handle(message, at) -> effects` (module docstring)."""

    def __init__(
        self,
        plant: Plant,
        wms: WmsPort,
        yard: Callable[[], Yard],
        *,
        fleet_tick_s: float = FLEET_TICK_S,
        actor: str = "yard-flow",
    ) -> None:
        self.plant = plant
        self.fleet = FleetCore(plant, tick_interval=fleet_tick_s)
        self.cranes = CraneCore(plant)
        self.flow = YardFlow(plant, wms, yard, router=self.fleet.router, actor=actor)
        self.crane_ids = frozenset(crane_ids(plant))
        self.fleet_dirty = False  # something happened that a fleet Tick could react to
        self._archived_at = 0.0
        self._out: list[Any] = []

    # ------------------------------------------------------------------------------------- interface

    def handle(self, message: Message, at: float) -> list[Effect]:
        out: list[Any] = []
        self._out = out
        if type(message) in _EVENT_TYPES:
            self._event(cast(VehicleEvent, message), at)
        elif isinstance(message, TickCore):
            core = message.core
            if core == "fleet":
                self._fleet(self.fleet.handle(Tick(), at), at)
            elif core == "crane":
                self._crane(self.cranes.handle(Tick(), at), at)
            else:
                self._flow(self.flow.handle(Tick(), at), at)
        elif isinstance(message, Settle):
            if self.fleet_dirty:
                self.fleet_dirty = False
                self._fleet(self.fleet.handle(Tick(), at), at)
        elif isinstance(message, CoilArrived | IngotStackArrived | RetrievalRequested):
            self._flow(self.flow.handle(message, at), at)
        elif isinstance(message, SubmitOrder | SubmitCraneJob):
            self._flow([message], at)
        else:
            raise TypeError(f"yard control cannot handle {type(message).__name__}")
        return out

    def archive(self, at: float) -> int:
        """Drop finished orders at most every `ARCHIVE_S` (see `archive_finished_orders`)."""
        if at - self._archived_at < ARCHIVE_S:
            return 0
        self._archived_at = at
        return archive_finished_orders(self.fleet)

    def idle(self) -> bool:
        """No open task, waiting putaway or open request in the flow, no open crane job or transport order."""
        flow = self.flow
        return (
            not flow.tasks
            and not flow.waiting_putaways
            and not flow.requests
            and not self.cranes.open_jobs()
            and all(o.state.terminal for o in self.fleet.book.orders.values())
        )

    # --------------------------------------------------------------------------------------- routing

    def _event(self, event: VehicleEvent, at: float) -> None:
        if event.vehicle in self.crane_ids:
            self._crane(self.cranes.handle(event, at), at)
        else:
            if self._needs_tick(event):
                self.fleet_dirty = True
            self._fleet(self.fleet.handle(event, at), at)
            if isinstance(event, OperationDone):
                self._flow(self.flow.handle(event, at), at)
        if self.fleet_dirty and isinstance(event, Progress):
            self.fleet_dirty = False
            self._fleet(self.fleet.handle(Tick(), at), at)

    def _needs_tick(self, event: VehicleEvent) -> bool:
        """Whether a fleet Tick after this event could change anything. A vehicle that finished, failed,
        recovered or charged may take an order (dispatch); a progress frees resources someone may wait for.
        Starting to move or load, and arriving, change nothing a Tick looks at (the fallback tick still runs)."""
        if isinstance(event, OperationDone | EnergyReport):
            return True
        if isinstance(event, StateChanged):
            return event.state not in _QUIET_STATES
        if isinstance(event, Progress):
            return self._fleet_waits()
        return False

    def _fleet_waits(self) -> bool:
        """Whether a vehicle stands at the end of its released base with more to drive (allocation,
        deadlocks), or waits to be sent on after a retreat."""
        core = self.fleet
        if core.resume or core.hold:
            return True
        traffic = core.traffic
        return any(len(traffic.base_of(v)) == 1 and len(traffic.claim_of(v)) > 1 for v in core.drives)

    def _fleet(self, effects: Iterable[Any], at: float) -> None:
        out = self._out
        for effect in effects:
            if isinstance(effect, OrderChanged):
                out.append(effect)
                if effect.transition.to_state in (OrderState.FAILED, OrderState.CANCELLED):
                    self._flow(self.flow.handle(effect, at), at)
            elif isinstance(effect, WakeAt):
                out.append(Wake("fleet", effect.at))
            else:
                out.append(effect)  # SendRoute, Cancel (Pause, Resume)

    def _crane(self, effects: Iterable[Any], at: float) -> None:
        out = self._out
        for effect in effects:
            if isinstance(effect, CraneJobChanged):
                out.append(effect)
                self._flow(self.flow.handle(effect, at), at)
            elif isinstance(effect, WakeAt):
                out.append(Wake("crane", effect.at))
            elif isinstance(effect, SendCraneMove):
                out.append(effect)
            # SafetyZoneChanged: only for callers that set zones on the crane core directly

    def _flow(self, effects: Iterable[Any], at: float) -> None:
        out = self._out
        queue = deque(effects)
        while queue:
            effect = queue.popleft()
            if isinstance(effect, SubmitOrder):
                out.append(effect)
                self.fleet_dirty = True
                self._fleet(self.fleet.handle(effect, at), at)
            elif isinstance(effect, SubmitCraneJob):
                out.append(effect)
                self._crane(self.cranes.handle(effect, at), at)
            elif isinstance(effect, WakeAt):
                out.append(Wake("flow", effect.at))
            else:
                out.append(effect)  # TaskChanged, RequestChanged
        if self.fleet_dirty:
            out.append(SettleSoon())  # tick the fleet once the current burst is handled
